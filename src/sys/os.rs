//! Safe wrappers of single libc calls that the pure-Rust core needs.

use std::ffi::CStr;

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds.
#[cfg(unix)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// `kill(pid, 0)`: `Ok` if a signal could be sent to `pid` (it exists and we may signal it),
/// else the OS error (`ESRCH` when no such process exists).
#[cfg(unix)]
pub fn probe_process(pid: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: kill with signal 0 sends nothing; it only checks whether the process exists and
    // may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `strerror(errno)`, copied into an owned string.
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a NUL-terminated static or thread-local string that
    // stays valid until the next strerror call on this thread; it is copied at once.
    unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// `sysconf(_SC_PAGESIZE)`: the page size in bytes, `None` if the OS does not say.
#[cfg(unix)]
pub fn page_size() -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_wrappers_answer() {
        assert!(monotonic_ns() > 0);
        assert!(probe_process(std::process::id() as libc::pid_t).is_ok());
        assert!(!strerror(libc::ENOENT).is_empty());
        assert!(page_size().is_some_and(|p| p >= 4096));
    }
}
