//! Run-time lookup of V8's, Node's and libuv's entry points by their mangled names, the typed
//! entry points a snapshot needs, and the [`Capabilities`] report of what resolved.

use std::ffi::{c_int, c_void, CString};
use std::sync::OnceLock;

pub(super) type GetCurrentFn = unsafe extern "C" fn() -> *mut c_void;
pub(super) type GetHeapProfilerFn = unsafe extern "C" fn(isolate: *mut c_void) -> *mut c_void;
type TakeLegacyFn = unsafe extern "C" fn(
    profiler: *mut c_void,
    control: *mut c_void,
    resolver: *mut c_void,
    hide_internals: bool,
    capture_numeric_value: bool,
) -> *const c_void;
type TakeOptionsFn = unsafe extern "C" fn(
    profiler: *mut c_void,
    options: *const HeapSnapshotOptions,
) -> *const c_void;
type SerializeFn =
    unsafe extern "C" fn(snapshot: *const c_void, stream: *mut c_void, format: c_int);
pub(super) type DeleteFn = unsafe extern "C" fn(snapshot: *const c_void);
type NodesCountFn = unsafe extern "C" fn(snapshot: *const c_void) -> c_int;

/// `v8::HeapProfiler::HeapSnapshotOptions`: 24 bytes on V8 11 (Node 20), 32 on V8 12+; fields
/// `control`@0, `global_object_name_resolver`@8, `snapshot_mode`@16, `numerics_mode`@20,
/// `stack_state`@24. All-zero (apart from `control`) means: hide internals, no numeric values,
/// conservative stack — what `v8.writeHeapSnapshot()` writes. Padded to 64 zero bytes so that a
/// V8 that reads a little further still reads zeros.
#[repr(C)]
pub(super) struct HeapSnapshotOptions {
    pub(super) control: *mut c_void,
    pub(super) rest: [u64; 7],
}

/// One entry point and the names it has had across Node 16–26 (checked with `nm -D`).
pub(super) struct Wanted {
    pub(super) purpose: &'static str,
    pub(super) candidates: &'static [&'static str],
}

