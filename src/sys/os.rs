//! Safe wrappers of single libc calls, and of the CPU instructions (prefetch, SSE2 byte masks),
//! that the pure-Rust core needs.

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

/// glibc's `malloc_trim(0)`: gives the free memory at the top of the heap and in the free lists
/// of every arena back to the OS. Looked up at run time, so builds for musl (which has no such
/// function) still load; `false` when it is not there.
#[cfg(unix)]
pub fn malloc_trim() -> bool {
    use std::sync::OnceLock;
    type TrimFn = unsafe extern "C" fn(pad: libc::size_t) -> libc::c_int;
    static TRIM: OnceLock<Option<TrimFn>> = OnceLock::new();
    let trim = TRIM.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT only searches the global symbol scope for a
        // NUL-terminated name; it does not call the symbol.
        let addr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"malloc_trim".as_ptr()) };
        // SAFETY: when present, the symbol is glibc's `int malloc_trim(size_t pad)`, which is
        // what TrimFn declares.
        (!addr.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, TrimFn>(addr) })
    });
    match trim {
        // SAFETY: malloc_trim takes the allocator's own locks; it is safe from any thread.
        Some(f) => (unsafe { f(0) }) >= 0,
        None => false,
    }
}

#[cfg(not(unix))]
pub fn malloc_trim() -> bool {
    false
}

/// The pages of this process's memory a `Vec`'s allocation covers: its whole capacity,
/// rounded inwards to whole pages (empty when it covers no whole page).
#[derive(Clone, Copy, Debug, Default)]
pub struct Pages {
    // Read only by the Linux calls below.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    begin: usize,
    len: usize,
}

impl Pages {
    pub fn of<T>(v: &Vec<T>) -> Pages {
        const PAGE: usize = 4096;
        let start = v.as_ptr() as usize;
        let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
        let begin = start.next_multiple_of(PAGE);
        let end = start.saturating_add(bytes) / PAGE * PAGE;
        Pages {
            begin,
            len: end.saturating_sub(begin),
        }
    }

    pub fn bytes(&self) -> usize {
        self.len
    }

    /// The same pages, in consecutive runs of at most `size` bytes (a multiple of the page).
    pub fn slices(self, size: usize) -> impl Iterator<Item = Pages> {
        let size = size.max(4096);
        (0..self.len).step_by(size).map(move |at| Pages {
            begin: self.begin + at,
            len: size.min(self.len - at),
        })
    }
}

/// `madvise(MADV_HUGEPAGE)` on the allocation of `v`: asks Linux to back it with transparent
/// huge pages where the system allows them (`/sys/kernel/mm/transparent_hugepage/enabled` set
/// to `madvise` or `always`), so that random reads over a large array miss the TLB far less
/// often and filling it takes far fewer page faults. Best effort: errors are ignored; nothing
/// on other systems.
#[cfg(target_os = "linux")]
pub fn advise_huge_pages<T>(v: &Vec<T>) {
    let p = Pages::of(v);
    if p.len == 0 {
        return;
    }
    // SAFETY: MADV_HUGEPAGE only changes how the kernel backs pages of a range of this
    // process's own mapped memory (inside the Vec's allocation); it does not read, write,
    // move or unmap them, and a failure leaves everything as it was.
    unsafe { libc::madvise(p.begin as *mut libc::c_void, p.len, libc::MADV_HUGEPAGE) };
}

#[cfg(not(target_os = "linux"))]
#[allow(clippy::ptr_arg)] // the same signature as on Linux, which reads the capacity
pub fn advise_huge_pages<T>(_v: &Vec<T>) {}

/// `madvise(MADV_POPULATE_WRITE)` (Linux 5.14 and later): the kernel faults in `pages` as the
/// first write to each would (allocating and zeroing them), without writing to them, so that
/// whoever fills them later finds them mapped. Best effort: errors (an older kernel's EINVAL,
/// ENOMEM for a range no longer mapped) are ignored; nothing on other systems.
#[cfg(target_os = "linux")]
pub fn populate_write(pages: Pages) {
    if pages.len == 0 {
        return;
    }
    // SAFETY: MADV_POPULATE_WRITE never changes the contents of memory: it only makes the
    // kernel map the pages of the range writable, as a write fault would (zeroing pages never
    // touched, copying shared ones such as the zero page, with the same contents). It is
    // therefore harmless even when another thread is writing to the range, or when the range
    // has been freed (ENOMEM) or reused meanwhile.
    unsafe {
        libc::madvise(
            pages.begin as *mut libc::c_void,
            pages.len,
            libc::MADV_POPULATE_WRITE,
        )
    };
}

