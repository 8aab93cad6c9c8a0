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

/// What the model knows of the heap before V8 allocates the snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heap {
    /// Used JS heap bytes (`HeapStatistics::used_heap_size`).
    pub used: u64,
    /// Bytes in the large-object spaces that can hold arrays of references.
    pub large_objects: u64,
    /// V8's major version (0: unknown). Snapshot objects cost more on some (Maps and Sets on
    /// V8 14 need twice the bytes of V8 10–13).
    pub v8_major: u32,
}

/// The longest array a regular heap page can hold: 128 KiB of 8-byte slots. Longer ones live in
/// a large-object space.
pub const REGULAR_ARRAY_SLOTS: u64 = 16 * 1024;
/// Peak growth per distinct array index the snapshot names. V8 names the edges of an array's
/// backing store by the index (`SetInternalReference` → `StringsStorage::GetName(int)`), and
/// `GetFormatted` keeps a 1,024-byte buffer per distinct name for as long as the snapshot
/// lives: an array of 770 k references to one object costs 876 MiB, whatever it points at.
/// 1,200 bytes measured per index (Node 20 and 26, 0.2–1.54 M slots: buffer, edge, child
/// pointer, hash entry), plus 4%.
pub const INDEX_NAME_BYTES: u64 = 1_250;

impl Heap {
    /// Peak growth per snapshot object without history, apart from the index names.
    pub fn default_bytes_per_object(&self) -> f64 {
        if (10..14).contains(&self.v8_major) {
            DEFAULT_BYTES_PER_OBJECT
        } else {
            DEFAULT_BYTES_PER_OBJECT_V8_14
        }
    }

    /// The large-object bytes among a heap's spaces (V8's `HeapSpaceStatistics`: name, used
    /// bytes): every `*large_object_space` but the code one. Objects above the regular size
    /// limit live there, such as the backing store of an array of more than 16 K elements.
    pub fn large_objects_of<'a>(spaces: impl IntoIterator<Item = (&'a str, u64)>) -> u64 {
        spaces
            .into_iter()
            .filter(|(name, _)| name.ends_with("large_object_space") && !name.starts_with("code"))
            .map(|(_, used)| used)
            .sum()
    }

    /// The most distinct index names a dump can create: the longest reference array's length,
    /// at most the large-object bytes in 8-byte slots (other large objects, such as long
    /// strings, only make this an overestimate).
    pub fn index_names(&self) -> u64 {
        REGULAR_ARRAY_SLOTS.max(self.large_objects / 8)
    }

    /// The peak growth of the index names: [`Heap::index_names`] × [`INDEX_NAME_BYTES`].
    pub fn index_bytes(&self) -> u64 {
        self.index_names().saturating_mul(INDEX_NAME_BYTES)
    }
}

/// Peak RSS growth of a dump per byte of used JS heap, apart from the index names, on the
/// worst heap shape measured (bench/MEMORY.md: Maps/Sets on Node 26, 12.4), plus 30%. With the
/// index names and the writer this is the cheap bound: when it fits, the dump goes ahead
/// without V8's counting pass.
pub const WORST_GROWTH_PER_HEAP_BYTE: f64 = 16.0;
/// Peak RSS growth per snapshot object, apart from the index names, when the process has no
/// history, on V8 10–13 (Node 18–24): the worst shape measured (bench/MEMORY.md: small
/// objects on Node 20, 350 bytes) plus 14%. Heaps of other shapes need 150–340, which the
/// process's own history then says.
pub const DEFAULT_BYTES_PER_OBJECT: f64 = 400.0;
/// The same on V8 14 (Node 25–26) and any V8 not known: Maps and Sets measured 623–751 bytes
/// there (bench/MEMORY.md), plus 6%.
pub const DEFAULT_BYTES_PER_OBJECT_V8_14: f64 = 800.0;
/// Without history, this much per byte of used heap on top: V8 copies string text (up to 1 KiB
/// a string) into the snapshot, which an object count does not see.
pub const DEFAULT_PER_HEAP_BYTE: f64 = 0.5;
/// With a previous dump's own figures, this much on top (heap shapes drift).
pub const HISTORY_SLACK: f64 = 1.10;
/// The least a snapshot object costs (its entry, its id and its edges), for a history whose
/// index names were overestimated.
pub const MIN_BYTES_PER_OBJECT: f64 = 150.0;
/// The writer's own memory: 32 MiB in flight and its buffers.
pub const WRITER_BYTES: u64 = 48 << 20;

/// What a finished dump teaches about the next one: its growth, apart from the index names,
/// per snapshot object and per heap byte.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    pub per_object: f64,
    pub per_heap_byte: f64,
}