pub(super) const GET_CURRENT: Wanted = Wanted {
    purpose: "Isolate::GetCurrent",
    candidates: &["_ZN2v87Isolate10GetCurrentEv"],
};
pub(super) const GET_HEAP_PROFILER: Wanted = Wanted {
    purpose: "Isolate::GetHeapProfiler",
    candidates: &["_ZN2v87Isolate15GetHeapProfilerEv"],
};
/// The four-argument form `(ActivityControl*, resolver*, bool, bool)`: Node 18–25 spell the
/// resolver `ObjectNameResolver`, Node 26 `ContextNameResolver` (same ABI), Node 16 exports it
/// as `TakeHeapSnapshotV8_92`.
const TAKE_LEGACY: Wanted = Wanted {
    purpose: "HeapProfiler::TakeHeapSnapshot",
    candidates: &[
        "_ZN2v812HeapProfiler16TakeHeapSnapshotEPNS_15ActivityControlEPNS0_18ObjectNameResolverEbb",
        "_ZN2v812HeapProfiler16TakeHeapSnapshotEPNS_15ActivityControlEPNS0_19ContextNameResolverEbb",
        "_ZN2v812HeapProfiler21TakeHeapSnapshotV8_92EPNS_15ActivityControlEPNS0_18ObjectNameResolverEbb",
    ],
};
/// The options-struct form (Node 20+), used only when no four-argument form exists.
const TAKE_OPTIONS: Wanted = Wanted {
    purpose: "HeapProfiler::TakeHeapSnapshot(options)",
    candidates: &["_ZN2v812HeapProfiler16TakeHeapSnapshotERKNS0_19HeapSnapshotOptionsE"],
};
const SERIALIZE: Wanted = Wanted {
    purpose: "HeapSnapshot::Serialize",
    candidates: &["_ZNK2v812HeapSnapshot9SerializeEPNS_12OutputStreamENS0_19SerializationFormatE"],
};
const NODES_COUNT: Wanted = Wanted {
    purpose: "HeapSnapshot::GetNodesCount",
    candidates: &["_ZNK2v812HeapSnapshot13GetNodesCountEv"],
};
const DELETE: Wanted = Wanted {
    purpose: "HeapSnapshot::Delete",
    candidates: &["_ZN2v812HeapSnapshot6DeleteEv"],
};
pub(super) const ADD_NEAR_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::AddNearHeapLimitCallback",
    candidates: &["_ZN2v87Isolate24AddNearHeapLimitCallbackEPFmPvmmES1_"],
};
pub(super) const REMOVE_NEAR_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::RemoveNearHeapLimitCallback",
    candidates: &["_ZN2v87Isolate27RemoveNearHeapLimitCallbackEPFmPvmmEm"],
};
pub(super) const RESTORE_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::AutomaticallyRestoreInitialHeapLimit",
    candidates: &["_ZN2v87Isolate36AutomaticallyRestoreInitialHeapLimitEd"],
};
const V8_REQUEST_INTERRUPT: Wanted = Wanted {
    purpose: "Isolate::RequestInterrupt",
    candidates: &["_ZN2v87Isolate16RequestInterruptEPFvPS0_PvES2_"],
};
pub(super) const NODE_REQUEST_INTERRUPT: Wanted = Wanted {
    purpose: "node::RequestInterrupt",
    candidates: &["_ZN4node16RequestInterruptEPNS_11EnvironmentEPFvPvES2_"],
};
pub(super) const GET_CURRENT_ENVIRONMENT: Wanted = Wanted {
    purpose: "node::GetCurrentEnvironment",
    candidates: &["_ZN4node21GetCurrentEnvironmentEN2v85LocalINS0_7ContextEEE"],
};
pub(super) const GET_CURRENT_CONTEXT: Wanted = Wanted {
    purpose: "Isolate::GetCurrentContext",
    candidates: &["_ZN2v87Isolate17GetCurrentContextEv"],
};

pub(super) const GET_HEAP_STATISTICS: Wanted = Wanted {
    purpose: "Isolate::GetHeapStatistics",
    candidates: &["_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE"],
};
pub(super) const HEAP_STATISTICS_CTOR: Wanted = Wanted {
    purpose: "HeapStatistics::HeapStatistics",
    candidates: &["_ZN2v814HeapStatisticsC1Ev"],
};
pub(super) const NUMBER_OF_HEAP_SPACES: Wanted = Wanted {
    purpose: "Isolate::NumberOfHeapSpaces",
    candidates: &["_ZN2v87Isolate18NumberOfHeapSpacesEv"],
};
pub(super) const GET_HEAP_SPACE_STATISTICS: Wanted = Wanted {
    purpose: "Isolate::GetHeapSpaceStatistics",
    candidates: &["_ZN2v87Isolate22GetHeapSpaceStatisticsEPNS_19HeapSpaceStatisticsEm"],
};
pub(super) const HEAP_SPACE_STATISTICS_CTOR: Wanted = Wanted {
    purpose: "HeapSpaceStatistics::HeapSpaceStatistics",
    candidates: &["_ZN2v819HeapSpaceStatisticsC1Ev"],
};
pub(super) const CLEAR_OBJECT_IDS: Wanted = Wanted {
    purpose: "HeapProfiler::ClearObjectIds",
    candidates: &["_ZN2v812HeapProfiler14ClearObjectIdsEv"],
};
pub(super) const V8_GET_VERSION: Wanted = Wanted {
    purpose: "V8::GetVersion",
    candidates: &["_ZN2v82V810GetVersionEv"],
};
pub(super) const LOW_MEMORY_NOTIFICATION: Wanted = Wanted {
    purpose: "Isolate::LowMemoryNotification",
    candidates: &["_ZN2v87Isolate21LowMemoryNotificationEv"],
};
pub(super) const UV_AVAILABLE_MEMORY: Wanted = Wanted {
    purpose: "uv_get_available_memory",
    candidates: &["uv_get_available_memory"],
};
pub(super) const UV_CONSTRAINED_MEMORY: Wanted = Wanted {
    purpose: "uv_get_constrained_memory",
    candidates: &["uv_get_constrained_memory"],
};
pub(super) const UV_FREE_MEMORY: Wanted = Wanted {
    purpose: "uv_get_free_memory",
    candidates: &["uv_get_free_memory"],
};

