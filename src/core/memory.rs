//! How much memory a dump may use before the kernel (or the C library) says no, and how much a
//! dump will need. Pure Rust over the text files Linux exposes: cgroup v2 and v1 limits (walking
//! up the hierarchy), `MemAvailable`, and the address-space and data rlimits. Elsewhere nothing
//! is known and every dump is allowed.

use std::path::{Path, PathBuf};

/// Where the tightest limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// cgroup v2 `memory.max − memory.current` (at the process's cgroup or an ancestor).
    Cgroup2,
    /// cgroup v1 `memory.limit_in_bytes − memory.usage_in_bytes`.
    Cgroup1,
    /// `MemAvailable` in /proc/meminfo.
    Meminfo,
    /// `RLIMIT_AS` or `RLIMIT_DATA` left.
    Rlimit,
}

impl LimitSource {
    /// The name the JS API reports (`limitSource`).
    pub fn name(self) -> &'static str {
        match self {
            LimitSource::Cgroup2 => "cgroup2",
            LimitSource::Cgroup1 => "cgroup1",
            LimitSource::Meminfo => "meminfo",
            LimitSource::Rlimit => "rlimit",
        }
    }
}

/// The memory this process may still take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// Bytes this process can still allocate before the tightest limit.
    pub available: u64,
    pub source: LimitSource,
}

/// Resident set size of this process in bytes (Linux: /proc/self/statm, a few microseconds).
#[cfg(target_os = "linux")]
pub fn rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * crate::sys::os::page_size()?)
}

/// Resident set size: not read without JavaScript on this platform.
#[cfg(not(target_os = "linux"))]
pub fn rss_bytes() -> Option<u64> {
    None
}

/// How far RSS has grown above `before` (0 when it shrank or cannot be read).
pub fn grown_since(before: u64) -> u64 {
    rss_bytes().unwrap_or(0).saturating_sub(before)
}

/// The highest RSS this process has had (`VmHWM`), in bytes.
#[cfg(target_os = "linux")]
pub fn peak_rss_bytes() -> Option<u64> {
    kib_field(&std::fs::read_to_string("/proc/self/status").ok()?, "VmHWM")
}

/// The highest RSS: not known on this platform.
#[cfg(not(target_os = "linux"))]
pub fn peak_rss_bytes() -> Option<u64> {
    None
}

// ---------------------------------------------------------------------------------------------
// The model of a dump's memory (bench/MEMORY.md has the measurements behind these numbers).

/// Peak RSS growth of a dump per byte of used JS heap on the worst heap shape measured
/// (bench/MEMORY.md: many small objects, 22.9–24.3 on Node 18–26), plus 15%. When even this
/// fits, the dump goes ahead without V8's counting pass.
pub const WORST_GROWTH_PER_HEAP_BYTE: f64 = 28.0;
/// Peak RSS growth per snapshot object when the process has no history: the worst
/// object-dense shape measured (bench/MEMORY.md: 1,472 bytes, small objects on Node 20) plus
/// 12%. Conservative by design: shapes of few edges per object (Maps, closures, number arrays)
/// need 2–7× less, which the process's own history then says.
pub const DEFAULT_BYTES_PER_OBJECT: f64 = 1650.0;
/// Without history, this much per byte of used heap on top: V8 copies string text (up to 1 KiB
/// a string) into the snapshot, which an object count does not see (500 MB of long strings
/// needed 1,944 bytes an object).
pub const DEFAULT_PER_HEAP_BYTE: f64 = 0.5;
/// With a previous dump's own bytes per object, this much on top (heap shapes drift).
pub const HISTORY_SLACK: f64 = 1.10;
/// The writer's own memory: 32 MiB in flight and its buffers.
pub const WRITER_BYTES: u64 = 48 << 20;

/// How much must stay free beyond the prediction, for the process's own allocations while the
/// dump runs: 64 MiB or 5% of the headroom.
pub fn margin(available: u64) -> u64 {
    (64u64 << 20).max(available / 20)
}