impl Learned {
    /// From a dump of `objects` objects in `heap` that grew RSS by `growth` bytes (counted
    /// from the lower of the RSS before it and after its trim: where the next one starts).
    pub fn from_dump(growth: u64, objects: u64, heap: Heap) -> Learned {
        let rest = growth.saturating_sub(heap.index_bytes()) as f64;
        Learned {
            per_object: (rest / objects.max(1) as f64).max(MIN_BYTES_PER_OBJECT),
            per_heap_byte: rest / heap.used.max(1) as f64,
        }
    }
}

/// How much must stay free beyond the prediction, for the process's own allocations while the
/// dump runs: 64 MiB or 5% of the headroom.
pub fn margin(available: u64) -> u64 {
    (64u64 << 20).max(available / 20)
}

/// The cheap bound: what a dump of `heap` can need at most.
pub fn worst_case(heap: Heap) -> u64 {
    (heap.used as f64 * WORST_GROWTH_PER_HEAP_BYTE) as u64 + heap.index_bytes() + WRITER_BYTES
}

/// The predicted peak RSS growth of a dump of `objects` objects in `heap`, given what this
/// process's previous dump taught (or nothing). Without history, the lower of two bounds that
/// each hold for the worst shape measured: per object and per heap byte (`worst_case`). Both
/// add the index names, which depend on the longest array, not on the object count.
pub fn predict(objects: u64, heap: Heap, learned: Option<Learned>) -> u64 {
    match learned {
        Some(l) => (objects as f64 * l.per_object * HISTORY_SLACK) as u64 + heap.index_bytes(),
        None => {
            let by_count = (objects as f64 * heap.default_bytes_per_object()
                + heap.used as f64 * DEFAULT_PER_HEAP_BYTE) as u64
                + heap.index_bytes()
                + WRITER_BYTES;
            if heap.used == 0 {
                by_count // the heap's size is not known: only the count says anything
            } else {
                by_count.min(worst_case(heap))
            }
        }
    }
}

/// A prediction without an object count (the JS engine, `estimate()` without `count`): the
/// previous dump's growth per heap byte, or the cheap bound.
pub fn predict_by_size(heap: Heap, learned: Option<Learned>) -> u64 {
    match learned {
        Some(l) => (heap.used as f64 * l.per_heap_byte * HISTORY_SLACK) as u64 + heap.index_bytes(),
        None => worst_case(heap),
    }
}

/// The live estimate starts once V8 has extracted this share of the objects: before it, RSS
/// grows faster than the count (new names, new deque blocks), and the extrapolation is too
/// high.
pub const LIVE_FROM: f64 = 0.5;
/// What comes after the regular progress reports, per byte grown while extracting: the edge
/// lists V8 fills at the end and the serializer's string index (bench/MEMORY.md, "The live
/// estimate").
pub const AFTER_EXTRACTION: f64 = 0.2;

/// The live estimate of a running dump, fed by V8's progress reports (`done` of `total`
/// objects extracted, RSS `grown` bytes since the dump began). Extraction grows RSS with the
/// objects it walks, whatever their shape, so the growth so far extrapolated to the total
/// says what an object count cannot: how many bytes this heap's objects cost. The index names
/// come on top: V8 walks the large objects last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    /// The growth at the first report (V8's GC and counting pass), which does not scale.
    start: Option<u64>,
    /// The latest estimate of the peak growth, once `LIVE_FROM` of the objects are done.
    pub estimate: Option<u64>,
}