pub(super) const ALL: &[&Wanted] = &[
    &GET_CURRENT,
    &GET_HEAP_PROFILER,
    &TAKE_LEGACY,
    &TAKE_OPTIONS,
    &SERIALIZE,
    &DELETE,
    &NODES_COUNT,
    &ADD_NEAR_HEAP_LIMIT,
    &REMOVE_NEAR_HEAP_LIMIT,
    &RESTORE_HEAP_LIMIT,
    &V8_REQUEST_INTERRUPT,
    &NODE_REQUEST_INTERRUPT,
    &GET_CURRENT_ENVIRONMENT,
    &GET_CURRENT_CONTEXT,
    &GET_HEAP_STATISTICS,
    &HEAP_STATISTICS_CTOR,
    &NUMBER_OF_HEAP_SPACES,
    &GET_HEAP_SPACE_STATISTICS,
    &HEAP_SPACE_STATISTICS_CTOR,
    &V8_GET_VERSION,
    &CLEAR_OBJECT_IDS,
    &LOW_MEMORY_NOTIFICATION,
    &UV_AVAILABLE_MEMORY,
    &UV_CONSTRAINED_MEMORY,
    &UV_FREE_MEMORY,
];

/// A resolved symbol: its address and the name it resolved under.
#[derive(Clone, Copy)]
pub(super) struct Found {
    pub(super) addr: usize,
    name: &'static str,
}

fn lookup(name: &str) -> Option<usize> {
    let c = CString::new(name).ok()?;
    #[cfg(unix)]
    {
        // SAFETY: dlsym with RTLD_DEFAULT only searches the global symbol scope of this process
        // for a NUL-terminated name; it does not call the symbol.
        let addr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
        (!addr.is_null()).then_some(addr as usize)
    }
    #[cfg(not(unix))]
    {
        // MSVC mangles and lays out vtables differently: the JS engine is used there.
        let _ = c;
        None
    }
}

fn resolve(w: &Wanted) -> Option<Found> {
    w.candidates
        .iter()
        .find_map(|name| lookup(name).map(|addr| Found { addr, name }))
}

pub(super) struct Symbols {
    found: Vec<(&'static str, Option<Found>)>,
}

impl Symbols {
    pub(super) fn get(&self, w: &Wanted) -> Option<Found> {
        self.found
            .iter()
            .find(|(purpose, _)| *purpose == w.purpose)
            .and_then(|(_, f)| *f)
    }
}

pub(super) fn symbols() -> &'static Symbols {
    static SYMBOLS: OnceLock<Symbols> = OnceLock::new();
    SYMBOLS.get_or_init(|| Symbols {
        found: ALL.iter().map(|w| (w.purpose, resolve(w))).collect(),
    })
}

/// The entry points a snapshot needs, typed.
pub(super) struct SnapshotApi {
    pub(super) get_current: GetCurrentFn,
    pub(super) get_heap_profiler: GetHeapProfilerFn,
    pub(super) take: Take,
    pub(super) serialize: SerializeFn,
    pub(super) delete: DeleteFn,
    /// Optional: the snapshot's node count, for the memory model.
    pub(super) nodes_count: Option<NodesCountFn>,
}

#[derive(Clone, Copy)]
pub(super) enum Take {
    Legacy(TakeLegacyFn),
    Options(TakeOptionsFn),
}