#[cfg(not(target_os = "linux"))]
pub fn populate_write(_pages: Pages) {}

/// Lowers the calling thread's scheduling priority to the lowest (`SCHED_IDLE`): it then runs
/// only on a core nothing else of the machine wants, so work done ahead (faulting pages in)
/// never takes a core from the threads the result waits for. Best effort: nothing on error or
/// on other systems.
#[cfg(target_os = "linux")]
pub fn idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, initialized sched_param that outlives the call; pid 0 is the
    // calling thread (Linux schedules threads), and SCHED_IDLE with priority 0 needs no
    // privilege. The call changes only how this thread is scheduled.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
}

#[cfg(not(target_os = "linux"))]
pub fn idle_priority() {}

/// A hint that `slice[i]` will be read soon: the CPU starts loading its cache line without
/// waiting (`prefetcht0`), so that a loop reading an array at random, at addresses it knows a
/// few steps ahead, overlaps the memory latency of those reads. Out of range does nothing.
#[inline(always)]
pub fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if i < slice.len() {
        // SAFETY: `i` is in bounds, so the pointer is into the slice; a prefetch is only a hint
        // (it never faults and changes no memory), and SSE, which has it, is in every x86_64.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                slice.as_ptr().add(i).cast::<i8>(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}

/// Two bit masks of 64 bytes, bit `k` for `bytes[k]`: where they are ASCII digits, and where
/// they are digits, ',' or '\n' (the bytes of V8's integer arrays); SSE2 looks at 16 bytes an
/// instruction. (Other CPUs: `analyze::parse` computes them in `u64` words.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn digit_masks(bytes: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    let (mut digits, mut known) = (0u64, 0u64);
    for k in 0..4 {
        // SAFETY: the 16 bytes from `16 * k` are inside the 64-byte array, and an unaligned
        // load needs no alignment; the other intrinsics only compute on registers. All are
        // SSE2, which every x86_64 CPU has.
        let (d, ok) = unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr().add(16 * k).cast());
            // A digit is a byte whose distance above '0' (unsigned, wrapping) is at most 9.
            let x = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
            let d = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(9)), x);
            let comma = _mm_cmpeq_epi8(v, _mm_set1_epi8(b',' as i8));
            let newline = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
            let ok = _mm_or_si128(d, _mm_or_si128(comma, newline));
            (_mm_movemask_epi8(d), _mm_movemask_epi8(ok))
        };
        digits |= u64::from(d as u16) << (16 * k);
        known |= u64::from(ok as u16) << (16 * k);
    }
    (digits, known)
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
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(malloc_trim(), "glibc has malloc_trim");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn digit_masks_mark_digits_and_separators_at_every_position() {
        for b in 0..=u8::MAX {
            for k in [0, 1, 15, 16, 17, 31, 32, 47, 48, 63] {
                // Every other byte a digit, a comma or a newline: each bit of the masks is
                // checked against its own byte.
                let mut bytes = [0u8; 64];
                for (j, x) in bytes.iter_mut().enumerate() {
                    *x = [b'7', b',', b'\n', b'0', b'9'][j % 5];
                }
                bytes[k] = b;
                let (digits, known) = digit_masks(&bytes);
                for (j, &x) in bytes.iter().enumerate() {
                    let digit = x.is_ascii_digit();
                    assert_eq!(digits >> j & 1 == 1, digit, "byte {x} at {j}");
                    let ok = digit || x == b',' || x == b'\n';
                    assert_eq!(known >> j & 1 == 1, ok, "byte {x} at {j}");
                }
            }
        }
    }

    #[test]
    fn a_prefetch_changes_nothing_and_ignores_an_index_out_of_range() {
        let v: Vec<u32> = (0..1000).collect();
        for i in [0, 999, 1000, usize::MAX] {
            prefetch(&v, i);
        }
        prefetch::<u64>(&[], 0);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    }
}