impl Live {
    /// Takes one progress report; returns the estimate it gives, if any.
    pub fn observe(&mut self, done: u32, total: u32, grown: u64, heap: Heap) -> Option<u64> {
        let start = *self.start.get_or_insert(grown);
        if total == 0 {
            return None;
        }
        if f64::from(done) < f64::from(total) * LIVE_FROM {
            return self.estimate;
        }
        if done.saturating_add(1) >= total {
            // The last reports come after the large objects, whose index names the growth now
            // holds: only the growth itself can raise the estimate from here.
            self.estimate = Some(self.estimate.unwrap_or(0).max(grown + WRITER_BYTES));
            return self.estimate;
        }
        let extracted =
            grown.saturating_sub(start) as f64 * f64::from(total) / f64::from(done.max(1));
        let estimate = start
            + (extracted * (1.0 + AFTER_EXTRACTION)) as u64
            + heap.index_bytes()
            + WRITER_BYTES;
        self.estimate = Some(estimate.max(grown + WRITER_BYTES));
        self.estimate
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

    fn heap(used_mib: u64) -> Heap {
        Heap {
            used: used_mib << 20,
            large_objects: 0,
            v8_major: 12,
        }
    }

    #[test]
    fn the_model_is_conservative_without_history() {
        let h = Headroom {
            available: 700 << 20,
            source: LimitSource::Cgroup1,
        };
        // The 700k-object service: 1.44 M snapshot objects, one 700 k-element array (5.6 MB
        // in large objects), 1,154 MiB measured.
        let service = Heap {
            used: 63 << 20,
            large_objects: 5_600_000,
            v8_major: 12,
        };
        let needed = predict(1_443_582, service, None);
        assert!(needed > 1_154 << 20);
        assert!(!fits(needed, &h));
        // 300 bytes an object besides the index names measured last time.
        let learned = Learned {
            per_object: 300.0,
            per_heap_byte: 7.0,
        };
        let again = predict(1_443_582, service, Some(learned));
        assert!(again > 1_154 << 20 && again < 1_400 << 20, "{again}");
        assert!(fits(worst_case(heap(10)), &h));
        assert!(!fits(worst_case(service), &h));
        assert_eq!(margin(100), 64 << 20);
    }

    #[test]
    fn a_long_array_costs_its_index_names() {
        // 770 k references to one object: 6 MB of large objects, 5 MB of other heap, 53 k
        // snapshot objects, and 876 MiB of growth (Node 20 and 26).
        let h = Heap {
            used: 11 << 20,
            large_objects: 6_160_000,
            v8_major: 12,
        };
        let measured = 876u64 << 20;
        assert!(worst_case(h) > measured);
        assert!(predict(53_000, h, None) > measured);
        // Learned on it, the next dump of the same heap is predicted within +10%.
        let learned = Learned::from_dump(measured, 53_000, h);
        let again = predict(53_000, h, Some(learned));
        assert!(again > measured && again < measured * 11 / 10, "{again}");
        // Without large objects only the regular arrays' 16 K names are counted.
        assert_eq!(heap(11).index_names(), REGULAR_ARRAY_SLOTS);
    }

    #[test]
    fn without_history_the_lower_bound_wins() {
        // The service on Node 26: 2.18 M objects (a third of them strings) in 86 MiB of heap.
        let objects = 2_176_033;
        let unknown = Heap {
            used: 0,
            large_objects: 5_600_000,
            v8_major: 14,
        };
        let known = Heap {
            used: 86 << 20,
            ..unknown
        };
        assert!(predict(objects, unknown, None) > predict(objects, known, None));
        assert_eq!(predict(objects, known, None), worst_case(known));
        // A heap of long strings: few objects, the count is the lower bound.
        assert!(predict(180_000, heap(500), None) < worst_case(heap(500)));
    }

    #[test]
    fn v8_14_and_unknown_versions_get_the_higher_default() {
        let old = heap(200);
        let new = Heap {
            v8_major: 14,
            ..old
        };
        let unknown = Heap { v8_major: 0, ..old };
        assert!(predict(3_000_000, new, None) > predict(3_000_000, old, None));
        assert_eq!(
            predict(3_000_000, new, None),
            predict(3_000_000, unknown, None)
        );
    }

    #[test]
    fn the_live_estimate_extrapolates_the_growth_and_adds_the_index_names() {
        const MIB: u64 = 1 << 20;
        let h = Heap {
            used: 55 * MIB,
            large_objects: 6 * MIB,
            v8_major: 11,
        };
        let mut live = Live::default();
        // Node 20, small objects at 50 MB: 40 MiB at the count, 161 MiB at 480 k of 920 k.
        assert_eq!(live.observe(0, 920_000, 40 * MIB, h), None);
        assert_eq!(
            live.observe(240_000, 920_000, 99 * MIB, h),
            None,
            "before half-way"
        );
        let half = live.observe(480_000, 920_000, 161 * MIB, h).unwrap();
        // 40 + 121 × 920/480 × 1.2, the index names (786 k × 1,250) and the writer.
        let want = 40 * MIB + (121.0 * MIB as f64 * 920.0 / 480.0 * 1.2) as u64;
        assert_eq!(half, want + h.index_bytes() + WRITER_BYTES);
        // Measured: 1,265 MiB; the estimate is within 10% over.
        let ratio = half as f64 / (1265 * MIB) as f64;
        assert!((1.0..1.1).contains(&ratio), "{ratio}");
        // The last reports come after the large objects: their growth holds the index names,
        // so it only raises the estimate when it is above it.
        assert_eq!(live.observe(919_999, 920_000, 1_100 * MIB, h), Some(half));
        let late = live.observe(920_000, 920_000, 1_500 * MIB, h).unwrap();
        assert_eq!(late, 1_500 * MIB + WRITER_BYTES);
        // A heap whose objects cost four times as much says so as it goes.
        let mut heavy = Live::default();
        heavy.observe(0, 920_000, 40 * MIB, h);
        let est = heavy.observe(480_000, 920_000, 520 * MIB, h).unwrap();
        assert!(est > half + 800 * MIB, "{} vs {}", est >> 20, half >> 20);
        assert_eq!(Live::default().observe(0, 0, MIB, h), None);
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