/// The cheap bound: what a dump of a heap with `heap_used` bytes can need at most.
pub fn worst_case(heap_used: u64) -> u64 {
    (heap_used as f64 * WORST_GROWTH_PER_HEAP_BYTE) as u64 + WRITER_BYTES
}

/// The predicted peak RSS growth of a dump of `objects` objects in a heap of `heap_used`
/// bytes. `history`: the bytes per object this process's previous dump measured (which
/// includes the writer's share). Without history, the lower of two bounds that each hold for
/// the worst shape measured: per object (dense heaps of small records) and per heap byte
/// (`worst_case`). A heap of many strings has many cheap objects: the count alone predicted
/// 3.5 GiB for the memory test's service on Node 26, which needed 1.3 GiB; its heap bound
/// is 2.4 GiB.
pub fn predict(objects: u64, heap_used: u64, history: Option<f64>) -> u64 {
    match history {
        Some(h) => (objects as f64 * h * HISTORY_SLACK) as u64,
        None => {
            let by_count = (objects as f64 * DEFAULT_BYTES_PER_OBJECT
                + heap_used as f64 * DEFAULT_PER_HEAP_BYTE) as u64
                + WRITER_BYTES;
            if heap_used == 0 {
                by_count // the heap's size is not known: only the count says anything
            } else {
                by_count.min(worst_case(heap_used))
            }
        }
    }
}

/// Whether `needed` bytes fit in the headroom with the margin to spare.
pub fn fits(needed: u64, headroom: &Headroom) -> bool {
    needed.saturating_add(margin(headroom.available)) <= headroom.available
}

/// Reads a text file; a seam for the tests.
pub trait Files {
    fn read(&self, path: &Path) -> Option<String>;
}

/// The real file system.
pub struct Proc;

impl Files for Proc {
    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// Values at or above this are cgroup v1's "no limit" (`9223372036854771712` and kin).
const UNLIMITED: u64 = 1 << 60;

/// The tightest of every limit that applies to this process now; `None` when none is known.
pub fn headroom() -> Option<Headroom> {
    headroom_from(&Proc)
}

/// [`headroom`] over any [`Files`].
pub fn headroom_from(fs: &dyn Files) -> Option<Headroom> {
    let cgroup = fs.read(Path::new("/proc/self/cgroup")).unwrap_or_default();
    let mountinfo = fs
        .read(Path::new("/proc/self/mountinfo"))
        .unwrap_or_default();
    let candidates = [
        cgroup_headroom(fs, &cgroup, &mountinfo, Version::V2).map(|a| (a, LimitSource::Cgroup2)),
        cgroup_headroom(fs, &cgroup, &mountinfo, Version::V1).map(|a| (a, LimitSource::Cgroup1)),
        meminfo_available(fs).map(|a| (a, LimitSource::Meminfo)),
        rlimit_left(fs).map(|a| (a, LimitSource::Rlimit)),
    ];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|(a, _)| *a)
        .map(|(available, source)| Headroom { available, source })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    /// (limit file, usage file, the memory.stat key of reclaimable page cache)
    fn files(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Version::V2 => ("memory.max", "memory.current", "inactive_file"),
            Version::V1 => (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "total_inactive_file",
            ),
        }
    }
}

/// The process's memory cgroup directory and the mount point above which the walk stops.
fn cgroup_dir(cgroup: &str, mountinfo: &str, version: Version) -> Option<(PathBuf, PathBuf)> {
    // /proc/self/cgroup: `hierarchy-id:controllers:path`; v2 is `0::path`.
    let rel = cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match version {
            Version::V2 => controllers.is_empty(),
            Version::V1 => controllers.split(',').any(|c| c == "memory"),
        };
        wanted.then(|| path.to_string())
    })?;
    // /proc/self/mountinfo: `id parent dev root mountpoint opts… - fstype source superopts`.
    let (root, mountpoint) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split_whitespace().collect();
        let right: Vec<&str> = right.split_whitespace().collect();
        let fstype = *right.first()?;
        let ok = match version {
            Version::V2 => fstype == "cgroup2",
            Version::V1 => fstype == "cgroup" && right.get(2)?.split(',').any(|o| o == "memory"),
        };
        if !ok {
            return None;
        }
        Some((left.get(3)?.to_string(), left.get(4)?.to_string()))
    })?;
    // Inside a cgroup namespace the mount's root is the process's own cgroup or an ancestor.
    let inner = if root == "/" {
        rel.as_str()
    } else {
        rel.strip_prefix(root.as_str()).unwrap_or("")
    };
    let mount = PathBuf::from(&mountpoint);
    let dir = mount.join(inner.trim_start_matches('/'));
    Some((dir, mount))
}

