//! File names: heapdump's `heapdump-<ms>.<ns>.heapsnapshot`, the sortable
//! `heapsnap-<YYYYMMDD>T<HHMMSS>-<pid>-<seq>.heapsnapshot[.gz]`, and temporary names.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static SEQ: AtomicU64 = AtomicU64::new(0);
static LAST_HRTIME: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds on the monotonic clock (what `uv_hrtime` reads), strictly increasing across
/// calls in this process so that two names made in the same nanosecond still differ.
pub fn unique_hrtime() -> u64 {
    let now = monotonic_ns();
    let mut last = LAST_HRTIME.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_HRTIME.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[cfg(unix)]
fn monotonic_ns() -> u64 {
    crate::sys::os::monotonic_ns()
}

#[cfg(not(unix))]
fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// heapdump 0.3.15's default name: `heapdump-<ms>.<ns remainder>.heapsnapshot`.
pub fn heapdump_name(hrtime_ns: u64) -> String {
    format!(
        "heapdump-{}.{}.heapsnapshot",
        hrtime_ns / 1_000_000,
        hrtime_ns % 1_000_000
    )
}

/// The next per-process sequence number (shared by every thread, so names made by workers of
/// one process never collide).
pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed) + 1
}

/// `heapsnap-<YYYYMMDD>T<HHMMSS>-<pid>-<seq>.heapsnapshot[.gz]`, the time in UTC so that names
/// sort by time whatever the host's zone.
pub fn modern_name(unix_secs: i64, pid: u32, seq: u64, gzip: bool) -> String {
    let t = Utc::from_unix(unix_secs);
    format!(
        "heapsnap-{:04}{:02}{:02}T{:02}{:02}{:02}-{pid}-{seq}.heapsnapshot{}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        if gzip { ".gz" } else { "" }
    )
}

/// The temporary name beside `final_path`: `<final>.<pid>-<random hex>.tmp`. The pid lets a
/// later dump recognise tmp files of processes that no longer exist.
pub fn tmp_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!(".{}-{:016x}.tmp", std::process::id(), random_u64()));
    PathBuf::from(name)
}

/// The JS engine's raw snapshot beside `final_path`: `<final>.<pid>-<random hex>.raw.tmp`
/// (written by `v8.writeHeapSnapshot`, then compressed into the final file and removed).
pub fn raw_tmp_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!(
        ".{}-{:016x}.raw.tmp",
        std::process::id(),
        random_u64()
    ));
    PathBuf::from(name)
}

/// The sortable default name for a dump made now by this process (see [`modern_name`]).
pub fn generated_name(gzip: bool) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    modern_name(secs, std::process::id(), next_seq(), gzip)
}

/// The pid in a tmp name this module made (`<final>.<pid>-<16 hex>.tmp` or, from the JS engine,
/// `<final>.<pid>-<16 hex>.raw.tmp`), if `name` is one.
pub fn tmp_owner(name: &str) -> Option<u32> {
    let stem = name
        .strip_suffix(".raw.tmp")
        .or_else(|| name.strip_suffix(".tmp"))?;
    let (rest, hex) = stem.rsplit_once('-')?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (final_name, pid) = rest.rsplit_once('.')?;
    if !final_name.contains(".heapsnapshot") && !final_name.ends_with(".json") {
        return None;
    }
    pid.parse().ok()
}

/// The sidecar's name: `<snapshot file>.json`.
pub fn sidecar_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

fn random_u64() -> u64 {
    // RandomState is seeded from the OS's random source; mixing in the clock and a counter
    // makes successive values differ even though the keys are reused.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(unique_hrtime());
    h.write_u64(next_tmp_counter());
    h.finish()
}

fn next_tmp_counter() -> u64 {
    static TMP: AtomicU64 = AtomicU64::new(0);
    TMP.fetch_add(1, Ordering::Relaxed)
}

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    /// Converts seconds since the Unix epoch (civil-from-days, proleptic Gregorian).
    pub fn from_unix(secs: i64) -> Utc {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }
}

/// `2026-11-22T23:41:15.123Z`, as JavaScript's `Date.prototype.toISOString`.
pub fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let u = Utc::from_unix(d.as_secs() as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn heapdump_name_splits_ms_and_ns() {
        assert_eq!(
            heapdump_name(1_234_567_890_123),
            "heapdump-1234567.890123.heapsnapshot"
        );
    }

    #[test]
    fn hrtime_is_strictly_increasing() {
        let a = unique_hrtime();
        let b = unique_hrtime();
        assert!(b > a);
    }

    #[test]
    fn modern_name_is_sortable_utc() {
        // 2026-11-22T23:41:15Z
        assert_eq!(
            modern_name(1_795_390_875, 42, 7, true),
            "heapsnap-20261122T234115-42-7.heapsnapshot.gz"
        );
        assert_eq!(
            modern_name(0, 1, 1, false),
            "heapsnap-19700101T000000-1-1.heapsnapshot"
        );
    }

    #[test]
    fn utc_handles_leap_days() {
        let u = Utc::from_unix(951_782_400); // 2000-02-29T00:00:00Z
        assert_eq!((u.year, u.month, u.day), (2000, 2, 29));
    }

    #[test]
    fn iso_matches_javascript() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_390_875_123);
        assert_eq!(iso8601(t), "2026-11-22T23:41:15.123Z");
    }

    #[test]
    fn tmp_owner_recognises_only_our_tmp_names() {
        let tmp = tmp_path(Path::new("/d/x.heapsnapshot.gz"));
        let name = tmp.file_name().unwrap().to_str().unwrap();
        assert_eq!(tmp_owner(name), Some(std::process::id()));
        assert_eq!(
            tmp_owner("a.heapsnapshot.123-0123456789abcdef.raw.tmp"),
            Some(123)
        );
        assert_eq!(
            tmp_owner("a.heapsnapshot.json.9-0123456789abcdef.tmp"),
            Some(9)
        );
        assert_eq!(tmp_owner("a.heapsnapshot.123-0123.tmp"), None);
        assert_eq!(tmp_owner("notes.123-0123456789abcdef.tmp"), None);
        assert_eq!(tmp_owner("a.heapsnapshot"), None);
    }

    #[test]
    fn tmp_and_sidecar_names_sit_beside_the_final_file() {
        let tmp = tmp_path(Path::new("/d/x.heapsnapshot"));
        let s = tmp.to_str().unwrap();
        assert!(s.starts_with(&format!("/d/x.heapsnapshot.{}-", std::process::id())));
        assert!(s.ends_with(".tmp"));
        assert_ne!(tmp, tmp_path(Path::new("/d/x.heapsnapshot")));
        assert_eq!(
            sidecar_path(Path::new("/d/x.heapsnapshot.gz")),
            PathBuf::from("/d/x.heapsnapshot.gz.json")
        );
    }
}
