//! How much memory a dump may use before the kernel (or the C library) says no, and how much a
//! dump will need. Pure Rust over the text files Linux exposes: cgroup v2 and v1 limits (walking
//! up the hierarchy), `MemAvailable`, and the address-space and data rlimits. Elsewhere nothing
//! is known and every dump is allowed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

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
/// The least a snapshot object costs apart from its id-map entry, for a history whose index
/// names were overestimated: 150 bytes with it (its snapshot entry, its edges, its id), less
/// the entry's 24.
pub const MIN_BYTES_PER_OBJECT: f64 = 126.0;
/// The writer's own memory: 32 MiB in flight and its buffers.
pub const WRITER_BYTES: u64 = 48 << 20;

/// One slot of V8's object-id map (`HeapObjectsMap`, heap-snapshot-generator.h): an
/// `EntryInfo` of its `entries_` vector and an entry of its `base::HashMap` are 24 bytes each.
const ID_MAP_SLOT: u64 = 24;

/// The memory V8's object-id map holds for `objects` objects: one vector entry each (and one
/// for the synthetic root), and a hash table whose power-of-two capacity doubles once it is
/// 80% full (`TemplateHashMapImpl::InsertNew`: `occupancy + occupancy / 4 >= capacity`). The
/// map outlives the snapshot, so that ids match across snapshots: the first dump of an
/// isolate builds it, the next ones only add the objects it does not know (2.44 M objects:
/// 152 MiB, where `releaseObjectIds()` freed 154 MiB; `__test__/memory.test.js`).
pub fn id_map_bytes(objects: u64) -> u64 {
    if objects == 0 {
        return 0;
    }
    let mut capacity = 8u64;
    while objects + objects / 4 >= capacity {
        capacity *= 2;
    }
    id_map_entries(objects) + ID_MAP_SLOT * capacity
}

/// The vector part of [`id_map_bytes`]: an entry per object and one for the synthetic root.
fn id_map_entries(objects: u64) -> u64 {
    if objects == 0 {
        0
    } else {
        ID_MAP_SLOT * (objects + 1)
    }
}

/// What V8's object-id map grows by in a dump of `objects` objects, when it already holds
/// `known` entries (`None`: no map, or none this library can vouch for).
pub fn id_map_growth(objects: u64, known: Option<u64>) -> u64 {
    id_map_bytes(objects).saturating_sub(id_map_bytes(known.unwrap_or(0)))
}

/// The share of [`id_map_growth`] a finished dump is credited with: the map's entries. How
/// much more a first dump grows RSS than the next one does not follow the map's size
/// (bench/MEMORY.md, "The id map": memory the process freed before the first dump, which RSS
/// still counted, absorbs part of it, and other costs vary between dumps); crediting the
/// whole map put one row at 0.82× the next dump's peak, crediting its entries keeps every row
/// at 0.94× or more.
fn id_map_paid(objects: u64, known: Option<u64>) -> u64 {
    id_map_entries(objects).saturating_sub(id_map_entries(known.unwrap_or(0)))
}

/// What a finished dump teaches about the next one: its growth, apart from the index names,
/// per snapshot object (apart from the object-id map's entries it added too: the next dump
/// may not have to build them) and per heap byte (as if it had built the whole map).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    pub per_object: f64,
    pub per_heap_byte: f64,
}