fn number(text: Option<String>) -> Option<u64> {
    text?.trim().parse().ok()
}

fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The least room left at any level from the process's cgroup up to the mount point. Page
/// cache the kernel can drop (`inactive_file`) does not count as used.
fn cgroup_headroom(fs: &dyn Files, cgroup: &str, mountinfo: &str, v: Version) -> Option<u64> {
    let (mut dir, mount) = cgroup_dir(cgroup, mountinfo, v)?;
    let (limit_file, usage_file, cache_key) = v.files();
    let mut best: Option<u64> = None;
    loop {
        // `max` (v2) or a huge number (v1) means no limit at this level.
        if let Some(limit) = number(fs.read(&dir.join(limit_file))).filter(|&l| l < UNLIMITED) {
            if let Some(usage) = number(fs.read(&dir.join(usage_file))) {
                let cache = fs
                    .read(&dir.join("memory.stat"))
                    .and_then(|s| stat_value(&s, cache_key))
                    .unwrap_or(0);
                let used = usage.saturating_sub(cache);
                let left = limit.saturating_sub(used);
                best = Some(best.map_or(left, |b| b.min(left)));
            }
        }
        if dir == mount || !dir.pop() || !dir.starts_with(&mount) {
            break;
        }
    }
    best
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

fn meminfo_available(fs: &dyn Files) -> Option<u64> {
    kib_field(&fs.read(Path::new("/proc/meminfo"))?, "MemAvailable")
}

/// The soft limit of the named row of /proc/self/limits; `None` when unlimited.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let rest = limits.lines().find_map(|l| l.strip_prefix(name))?;
    rest.split_whitespace().next()?.parse().ok()
}

