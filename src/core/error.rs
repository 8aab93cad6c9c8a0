//! Errors that carry what Node users expect on a failed file operation: `code`, `errno`,
//! `syscall`, `path` and a message in Node's own style (`ENOENT: no such file or directory,
//! open '/x'`).

use std::fmt;
use std::io;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapError {
    /// `ENOENT`, `EFBIG`, … or one of this module's own codes (`ERR_HEAPSNAP_ABORTED`).
    pub code: String,
    /// The positive OS errno, 0 when the error does not come from the OS.
    pub errno: i32,
    pub syscall: String,
    pub path: String,
    pub message: String,
    /// `ERR_HEAPSNAP_NO_HEADROOM`: what the dump needed and what was available.
    pub headroom: Option<Box<Refusal>>,
}

/// Why a dump was not taken: it would not have fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub needed: u64,
    pub available: u64,
    /// `cgroup2`, `cgroup1`, `meminfo` or `rlimit`.
    pub limit_source: &'static str,
}

impl SnapError {
    /// An error from a failed system call on `path`.
    pub fn io(err: &io::Error, syscall: &str, path: &Path) -> Self {
        let path = path.display().to_string();
        #[cfg(unix)]
        if let Some(errno) = err.raw_os_error() {
            return Self::os(errno, syscall, &path);
        }
        // Elsewhere (Windows) OS codes are not errnos: name the error by its kind.
        let code = kind_code(err.kind());
        SnapError {
            message: format!("{code}: {err}, {syscall} '{path}'"),
            code: code.into(),
            errno: 0,
            syscall: syscall.into(),
            path,
            headroom: None,
        }
    }

    /// An error for an OS errno, as Node formats it.
    pub fn os(errno: i32, syscall: &str, path: &str) -> Self {
        let code = errno_name(errno);
        SnapError {
            message: format!("{code}: {}, {syscall} '{path}'", describe(errno)),
            code,
            errno,
            syscall: syscall.into(),
            path: path.into(),
            headroom: None,
        }
    }

    /// An error that is not an OS error (the code names it, e.g. `ERR_HEAPSNAP_ABORTED`).
    pub fn other(code: &str, syscall: &str, path: &Path, message: impl Into<String>) -> Self {
        SnapError {
            code: code.into(),
            errno: 0,
            syscall: syscall.into(),
            path: path.display().to_string(),
            message: message.into(),
            headroom: None,
        }
    }

    /// `ERR_HEAPSNAP_NO_HEADROOM`: the dump was not taken (or stopped before V8 allocated the
    /// rest) because it would not fit in the memory left.
    pub fn no_headroom(path: &Path, r: Refusal) -> Self {
        let mib = |b: u64| b.div_ceil(1 << 20);
        let message = format!(
            "heapsnap: not enough memory for a heap snapshot: it needs about {} MiB, {} MiB is available ({} limit); nothing was written",
            mib(r.needed),
            mib(r.available),
            r.limit_source
        );
        SnapError {
            headroom: Some(Box::new(r)),
            ..SnapError::other("ERR_HEAPSNAP_NO_HEADROOM", "snapshot", path, message)
        }
    }
}

impl fmt::Display for SnapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SnapError {}

/// The errno name of an error kind, where the OS code is not an errno.
fn kind_code(kind: io::ErrorKind) -> &'static str {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => "ENOENT",
        K::PermissionDenied => "EACCES",
        K::AlreadyExists => "EEXIST",
        K::IsADirectory => "EISDIR",
        K::NotADirectory => "ENOTDIR",
        K::StorageFull => "ENOSPC",
        K::FileTooLarge => "EFBIG",
        K::InvalidFilename => "ENAMETOOLONG",
        K::ReadOnlyFilesystem => "EROFS",
        K::Interrupted => "EINTR",
        K::OutOfMemory => "ENOMEM",
        K::Unsupported => "ENOTSUP",
        _ => "EINVAL",
    }
}

/// The symbolic name of an errno (`ENOENT`), as `uv_err_name` gives it.
#[cfg(unix)]
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::EDQUOT => "EDQUOT",
        libc::EINTR => "EINTR",
        libc::ECANCELED => "ECANCELED",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSUP => "ENOTSUP",
        _ => return format!("UNKNOWN_ERRNO_{errno}"),
    };
    name.to_string()
}

/// The symbolic name of an errno (only the portable ones exist off unix).
#[cfg(not(unix))]
pub fn errno_name(errno: i32) -> String {
    match errno {
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::EISDIR => "EISDIR".into(),
        libc::ENOTDIR => "ENOTDIR".into(),
        libc::ENOSPC => "ENOSPC".into(),
        libc::EFBIG => "EFBIG".into(),
        libc::EINVAL => "EINVAL".into(),
        _ => format!("UNKNOWN_ERRNO_{errno}"),
    }
}

/// The OS's description of an errno, lower-cased at the start as libuv prints it.
fn describe(errno: i32) -> String {
    let text = crate::sys::os::strerror(errno);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    use super::*;

    #[test]
    #[cfg(unix)]
    fn io_errors_carry_node_style_fields() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        let e = SnapError::io(&err, "open", Path::new("/does/not/exist"));
        assert_eq!(e.code, "ENOENT");
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(e.syscall, "open");
        assert_eq!(e.path, "/does/not/exist");
        assert_eq!(
            e.message,
            "ENOENT: no such file or directory, open '/does/not/exist'"
        );
    }

    #[test]
    #[cfg(unix)]
    fn unknown_errno_is_named_not_dropped() {
        assert_eq!(errno_name(100_000), "UNKNOWN_ERRNO_100000");
        assert_eq!(errno_name(libc::EFBIG), "EFBIG");
    }
}