pub(super) fn snapshot_api() -> Option<SnapshotApi> {
    let s = symbols();
    let take = match (s.get(&TAKE_LEGACY), s.get(&TAKE_OPTIONS)) {
        (Some(f), _) => {
            // SAFETY: the symbol is V8's four-argument HeapProfiler::TakeHeapSnapshot member
            // function, whose ABI (this, ActivityControl*, resolver*, bool, bool) -> const
            // HeapSnapshot* is what TakeLegacyFn declares.
            let take = unsafe { std::mem::transmute::<usize, TakeLegacyFn>(f.addr) };
            Take::Legacy(take)
        }
        (None, Some(f)) => {
            // SAFETY: the symbol is V8's TakeHeapSnapshot(const HeapSnapshotOptions&) member
            // function; a reference is passed as a pointer, so (this, const options*) -> const
            // HeapSnapshot* is what TakeOptionsFn declares.
            let take = unsafe { std::mem::transmute::<usize, TakeOptionsFn>(f.addr) };
            Take::Options(take)
        }
        (None, None) => return None,
    };
    let get_current = s.get(&GET_CURRENT)?.addr;
    let get_heap_profiler = s.get(&GET_HEAP_PROFILER)?.addr;
    let serialize = s.get(&SERIALIZE)?.addr;
    let delete = s.get(&DELETE)?.addr;
    let nodes_count = s.get(&NODES_COUNT).map(|f| {
        // SAFETY: the symbol is `int HeapSnapshot::GetNodesCount() const`, i.e.
        // (const this) -> int, which is what NodesCountFn declares.
        unsafe { std::mem::transmute::<usize, NodesCountFn>(f.addr) }
    });
    // SAFETY: each address is the named V8 function, and each type below spells its Itanium
    // ABI: static Isolate::GetCurrent() -> Isolate*; Isolate::GetHeapProfiler(this) ->
    // HeapProfiler*; HeapSnapshot::Serialize(const this, OutputStream*, SerializationFormat);
    // HeapSnapshot::Delete(this).
    unsafe {
        Some(SnapshotApi {
            get_current: std::mem::transmute::<usize, GetCurrentFn>(get_current),
            get_heap_profiler: std::mem::transmute::<usize, GetHeapProfilerFn>(get_heap_profiler),
            take,
            serialize: std::mem::transmute::<usize, SerializeFn>(serialize),
            delete: std::mem::transmute::<usize, DeleteFn>(delete),
            nodes_count,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Capabilities

/// One looked-up entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolStatus {
    pub purpose: &'static str,
    /// The mangled name it resolved under, `None` if no candidate resolved.
    pub resolved: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Snapshots can be taken through the bridge.
    pub native: bool,
    /// Which `TakeHeapSnapshot` form is used: `"legacy"`, `"options"` or `None`.
    pub take_variant: Option<&'static str>,
    /// A dump can be requested from another thread (`node::RequestInterrupt` and friends).
    pub interrupts: bool,
    /// V8's near-heap-limit callback can be installed and removed.
    pub near_heap_limit: bool,
    pub symbols: Vec<SymbolStatus>,
}

pub fn capabilities() -> Capabilities {
    let s = symbols();
    let has = |w: &Wanted| s.get(w).is_some();
    Capabilities {
        native: snapshot_api().is_some(),
        take_variant: if has(&TAKE_LEGACY) {
            Some("legacy")
        } else if has(&TAKE_OPTIONS) {
            Some("options")
        } else {
            None
        },
        interrupts: has(&NODE_REQUEST_INTERRUPT)
            && has(&GET_CURRENT_ENVIRONMENT)
            && has(&GET_CURRENT_CONTEXT),
        near_heap_limit: has(&ADD_NEAR_HEAP_LIMIT)
            && has(&REMOVE_NEAR_HEAP_LIMIT)
            && has(&RESTORE_HEAP_LIMIT),
        symbols: s
            .found
            .iter()
            .map(|(purpose, f)| SymbolStatus {
                purpose,
                resolved: f.map(|f| f.name),
            })
            .collect(),
    }
}