impl Learned {
    /// From a dump of `objects` objects in `heap` that grew RSS by `growth` bytes (counted
    /// from the lower of the RSS before it and after its trim: where the next one starts),
    /// begun with `id_map` entries in V8's object-id map (see [`id_map_growth`]).
    pub fn from_dump(growth: u64, objects: u64, heap: Heap, id_map: Option<u64>) -> Learned {
        let rest = growth.saturating_sub(heap.index_bytes());
        let own = rest.saturating_sub(id_map_paid(objects, id_map)) as f64;
        // Without an object count (the JS engine) the map's size cannot be told.
        let unbuilt = id_map_bytes(objects) - id_map_growth(objects, id_map);
        Learned {
            per_object: (own / objects.max(1) as f64).max(MIN_BYTES_PER_OBJECT),
            per_heap_byte: (rest + unbuilt) as f64 / heap.used.max(1) as f64,
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
/// thread's previous dump taught (or nothing) and the entries V8's object-id map holds now
/// (`id_map`, see [`id_map_growth`]). Without history, the lower of two bounds that each hold
/// for the worst shape measured (first dumps, which build the id map): per object and per
/// heap byte (`worst_case`). Both add the index names, which depend on the longest array, not
/// on the object count.
pub fn predict(objects: u64, heap: Heap, learned: Option<Learned>, id_map: Option<u64>) -> u64 {
    match learned {
        Some(l) => {
            (objects as f64 * l.per_object * HISTORY_SLACK) as u64
                + heap.index_bytes()
                + id_map_growth(objects, id_map)
        }
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

/// What a JS thread's dumps taught about its next one. Each JS thread (the main thread, each
/// worker) has its own isolate, so its own heap shape and its own object-id map. Not seen:
/// snapshots taken before this library loaded, by Node's `--heapsnapshot-signal` or
/// `--heapsnapshot-near-heap-limit`, or of a worker from its parent (`worker.getHeapSnapshot()`):
/// the next lesson may then credit up to 24 bytes an object of map the dump did not build
/// (0.92× at worst on the lightest objects).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct History {
    /// The last finished (or live-stopped) dump's figures.
    pub learned: Option<Learned>,
    /// The most entries V8's object-id map has held since this library last saw it dropped
    /// (its memory stays allocated); `None`: no map, or one this library cannot vouch for.
    pub id_map: Option<u64>,
    /// Snapshots taken by something else on this thread (Node's own `v8.writeHeapSnapshot`,
    /// an inspector session's), which add entries this library does not count.
    pub foreign: u64,
    /// `foreign` when the map was last dropped or rebuilt by a dump of this library: the
    /// entries of later foreign snapshots are not known.
    pub foreign_counted: u64,
    /// Bumped whenever the map is dropped, so that a dump begun before does not record a map
    /// that is gone.
    pub epoch: u64,
}

impl History {
    /// V8's id map was replaced by an empty one.
    fn ids_dropped(&mut self) {
        self.id_map = None;
        self.foreign_counted = self.foreign;
        self.epoch += 1;
    }

    /// [`predict`] for a dump of `objects` objects in `heap` begun with this history.
    pub fn predict(&self, objects: u64, heap: Heap) -> u64 {
        predict(objects, heap, self.learned, self.id_map)
    }

    /// [`Learned::from_dump`] for a dump begun with this history that grew RSS by `growth`.
    pub fn lesson(&self, growth: u64, objects: u64, heap: Heap) -> Learned {
        Learned::from_dump(growth, objects, heap, self.known_before(objects))
    }

    /// The map's entries a dump of `objects` objects begun with this history is credited as
    /// already there, for [`Learned::from_dump`]: with foreign entries, all of them (what
    /// this dump built cannot be told, so none of its growth is taken for the map).
    fn known_before(&self, objects: u64) -> Option<u64> {
        if self.foreign > self.foreign_counted {
            Some(objects.max(self.id_map.unwrap_or(0)))
        } else {
            self.id_map
        }
    }
}

/// Every JS thread's [`History`].
pub struct Histories(Mutex<Vec<(ThreadId, History)>>);

impl Default for Histories {
    fn default() -> Self {
        Histories::new()
    }
}

impl Histories {
    pub const fn new() -> Histories {
        Histories(Mutex::new(Vec::new()))
    }

    /// The list, whatever a panic elsewhere left in it.
    fn all(&self) -> MutexGuard<'_, Vec<(ThreadId, History)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(&self, thread: ThreadId, f: impl FnOnce(&mut History) -> R) -> R {
        let mut all = self.all();
        let at = match all.iter().position(|(t, _)| *t == thread) {
            Some(at) => at,
            None => {
                all.push((thread, History::default()));
                all.len() - 1
            }
        };
        f(&mut all[at].1)
    }

    /// `thread`'s history now.
    pub fn of(&self, thread: ThreadId) -> History {
        self.with(thread, |h| *h)
    }

    /// A dump of `objects` objects on `thread`, begun with the history `began`, has finished:
    /// V8's id map now knows them, unless it was dropped since the dump began.
    pub fn map_built(&self, thread: ThreadId, began: History, objects: u64) {
        self.with(thread, |h| {
            if h.epoch == began.epoch {
                h.id_map = Some(objects.max(h.id_map.unwrap_or(0)));
                // V8 dropped the dead entries at the end of this dump: the map holds this
                // dump's objects, whoever added them first.
                h.foreign_counted = h.foreign_counted.max(began.foreign);
            }
        });
    }

    /// What a dump on `thread` taught.
    pub fn learn(&self, thread: ThreadId, learned: Learned) {
        self.with(thread, |h| h.learned = Some(learned));
    }

    /// `thread`'s environment is gone (a worker exited): its history goes too.
    pub fn remove(&self, thread: ThreadId) {
        self.all().retain(|(t, _)| *t != thread);
    }

    /// `f` on `thread`'s history; `None`: on every thread's.
    fn each(&self, thread: Option<ThreadId>, f: impl Fn(&mut History)) {
        match thread {
            Some(t) => self.with(t, f),
            None => self.all().iter_mut().for_each(|(_, h)| f(h)),
        }
    }

    /// V8's id map of `thread` (`None`: of every thread) was dropped (`releaseObjectIds()`),
    /// or may have been (an inspector session ended: V8's `V8HeapProfilerAgentImpl::disable`
    /// clears the ids).
    pub fn forget_ids(&self, thread: Option<ThreadId>) {
        self.each(thread, History::ids_dropped);
    }

    /// Something other than this library took a snapshot on `thread` (`None`: on any thread):
    /// V8's id map may hold entries this library did not count.
    pub fn foreign_ids(&self, thread: Option<ThreadId>) {
        self.each(thread, |h| h.foreign += 1);
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
        let needed = predict(1_443_582, service, None, None);
        assert!(needed > 1_154 << 20);
        assert!(!fits(needed, &h));
        // 300 bytes an object besides the index names measured last time.
        let learned = Learned {
            per_object: 300.0,
            per_heap_byte: 7.0,
        };
        let again = predict(1_443_582, service, Some(learned), Some(1_443_582));
        assert!(again > 1_154 << 20 && again < 1_400 << 20, "{again}");
        assert!(fits(worst_case(heap(10)), &h));
        assert!(!fits(worst_case(service), &h));
        assert_eq!(margin(100), 64 << 20);
    }

    #[test]
    fn the_id_map_is_built_once() {
        // 1.44 M objects: V8's table has 2^21 slots (it doubles at 1.68 M).
        assert_eq!(id_map_bytes(1_443_582), 24 * (1_443_583 + (1 << 21)));
        assert_eq!(id_map_bytes(0), 0);
        assert_eq!(id_map_growth(1_000, Some(2_000)), 0);
        assert_eq!(id_map_growth(1_000, None), id_map_bytes(1_000));
        // A first dump's growth includes the map, which the next dump of the same heap has;
        // the first is credited its entries only (24 bytes an object).
        let h = heap(200);
        let objects = 3_000_000u64;
        let own = 250 * objects;
        let table = id_map_bytes(objects) - 24 * (objects + 1);
        let first = own + id_map_bytes(objects) + h.index_bytes();
        let l = Learned::from_dump(first, objects, h, None);
        let expected = 250.0 + table as f64 / objects as f64;
        assert!((l.per_object - expected).abs() < 0.01, "{l:?}");
        let again = predict(objects, h, Some(l), Some(objects));
        let expected = (objects as f64 * expected * HISTORY_SLACK) as u64 + h.index_bytes();
        assert!(again.abs_diff(expected) < 1 << 10, "{again} {expected}");
        // Once the map is dropped (releaseObjectIds(), an inspector session's end), it is
        // built again.
        let rebuilt = predict(objects, h, Some(l), None);
        assert!(rebuilt.abs_diff(again + id_map_bytes(objects)) < 1 << 10);
        // 10% more objects than the map knows: only they are added.
        let more = predict(objects * 11 / 10, h, Some(l), Some(objects));
        let added = id_map_bytes(objects * 11 / 10) - id_map_bytes(objects);
        assert!(more > again + added && more < rebuilt, "{more}");
        // The second dump, which built no map, teaches what it grew; per heap byte, both
        // count the whole map (the JS engine has no object count).
        let second = Learned::from_dump(own + h.index_bytes(), objects, h, Some(objects));
        assert!((second.per_object - 250.0).abs() < 0.01);
        assert!((second.per_heap_byte - l.per_heap_byte).abs() < 0.01);
        let per_heap = (own + id_map_bytes(objects)) as f64 / h.used as f64;
        assert!((l.per_heap_byte - per_heap).abs() < 0.01);
    }

    #[test]
    fn a_dropped_map_is_not_recorded_by_a_dump_begun_before() {
        let all = Histories::new();
        let (main, worker) = (
            std::thread::current().id(),
            std::thread::spawn(|| std::thread::current().id())
                .join()
                .unwrap(),
        );
        let began = all.of(main);
        all.map_built(main, began, 1_000);
        assert_eq!(all.of(main).id_map, Some(1_000));
        assert_eq!(all.of(worker), History::default(), "each thread its own");
        // A smaller heap later: the map's memory stays at its most.
        all.map_built(main, all.of(main), 600);
        assert_eq!(all.of(main).id_map, Some(1_000));
        // Released while a dump was still finishing: that dump's map is not recorded.
        let began = all.of(main);
        all.forget_ids(Some(main));
        all.map_built(main, began, 2_000);
        assert_eq!(all.of(main).id_map, None);
        let l = Learned {
            per_object: 100.0,
            per_heap_byte: 2.0,
        };
        all.learn(main, l);
        assert_eq!(all.of(main).learned, Some(l));
        assert_eq!(all.of(worker).learned, None);
        // A snapshot by something else: the next dump is credited no map growth; once that
        // dump has rebuilt the map, the one after is credited again.
        let began = all.of(main);
        all.map_built(main, began, 1_000);
        assert_eq!(all.of(main).known_before(1_200), Some(1_000));
        all.foreign_ids(Some(main));
        let began = all.of(main);
        assert_eq!(began.known_before(1_200), Some(1_200));
        all.map_built(main, began, 1_200);
        assert_eq!(all.of(main).known_before(1_300), Some(1_200));
        // ... unless another came while that dump ran.
        let began = all.of(main);
        all.foreign_ids(Some(main));
        all.map_built(main, began, 1_300);
        assert_eq!(all.of(main).known_before(1_400), Some(1_400));
        all.forget_ids(Some(main));
        assert_eq!(all.of(main).known_before(1_400), None);
        // A worker's session on the main thread: every thread forgets.
        all.map_built(main, all.of(main), 1_000);
        all.map_built(worker, all.of(worker), 50);
        all.forget_ids(None);
        assert_eq!((all.of(main).id_map, all.of(worker).id_map), (None, None));
        // A worker that exits leaves nothing behind.
        all.remove(worker);
        assert_eq!(all.all().len(), 1);
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
        assert!(predict(53_000, h, None, None) > measured);
        // Learned on it, the next dump of the same heap is predicted within +10%.
        let learned = Learned::from_dump(measured, 53_000, h, None);
        let again = predict(53_000, h, Some(learned), Some(53_000));
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
        assert!(predict(objects, unknown, None, None) > predict(objects, known, None, None));
        assert_eq!(predict(objects, known, None, None), worst_case(known));
        // A heap of long strings: few objects, the count is the lower bound.
        assert!(predict(180_000, heap(500), None, None) < worst_case(heap(500)));
    }

    #[test]
    fn v8_14_and_unknown_versions_get_the_higher_default() {
        let old = heap(200);
        let new = Heap {
            v8_major: 14,
            ..old
        };
        let unknown = Heap { v8_major: 0, ..old };
        assert!(predict(3_000_000, new, None, None) > predict(3_000_000, old, None, None));
        assert_eq!(
            predict(3_000_000, new, None, None),
            predict(3_000_000, unknown, None, None)
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
