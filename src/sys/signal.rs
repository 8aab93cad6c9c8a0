//! Signal-triggered dumps, the OS side. Knows nothing of V8 or Node: it counts signals and wakes
//! a watcher thread that calls the function the binding layer registered.
//!
//! The raw handler ([`install`]) does only async-signal-safe work, and nothing else:
//!
//! - `atomic fetch_add` on [`REQUESTED`] (lock-free),
//! - `clock_gettime(CLOCK_REALTIME)` for the arrival time,
//! - `write(2)` of one byte to a non-blocking pipe (a full pipe just drops the byte),
//! - a read and restore of `errno`,
//! - a call of the handler that was installed before ours (libuv's, itself async-signal-safe),
//!   so `process.on(signal)` listeners still fire.
//!
//! The watcher thread blocks in `read(2)` on the pipe and, for each wake-up, calls the
//! registered function (which asks Node to interrupt the JS thread). Signals that arrive while
//! a request is pending coalesce: the counter, not the number of bytes, decides.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

#[cfg(unix)]
pub use imp::*;
#[cfg(not(unix))]
pub use unsupported::*;

/// Signals received by our handler since the process started.
pub static REQUESTED: AtomicU64 = AtomicU64::new(0);
/// Wall-clock time (ns since the Unix epoch) of the last signal our handler received.
pub static LAST_SIGNAL_NS: AtomicU64 = AtomicU64::new(0);

static WAKE: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

/// Registers what the watcher thread calls after a signal (once per process).
pub fn set_wake(f: Box<dyn Fn() + Send + Sync>) {
    let _ = WAKE.set(f);
}

/// Without POSIX signals (Windows) nothing can be installed.
#[cfg(not(unix))]
mod unsupported {
    pub fn install(_signum: i32) -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
    pub fn uninstall() -> bool {
        false
    }
    pub fn installed_signal() -> Option<i32> {
        None
    }
    pub fn handler_is_ours(_signum: i32) -> bool {
        false
    }
}

#[cfg(unix)]
mod imp {
    use super::{LAST_SIGNAL_NS, REQUESTED, WAKE};
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::{Mutex, OnceLock};

    static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
    static INSTALLED_SIGNUM: AtomicI32 = AtomicI32::new(0);
    /// Set while PREVIOUS is being written: the handler must not chain to it then.
    static PREVIOUS_READY: AtomicBool = AtomicBool::new(false);

    /// The action that was installed before ours. Written only by [`install`]/[`uninstall`] while
    /// holding [`STATE`], with `PREVIOUS_READY` cleared; read by the handler only when it is set.
    struct Previous(UnsafeCell<libc::sigaction>);
    // SAFETY: the access protocol above: the only writers hold STATE with PREVIOUS_READY
    // cleared, and the handler reads only while it is set, so no read overlaps a write.
    unsafe impl Sync for Previous {}
    static PREVIOUS: Previous = Previous(UnsafeCell::new(
        // SAFETY: sigaction is a plain C struct for which all-zero bytes are a valid value
        // (SIG_DFL, no flags, an empty mask).
        unsafe { std::mem::zeroed() },
    ));

    static STATE: Mutex<()> = Mutex::new(());