/// What `RLIMIT_AS` (against `VmSize`) and `RLIMIT_DATA` (against `VmData`) leave.
fn rlimit_left(fs: &dyn Files) -> Option<u64> {
    let limits = fs.read(Path::new("/proc/self/limits"))?;
    let status = fs.read(Path::new("/proc/self/status")).unwrap_or_default();
    let as_left = soft_limit(&limits, "Max address space")
        .map(|l| l.saturating_sub(kib_field(&status, "VmSize").unwrap_or(0)));
    let data_left = soft_limit(&limits, "Max data size")
        .map(|l| l.saturating_sub(kib_field(&status, "VmData").unwrap_or(0)));
    match (as_left, data_left) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (a, d) => a.or(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, String>);

    impl Files for Fake {
        fn read(&self, path: &Path) -> Option<String> {
            self.0.get(path.to_str()?).cloned()
        }
    }

    fn fake(files: &[(&'static str, &str)]) -> Fake {
        Fake(files.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }

    const MEMINFO: &str = "MemTotal: 25000000 kB\nMemAvailable:   20000000 kB\n";
    const LIMITS: &str = "Limit Soft Limit Hard Limit Units\nMax data size             unlimited            unlimited            bytes\nMax address space         unlimited            unlimited            bytes\n";

    #[test]
    fn v1_limit_below_meminfo_wins_and_page_cache_is_free() {
        let f = fake(&[
            ("/proc/self/cgroup", "4:memory:/test\n0::/\n"),
            (
                "/proc/self/mountinfo",
                "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            ),
            ("/sys/fs/cgroup/memory/test/memory.limit_in_bytes", "734003200\n"),
            ("/sys/fs/cgroup/memory/test/memory.usage_in_bytes", "200000000\n"),
            (
                "/sys/fs/cgroup/memory/test/memory.stat",
                "cache 1\ntotal_inactive_file 50000000\n",
            ),
            ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"),
            ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "900000000\n"),
            ("/proc/meminfo", MEMINFO),
            ("/proc/self/limits", LIMITS),
        ]);
        assert_eq!(
            headroom_from(&f),
            Some(Headroom {
                available: 734003200 - 150000000,
                source: LimitSource::Cgroup1
            })
        );
    }

    #[test]
    fn v2_walks_up_to_the_tightest_ancestor() {
        let f = fake(&[
            ("/proc/self/cgroup", "0::/a/b\n"),
            (
                "/proc/self/mountinfo",
                "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            ),
            ("/sys/fs/cgroup/a/b/memory.max", "max\n"),
            ("/sys/fs/cgroup/a/b/memory.current", "100\n"),
            ("/sys/fs/cgroup/a/memory.max", "1000000\n"),
            ("/sys/fs/cgroup/a/memory.current", "400000\n"),
            ("/proc/meminfo", MEMINFO),
        ]);
        assert_eq!(
            headroom_from(&f),
            Some(Headroom {
                available: 600000,
                source: LimitSource::Cgroup2
            })
        );
    }

    #[test]
    fn namespaced_mount_root_is_stripped() {
        let (dir, mount) = cgroup_dir(
            "0::/kubepods/pod1/c1\n",
            "30 23 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Version::V2,
        )
        .unwrap();
        assert_eq!(dir, PathBuf::from("/sys/fs/cgroup/c1"));
        assert_eq!(mount, PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn rlimit_counts_what_is_mapped() {
        let f = fake(&[
            ("/proc/meminfo", MEMINFO),
            (
                "/proc/self/limits",
                "Max data size             unlimited            unlimited            bytes\nMax address space         4294967296           unlimited            bytes\n",
            ),
            ("/proc/self/status", "VmSize:\t 1048576 kB\nVmData:\t 2048 kB\n"),
        ]);
        assert_eq!(
            headroom_from(&f),
            Some(Headroom {
                available: 3 << 30,
                source: LimitSource::Rlimit
            })
        );
    }

    #[test]
    fn the_model_is_conservative_without_history() {
        let h = Headroom {
            available: 700 << 20,
            source: LimitSource::Cgroup1,
        };
        // The 700k-object service: 1.44 M snapshot objects, 1,154 MiB measured.
        let needed = predict(1_443_582, 63 << 20, None);
        assert!(needed > 1_154 << 20);
        assert!(!fits(needed, &h));
        // 400 bytes an object measured last time: 1.44 M objects need ~600 MiB.
        assert!(predict(1_443_582, 63 << 20, Some(400.0)) < 640 << 20);
        assert!(fits(worst_case(10 << 20), &h));
        assert!(!fits(worst_case(63 << 20), &h));
        assert_eq!(margin(100), 64 << 20);
    }

    #[test]
    fn without_history_the_lower_bound_wins() {
        // The service on Node 26: 2.18 M objects (a third of them strings) in 86 MiB of heap.
        let objects = 2_176_033;
        let by_count = predict(objects, 0, None);
        let both = predict(objects, 86 << 20, None);
        assert!(by_count > 3_400 << 20);
        assert_eq!(both, worst_case(86 << 20));
        // A heap of long strings: few objects, the count is the lower bound.
        assert!(predict(180_000, 500 << 20, None) < worst_case(500 << 20));
    }

    #[test]
    fn nothing_known_is_none() {
        assert_eq!(headroom_from(&fake(&[])), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn rss_is_readable_on_linux() {
        assert!(rss_bytes().unwrap() > 0);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_machine_has_some_headroom() {
        let h = headroom().expect("linux has /proc/meminfo");
        assert!(h.available > 0);
    }
}