    extern "C" fn on_signal(
        signum: libc::c_int,
        info: *mut libc::siginfo_t,
        uctx: *mut libc::c_void,
    ) {
        // SAFETY: __errno_location (Linux) / __error (macOS) return this thread's errno slot; it is
        // saved and restored so the interrupted code never sees our write's errno.
        let saved_errno = unsafe { *errno_ptr() };
        REQUESTED.fetch_add(1, Ordering::SeqCst);
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime is async-signal-safe and writes only `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        LAST_SIGNAL_NS.store(
            (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64,
            Ordering::SeqCst,
        );
        let fd = PIPE_WRITE.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: write(2) is async-signal-safe; the fd is non-blocking, so a full pipe fails
            // with EAGAIN instead of blocking (the watcher is awake anyway then).
            unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
        }
        if PREVIOUS_READY.load(Ordering::SeqCst) {
            // SAFETY: PREVIOUS is not written while PREVIOUS_READY is set (see `Previous`).
            let prev = unsafe { &*PREVIOUS.0.get() };
            chain(prev, signum, info, uctx);
        }
        // SAFETY: as above.
        unsafe { *errno_ptr() = saved_errno };
    }

    /// Calls the previous action's handler, unless it is SIG_DFL (the default action would kill
    /// the process: that is exactly what we are replacing) or SIG_IGN.
    fn chain(
        prev: &libc::sigaction,
        signum: libc::c_int,
        info: *mut libc::siginfo_t,
        uctx: *mut libc::c_void,
    ) {
        let handler = prev.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            return;
        }
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: an SA_SIGINFO handler has the three-argument signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            f(signum, info, uctx);
        } else {
            // SAFETY: a plain handler takes the signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            f(signum);
        }
    }

    #[cfg(target_os = "linux")]
    // SAFETY: no requirement on callers; the returned pointer is valid on the calling thread
    // only, which is what the callers (the signal handler) dereference it on.
    unsafe fn errno_ptr() -> *mut libc::c_int {
        // SAFETY: __errno_location has no preconditions and returns this thread's errno slot.
        unsafe { libc::__errno_location() }
    }
    #[cfg(target_os = "macos")]
    // SAFETY: no requirement on callers; the returned pointer is valid on the calling thread
    // only, which is what the callers (the signal handler) dereference it on.
    unsafe fn errno_ptr() -> *mut libc::c_int {
        // SAFETY: __error has no preconditions and returns this thread's errno slot.
        unsafe { libc::__error() }
    }

    /// Creates the pipe and the watcher thread, once per process.
    fn ensure_watcher() -> std::io::Result<()> {
        static STARTED: OnceLock<Result<(), i32>> = OnceLock::new();
        let r = STARTED.get_or_init(|| {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: pipe writes two fds into the array.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
            }
            let (read_fd, write_fd) = (fds[0], fds[1]);
            // SAFETY: fcntl on the two fds we just created.
            unsafe {
                libc::fcntl(read_fd, libc::F_SETFD, libc::FD_CLOEXEC);
                libc::fcntl(write_fd, libc::F_SETFD, libc::FD_CLOEXEC);
                let fl = libc::fcntl(write_fd, libc::F_GETFL);
                libc::fcntl(write_fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            PIPE_WRITE.store(write_fd, Ordering::SeqCst);
            std::thread::Builder::new()
                .name("heapsnap-signal".into())
                .spawn(move || watch(read_fd))
                .map(|_| ())
                .map_err(|e| e.raw_os_error().unwrap_or(0))
        });
        r.map_err(std::io::Error::from_raw_os_error)
    }

    fn watch(read_fd: libc::c_int) {
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: read into our own buffer from the pipe we own.
            let n =
                unsafe { libc::read(read_fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n > 0 {
                if let Some(wake) = WAKE.get() {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(wake));
                }
            } else if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            } else {
                return; // the write end is never closed; this is unreachable in practice
            }
        }
    }

    /// Installs our handler for `signum` over whatever is installed now (keeping that to chain
    /// to). Replaces our handler for another signal if one is installed.
    pub fn install(signum: i32) -> std::io::Result<()> {
        let _guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
        ensure_watcher()?;
        uninstall_locked();
        // SAFETY: a zeroed sigaction is valid; sigfillset initialises the mask; we query the
        // current action into PREVIOUS while PREVIOUS_READY is clear, then install ours.
        unsafe {
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_signal as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
            // Every signal is blocked while ours runs, as libuv blocks them for its own
            // handlers: the previous handler we chain to is often libuv's, which takes a lock
            // that its handler for another signal takes too. A SIGCHLD arriving in the middle
            // of the chained call (a child process exiting) would otherwise wait for that lock
            // on the same thread, forever.
            libc::sigfillset(&mut ours.sa_mask);
            let prev = PREVIOUS.0.get();
            if libc::sigaction(signum, std::ptr::null(), prev) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            PREVIOUS_READY.store(true, Ordering::SeqCst);
            if libc::sigaction(signum, &ours, std::ptr::null_mut()) != 0 {
                PREVIOUS_READY.store(false, Ordering::SeqCst);
                return Err(std::io::Error::last_os_error());
            }
        }
        INSTALLED_SIGNUM.store(signum, Ordering::SeqCst);
        Ok(())
    }

    /// Restores the action that was installed before ours. Returns whether ours was installed.
    pub fn uninstall() -> bool {
        let _guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
        uninstall_locked()
    }

    fn uninstall_locked() -> bool {
        let signum = INSTALLED_SIGNUM.swap(0, Ordering::SeqCst);
        if signum == 0 {
            return false;
        }
        // SAFETY: restores the saved action; only if ours is still the installed one (someone who
        // replaced ours since then keeps theirs).
        unsafe {
            if handler_is_ours(signum) {
                libc::sigaction(signum, PREVIOUS.0.get(), std::ptr::null_mut());
            }
        }
        PREVIOUS_READY.store(false, Ordering::SeqCst);
        true
    }

    /// The signal our handler is installed for, if any.
    pub fn installed_signal() -> Option<i32> {
        match INSTALLED_SIGNUM.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Whether the action installed for `signum` right now is our handler (nobody replaced it).
    pub fn handler_is_ours(signum: i32) -> bool {
        // SAFETY: sigaction with a null new action only queries.
        unsafe {
            let mut cur: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signum, std::ptr::null(), &mut cur) == 0
                && cur.sa_sigaction == on_signal as *const () as usize
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::set_wake;
        use super::*;
        use std::sync::atomic::AtomicU64;
        use std::sync::mpsc;
        use std::time::Duration;

        #[test]
        fn a_signal_wakes_the_watcher_and_chains_to_the_previous_handler() {
            static CHAINED: AtomicU64 = AtomicU64::new(0);
            extern "C" fn previous(_: libc::c_int) {
                CHAINED.fetch_add(1, Ordering::SeqCst);
            }
            let (tx, rx) = mpsc::channel();
            let tx = Mutex::new(tx);
            set_wake(Box::new(move || {
                let _ = tx.lock().unwrap().send(());
            }));
            // SAFETY: installs a plain test handler for SIGWINCH (harmless, ignored by default).
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = previous as *const () as usize;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(libc::SIGWINCH, &act, std::ptr::null_mut());
            }
            install(libc::SIGWINCH).unwrap();
            assert!(handler_is_ours(libc::SIGWINCH));
            // SAFETY: sigaction with a null new action only queries; sigismember reads the mask.
            let blocks_sigchld = unsafe {
                let mut cur: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGWINCH, std::ptr::null(), &mut cur);
                libc::sigismember(&cur.sa_mask, libc::SIGCHLD) == 1
            };
            assert!(
                blocks_sigchld,
                "other signals wait while the handler and the one it chains to run"
            );
            let before = REQUESTED.load(Ordering::SeqCst);
            // SAFETY: raise delivers SIGWINCH to this thread synchronously.
            unsafe { libc::raise(libc::SIGWINCH) };
            rx.recv_timeout(Duration::from_secs(5))
                .expect("the watcher woke");
            assert_eq!(REQUESTED.load(Ordering::SeqCst), before + 1);
            assert_eq!(
                CHAINED.load(Ordering::SeqCst),
                1,
                "the previous handler still ran"
            );
            assert!(LAST_SIGNAL_NS.load(Ordering::SeqCst) > 0);
            assert!(uninstall());
            assert!(
                !handler_is_ours(libc::SIGWINCH),
                "the previous action is back"
            );
            assert!(!uninstall(), "a second uninstall is a no-op");
        }
    }
}
