//! The V8 bridge: the one module that knows V8 exists.
//!
//! N-API offers no heap profiler, so this module resolves a handful of V8's C++ entry points at
//! run time, by their Itanium-mangled names, from the `node` binary that loaded us
//! (`dlsym(RTLD_DEFAULT, …)`). Nothing is linked against V8 and no V8 header is used: the same
//! `.node` file works on every Node version whose symbols resolve, and when one is missing the
//! caller falls back to Node's JS API (see [`Capabilities::native`]).
//!
//! V8 calls back into two objects built here by hand: a `v8::OutputStream` (receives the
//! serialized JSON) and a `v8::ActivityControl` (receives generation progress). Each is a
//! `#[repr(C)]` struct whose first word points into a static table laid out as the Itanium C++
//! ABI lays out a vtable: `[offset-to-top, typeinfo, complete dtor, deleting dtor, methods…]`,
//! with the object's vptr pointing at the complete-dtor slot. A non-virtual member function is
//! an `extern "C"` function whose first argument is `this`.
//!
//! Every function here that touches V8 must run on the thread that owns the current isolate
//! (the JS thread of the calling environment).

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Instant;

/// What receives the snapshot while it is generated and serialized.
pub trait SnapshotOutput {
    /// Whether to receive [`SnapshotOutput::progress`]. Progress is not free: with an
    /// `ActivityControl` V8 first walks the heap once more to count its objects.
    fn wants_progress(&self) -> bool {
        false
    }
    /// Generation progress (`done` of `total` heap objects). Return `false` to abort.
    fn progress(&mut self, _done: u32, _total: u32) -> bool {
        true
    }
    /// A piece of the snapshot's JSON text (pure ASCII). Return `false` to abort serialization.
    fn chunk(&mut self, bytes: &[u8]) -> bool;
}

/// How a [`take_snapshot`] call went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeReport {
    pub generate_ms: f64,
    pub serialize_ms: f64,
    /// V8 called `EndOfStream`: every byte of the snapshot reached the output.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeError {
    /// A required symbol did not resolve in this `node`.
    Unavailable,
    /// No isolate is entered on this thread.
    NoIsolate,
    /// V8 returned no snapshot (generation aborted or failed).
    GenerationFailed,
    /// Our own callback code panicked; the snapshot was abandoned.
    Panicked,
    /// A snapshot is already being taken on this thread (a re-entrant request, e.g. from a
    /// near-heap-limit callback run by the snapshot's own garbage collections).
    Busy,
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BridgeError::Unavailable => "the V8 heap profiler symbols are not available",
            BridgeError::NoIsolate => "no V8 isolate is current on this thread",
            BridgeError::GenerationFailed => "V8 returned no heap snapshot",
            BridgeError::Panicked => "the snapshot callback panicked",
            BridgeError::Busy => "a snapshot is already being taken on this thread",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Symbols

type GetCurrentFn = unsafe extern "C" fn() -> *mut c_void;
type GetHeapProfilerFn = unsafe extern "C" fn(isolate: *mut c_void) -> *mut c_void;
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
type DeleteFn = unsafe extern "C" fn(snapshot: *const c_void);

/// `v8::HeapProfiler::HeapSnapshotOptions`: 24 bytes on V8 11 (Node 20), 32 on V8 12+; fields
/// `control`@0, `global_object_name_resolver`@8, `snapshot_mode`@16, `numerics_mode`@20,
/// `stack_state`@24. All-zero (apart from `control`) means: hide internals, no numeric values,
/// conservative stack — what `v8.writeHeapSnapshot()` writes. Padded to 64 zero bytes so that a
/// V8 that reads a little further still reads zeros.
#[repr(C)]
struct HeapSnapshotOptions {
    control: *mut c_void,
    rest: [u64; 7],
}

/// One entry point and the names it has had across Node 16–26 (checked with `nm -D`).
struct Wanted {
    purpose: &'static str,
    candidates: &'static [&'static str],
}

const GET_CURRENT: Wanted = Wanted {
    purpose: "Isolate::GetCurrent",
    candidates: &["_ZN2v87Isolate10GetCurrentEv"],
};
const GET_HEAP_PROFILER: Wanted = Wanted {
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
const DELETE: Wanted = Wanted {
    purpose: "HeapSnapshot::Delete",
    candidates: &["_ZN2v812HeapSnapshot6DeleteEv"],
};
const ADD_NEAR_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::AddNearHeapLimitCallback",
    candidates: &["_ZN2v87Isolate24AddNearHeapLimitCallbackEPFmPvmmES1_"],
};
const REMOVE_NEAR_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::RemoveNearHeapLimitCallback",
    candidates: &["_ZN2v87Isolate27RemoveNearHeapLimitCallbackEPFmPvmmEm"],
};
const RESTORE_HEAP_LIMIT: Wanted = Wanted {
    purpose: "Isolate::AutomaticallyRestoreInitialHeapLimit",
    candidates: &["_ZN2v87Isolate36AutomaticallyRestoreInitialHeapLimitEd"],
};
const V8_REQUEST_INTERRUPT: Wanted = Wanted {
    purpose: "Isolate::RequestInterrupt",
    candidates: &["_ZN2v87Isolate16RequestInterruptEPFvPS0_PvES2_"],
};
const NODE_REQUEST_INTERRUPT: Wanted = Wanted {
    purpose: "node::RequestInterrupt",
    candidates: &["_ZN4node16RequestInterruptEPNS_11EnvironmentEPFvPvES2_"],
};
const GET_CURRENT_ENVIRONMENT: Wanted = Wanted {
    purpose: "node::GetCurrentEnvironment",
    candidates: &["_ZN4node21GetCurrentEnvironmentEN2v85LocalINS0_7ContextEEE"],
};
const GET_CURRENT_CONTEXT: Wanted = Wanted {
    purpose: "Isolate::GetCurrentContext",
    candidates: &["_ZN2v87Isolate17GetCurrentContextEv"],
};

const GET_HEAP_STATISTICS: Wanted = Wanted {
    purpose: "Isolate::GetHeapStatistics",
    candidates: &["_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE"],
};
const HEAP_STATISTICS_CTOR: Wanted = Wanted {
    purpose: "HeapStatistics::HeapStatistics",
    candidates: &["_ZN2v814HeapStatisticsC1Ev"],
};
const UV_AVAILABLE_MEMORY: Wanted = Wanted {
    purpose: "uv_get_available_memory",
    candidates: &["uv_get_available_memory"],
};
const UV_CONSTRAINED_MEMORY: Wanted = Wanted {
    purpose: "uv_get_constrained_memory",
    candidates: &["uv_get_constrained_memory"],
};
const UV_FREE_MEMORY: Wanted = Wanted {
    purpose: "uv_get_free_memory",
    candidates: &["uv_get_free_memory"],
};

const ALL: &[&Wanted] = &[
    &GET_CURRENT,
    &GET_HEAP_PROFILER,
    &TAKE_LEGACY,
    &TAKE_OPTIONS,
    &SERIALIZE,
    &DELETE,
    &ADD_NEAR_HEAP_LIMIT,
    &REMOVE_NEAR_HEAP_LIMIT,
    &RESTORE_HEAP_LIMIT,
    &V8_REQUEST_INTERRUPT,
    &NODE_REQUEST_INTERRUPT,
    &GET_CURRENT_ENVIRONMENT,
    &GET_CURRENT_CONTEXT,
    &GET_HEAP_STATISTICS,
    &HEAP_STATISTICS_CTOR,
    &UV_AVAILABLE_MEMORY,
    &UV_CONSTRAINED_MEMORY,
    &UV_FREE_MEMORY,
];

/// A resolved symbol: its address and the name it resolved under.
#[derive(Clone, Copy)]
struct Found {
    addr: usize,
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

struct Symbols {
    found: Vec<(&'static str, Option<Found>)>,
}

impl Symbols {
    fn get(&self, w: &Wanted) -> Option<Found> {
        self.found
            .iter()
            .find(|(purpose, _)| *purpose == w.purpose)
            .and_then(|(_, f)| *f)
    }
}

fn symbols() -> &'static Symbols {
    static SYMBOLS: OnceLock<Symbols> = OnceLock::new();
    SYMBOLS.get_or_init(|| Symbols {
        found: ALL.iter().map(|w| (w.purpose, resolve(w))).collect(),
    })
}

/// The entry points a snapshot needs, typed.
struct SnapshotApi {
    get_current: GetCurrentFn,
    get_heap_profiler: GetHeapProfilerFn,
    take: Take,
    serialize: SerializeFn,
    delete: DeleteFn,
}

#[derive(Clone, Copy)]
enum Take {
    Legacy(TakeLegacyFn),
    Options(TakeOptionsFn),
}

fn snapshot_api() -> Option<SnapshotApi> {
    let s = symbols();
    let take = match (s.get(&TAKE_LEGACY), s.get(&TAKE_OPTIONS)) {
        // SAFETY: the symbol is V8's four-argument HeapProfiler::TakeHeapSnapshot member
        // function, whose ABI (this, ActivityControl*, resolver*, bool, bool) -> const
        // HeapSnapshot* is what TakeLegacyFn declares.
        (Some(f), _) => Take::Legacy(unsafe { std::mem::transmute::<usize, TakeLegacyFn>(f.addr) }),
        // SAFETY: V8's TakeHeapSnapshot(const HeapSnapshotOptions&): a reference is a pointer.
        (None, Some(f)) => {
            Take::Options(unsafe { std::mem::transmute::<usize, TakeOptionsFn>(f.addr) })
        }
        (None, None) => return None,
    };
    let get_current = s.get(&GET_CURRENT)?.addr;
    let get_heap_profiler = s.get(&GET_HEAP_PROFILER)?.addr;
    let serialize = s.get(&SERIALIZE)?.addr;
    let delete = s.get(&DELETE)?.addr;
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

// ---------------------------------------------------------------------------------------------
// The hand-built C++ objects

/// What the OutputStream and ActivityControl objects share while V8 drives them.
struct Ctx<'a> {
    out: &'a mut dyn SnapshotOutput,
    ended: bool,
    panicked: bool,
}

/// `v8::OutputStream`'s vtable, Itanium layout.
#[repr(C)]
struct OutputStreamVTable {
    offset_to_top: isize,
    type_info: usize,
    complete_dtor: unsafe extern "C" fn(*mut c_void),
    deleting_dtor: unsafe extern "C" fn(*mut c_void),
    end_of_stream: unsafe extern "C" fn(*mut c_void),
    get_chunk_size: unsafe extern "C" fn(*mut c_void) -> c_int,
    write_ascii_chunk: unsafe extern "C" fn(*mut c_void, *mut c_char, c_int) -> c_int,
    write_heap_stats_chunk: unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int,
}

/// `v8::ActivityControl`'s vtable, Itanium layout.
#[repr(C)]
struct ActivityControlVTable {
    offset_to_top: isize,
    type_info: usize,
    complete_dtor: unsafe extern "C" fn(*mut c_void),
    deleting_dtor: unsafe extern "C" fn(*mut c_void),
    report_progress_value: unsafe extern "C" fn(*mut c_void, u32, u32) -> c_int,
}

/// The object V8 sees: a vptr, then (Rust-only) a pointer to the shared context.
#[repr(C)]
struct CppObject {
    vptr: *const c_void,
    ctx: *mut Ctx<'static>,
}

const K_CONTINUE: c_int = 0;
const K_ABORT: c_int = 1;
/// Bytes per `WriteAsciiChunk`, as Node's own streams use.
const CHUNK_SIZE: c_int = 65_536;

static OUTPUT_STREAM_VTABLE: OutputStreamVTable = OutputStreamVTable {
    offset_to_top: 0,
    type_info: 0, // V8 is built without RTTI and never reads it
    complete_dtor: noop_dtor,
    deleting_dtor: noop_dtor,
    end_of_stream,
    get_chunk_size,
    write_ascii_chunk,
    write_heap_stats_chunk,
};

static ACTIVITY_CONTROL_VTABLE: ActivityControlVTable = ActivityControlVTable {
    offset_to_top: 0,
    type_info: 0,
    complete_dtor: noop_dtor,
    deleting_dtor: noop_dtor,
    report_progress_value,
};

/// V8 never destroys these objects (they live on our stack); nothing to do if it did.
unsafe extern "C" fn noop_dtor(_this: *mut c_void) {}

/// Runs `f` on the context behind a `CppObject`, turning a panic into `None` (a panic must
/// not unwind into V8's C++ frames).
///
/// SAFETY (for callers): `this` must be a `CppObject` made by `take_snapshot` whose context is
/// alive, and no other reference to that context may be in use (V8 calls these one at a time
/// on the JS thread while `take_snapshot` is blocked in a V8 call).
unsafe fn with_ctx<R>(this: *mut c_void, f: impl FnOnce(&mut Ctx<'static>) -> R) -> Option<R> {
    // SAFETY: guaranteed by the caller, see above.
    let ctx = unsafe { &mut *(*(this as *mut CppObject)).ctx };
    if ctx.panicked {
        return None;
    }
    match catch_unwind(AssertUnwindSafe(|| f(&mut *ctx))) {
        Ok(r) => Some(r),
        Err(_) => {
            ctx.panicked = true;
            None
        }
    }
}

unsafe extern "C" fn end_of_stream(this: *mut c_void) {
    // SAFETY: V8 calls this on the OutputStream we passed to Serialize, during that call.
    unsafe { with_ctx(this, |ctx| ctx.ended = true) };
}

unsafe extern "C" fn get_chunk_size(_this: *mut c_void) -> c_int {
    CHUNK_SIZE
}

unsafe extern "C" fn write_ascii_chunk(this: *mut c_void, data: *mut c_char, size: c_int) -> c_int {
    if data.is_null() || size < 0 {
        return K_ABORT;
    }
    // SAFETY: V8 passes a buffer of `size` valid bytes that stays valid for this call only; it
    // is copied before returning.
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
    // SAFETY: V8 calls this on the OutputStream we passed to Serialize, during that call.
    match unsafe { with_ctx(this, |ctx| ctx.out.chunk(bytes)) } {
        Some(true) => K_CONTINUE,
        _ => K_ABORT,
    }
}

unsafe extern "C" fn write_heap_stats_chunk(
    _this: *mut c_void,
    _d: *mut c_void,
    _n: c_int,
) -> c_int {
    K_ABORT // V8's default: heap-stats streaming is not used for snapshots
}

unsafe extern "C" fn report_progress_value(this: *mut c_void, done: u32, total: u32) -> c_int {
    // SAFETY: V8 calls this on the ActivityControl we passed to TakeHeapSnapshot, during it.
    match unsafe { with_ctx(this, |ctx| ctx.out.progress(done, total)) } {
        Some(true) => K_CONTINUE,
        _ => K_ABORT,
    }
}

thread_local! {
    /// Whether a snapshot is being taken on this thread (one isolate per thread).
    static IN_SNAPSHOT: Cell<bool> = const { Cell::new(false) };
}

/// Whether [`take_snapshot`] is running on this thread.
pub fn in_snapshot() -> bool {
    IN_SNAPSHOT.with(|f| f.get())
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Generates a heap snapshot of the current isolate and serializes it (JSON) into `out`,
/// then frees it. Blocks the calling thread for the whole time; must be called on a JS thread
/// that has an isolate entered (inside an N-API call, or an interrupt on that thread).
pub fn take_snapshot(out: &mut dyn SnapshotOutput) -> Result<TakeReport, BridgeError> {
    let api = snapshot_api().ok_or(BridgeError::Unavailable)?;
    if IN_SNAPSHOT.with(|f| f.replace(true)) {
        return Err(BridgeError::Busy);
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_SNAPSHOT.with(|f| f.set(false));
        }
    }
    let _reset = Reset;
    // SAFETY: GetCurrent only reads V8's thread-local "entered isolate"; null if none.
    let isolate = unsafe { (api.get_current)() };
    if isolate.is_null() {
        return Err(BridgeError::NoIsolate);
    }
    // SAFETY: `isolate` is the live isolate entered on this thread.
    let profiler = unsafe { (api.get_heap_profiler)(isolate) };
    if profiler.is_null() {
        return Err(BridgeError::Unavailable);
    }

    // The context lives on this stack frame for the whole V8 call; the C++ objects only hold a
    // raw pointer to it. Its lifetime is erased to 'static for the raw pointer and never
    // escapes this function.
    let mut ctx = Ctx {
        out,
        ended: false,
        panicked: false,
    };
    // SAFETY: only the lifetime is changed; the pointer is used only while `ctx` is alive.
    let ctx_ptr: *mut Ctx<'static> = unsafe { std::mem::transmute(&mut ctx as *mut Ctx<'_>) };
    let mut control = CppObject {
        vptr: &ACTIVITY_CONTROL_VTABLE.complete_dtor as *const _ as *const c_void,
        ctx: ctx_ptr,
    };
    let mut stream = CppObject {
        vptr: &OUTPUT_STREAM_VTABLE.complete_dtor as *const _ as *const c_void,
        ctx: ctx_ptr,
    };

    let t0 = Instant::now();
    let control_ptr = if ctx.out.wants_progress() {
        &mut control as *mut CppObject as *mut c_void
    } else {
        std::ptr::null_mut() // as v8.writeHeapSnapshot does: no extra counting pass
    };
    let snapshot = match api.take {
        // SAFETY: `profiler` belongs to the current isolate; `control_ptr` is null or a valid
        // ActivityControl for the duration of the call; a null resolver is allowed;
        // (hide_internals = true, capture_numeric_value = false) is what Node passes.
        Take::Legacy(take) => unsafe {
            take(profiler, control_ptr, std::ptr::null_mut(), true, false)
        },
        Take::Options(take) => {
            let options = HeapSnapshotOptions {
                control: control_ptr,
                rest: [0; 7],
            };
            // SAFETY: as above; `options` outlives the call and is zero past `control`.
            unsafe { take(profiler, &options) }
        }
    };
    let generate_ms = ms_since(t0);
    if snapshot.is_null() {
        return Err(if ctx.panicked {
            BridgeError::Panicked
        } else {
            BridgeError::GenerationFailed
        });
    }
    let t1 = Instant::now();
    // SAFETY: `snapshot` is the live snapshot just returned; `stream` is a valid OutputStream
    // for the duration of the call; format 0 is kJSON. Delete frees it right after, on the
    // same thread, and nothing else holds it.
    unsafe {
        (api.serialize)(snapshot, &mut stream as *mut CppObject as *mut c_void, 0);
        (api.delete)(snapshot);
    }
    let serialize_ms = ms_since(t1);
    if ctx.panicked {
        return Err(BridgeError::Panicked);
    }
    Ok(TakeReport {
        generate_ms,
        serialize_ms,
        complete: ctx.ended,
    })
}

// ---------------------------------------------------------------------------------------------
// Environments and interrupts

type GetCurrentContextFn = unsafe extern "C" fn(isolate: *mut c_void) -> *mut c_void;
type GetCurrentEnvironmentFn = unsafe extern "C" fn(context: *mut c_void) -> *mut c_void;
type NodeRequestInterruptFn = unsafe extern "C" fn(
    env: *mut c_void,
    cb: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
);

/// A `node::Environment*`, as an opaque address. Only [`request_interrupt`] uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvHandle(usize);

/// The Node environment of the calling JS thread. Call it inside an N-API call (a HandleScope
/// is open there).
pub fn current_environment() -> Option<EnvHandle> {
    let s = symbols();
    let get_current = s.get(&GET_CURRENT)?.addr;
    let ctx_fn = s.get(&GET_CURRENT_CONTEXT)?.addr;
    let env_fn = s.get(&GET_CURRENT_ENVIRONMENT)?.addr;
    // SAFETY: the addresses are Isolate::GetCurrent (static, no arguments),
    // Isolate::GetCurrentContext(this) -> Local<Context> (one pointer, returned in a register)
    // and node::GetCurrentEnvironment(Local<Context>) -> Environment* (the Local passed as one
    // pointer). We are on a JS thread inside an N-API call, so an isolate is entered and a
    // HandleScope is open for the Local.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current)();
        if isolate.is_null() {
            return None;
        }
        let context = std::mem::transmute::<usize, GetCurrentContextFn>(ctx_fn)(isolate);
        if context.is_null() {
            return None;
        }
        let env = std::mem::transmute::<usize, GetCurrentEnvironmentFn>(env_fn)(context);
        (!env.is_null()).then_some(EnvHandle(env as usize))
    }
}

type InterruptTask = Box<dyn FnOnce() + Send>;

unsafe extern "C" fn interrupt_trampoline(data: *mut c_void) {
    // SAFETY: `data` is the Box leaked by request_interrupt for exactly this one call.
    let task = unsafe { Box::from_raw(data as *mut InterruptTask) };
    let _ = catch_unwind(AssertUnwindSafe(task));
}

/// Asks Node to run `task` on `env`'s JS thread as soon as possible: at the next V8 stack check
/// when JS is busy, or on a wake-up of the event loop when it is idle (`node::RequestInterrupt`).
/// `task` must not run JavaScript. Callable from any thread while `env` is alive: the caller
/// must guarantee that (see the environment cleanup hook in the binding layer).
pub fn request_interrupt(env: EnvHandle, task: InterruptTask) -> bool {
    let Some(f) = symbols().get(&NODE_REQUEST_INTERRUPT) else {
        return false;
    };
    let data = Box::into_raw(Box::new(task)) as *mut c_void;
    // SAFETY: node::RequestInterrupt(Environment*, void (*)(void*), void*) is thread-safe; `env`
    // is alive (caller's guarantee); the trampoline frees `data` when it runs. If Node never
    // runs it (the environment is torn down first) the box leaks, which is harmless.
    unsafe {
        std::mem::transmute::<usize, NodeRequestInterruptFn>(f.addr)(
            env.0 as *mut c_void,
            interrupt_trampoline,
            data,
        )
    };
    true
}

// ---------------------------------------------------------------------------------------------
// The near-heap-limit callback

type NearHeapLimitCallback = unsafe extern "C" fn(*mut c_void, usize, usize) -> usize;
type AddNearHeapLimitFn =
    unsafe extern "C" fn(isolate: *mut c_void, cb: NearHeapLimitCallback, data: *mut c_void);
type RemoveNearHeapLimitFn =
    unsafe extern "C" fn(isolate: *mut c_void, cb: NearHeapLimitCallback, heap_limit: usize);
type RestoreHeapLimitFn = unsafe extern "C" fn(isolate: *mut c_void, threshold_percent: f64);

/// What a near-heap-limit handler tells V8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NearLimitDecision {
    /// The new heap limit; the bridge raises it above `current` if it is not.
    pub new_limit: usize,
    /// Remove the callback once this (outermost) call returns.
    pub remove: bool,
}

/// Called with `(current_limit, initial_limit)`. It may be re-entered (the snapshot's own
/// garbage collections call V8's callback again); it must be cheap and must not take another
/// snapshot then.
pub type NearLimitHandler = Box<dyn Fn(usize, usize) -> NearLimitDecision>;

struct NearSlot {
    isolate: *mut c_void,
    handler: NearLimitHandler,
    depth: Cell<u32>,
    remove_pending: Cell<bool>,
}

thread_local! {
    /// The callback this thread's isolate has registered, if any. V8 crashes when a callback
    /// is added twice or one that is not registered is removed: this slot prevents both.
    static NEAR_SLOT: RefCell<Option<*mut NearSlot>> = const { RefCell::new(None) };
}

/// The smallest raise over `current` we ever return (V8 crashes on a limit <= current).
const MIN_RAISE: usize = 16 << 20;

unsafe extern "C" fn near_limit_trampoline(
    data: *mut c_void,
    current: usize,
    initial: usize,
) -> usize {
    let slot = data as *mut NearSlot;
    // SAFETY: `data` is the NearSlot leaked by near_heap_limit_install; it is freed only when
    // the outermost call of this trampoline removes the callback, never while a call runs.
    let s = unsafe { &*slot };
    s.depth.set(s.depth.get() + 1);
    let decision = catch_unwind(AssertUnwindSafe(|| (s.handler)(current, initial))).unwrap_or(
        NearLimitDecision {
            new_limit: current + MIN_RAISE,
            remove: true,
        },
    );
    s.depth.set(s.depth.get() - 1);
    if decision.remove {
        s.remove_pending.set(true);
    }
    let new_limit = decision.new_limit.max(current + MIN_RAISE);
    if s.depth.get() == 0 && s.remove_pending.get() {
        remove_slot(slot);
    }
    new_limit
}

/// Removes the callback of `slot` from V8 and frees it.
fn remove_slot(slot: *mut NearSlot) {
    let Some(f) = symbols().get(&REMOVE_NEAR_HEAP_LIMIT) else {
        return;
    };
    NEAR_SLOT.with(|cell| {
        if *cell.borrow() == Some(slot) {
            *cell.borrow_mut() = None;
        }
    });
    // SAFETY: the callback was added on this isolate with this trampoline (NEAR_SLOT tracked
    // it), so removing it is valid; heap_limit 0 leaves the limit as it is. Nothing uses the
    // slot after this: the only trampoline call that could is the one running us, at depth 0.
    unsafe {
        let s = Box::from_raw(slot);
        std::mem::transmute::<usize, RemoveNearHeapLimitFn>(f.addr)(
            s.isolate,
            near_limit_trampoline,
            0,
        );
    }
}

/// Installs `handler` as this isolate's near-heap-limit callback, replacing the handler of one
/// installed before (V8 is not called again then). Must run on the isolate's JS thread.
pub fn near_heap_limit_install(handler: NearLimitHandler) -> Result<(), BridgeError> {
    let s = symbols();
    let add = s
        .get(&ADD_NEAR_HEAP_LIMIT)
        .ok_or(BridgeError::Unavailable)?;
    s.get(&REMOVE_NEAR_HEAP_LIMIT)
        .ok_or(BridgeError::Unavailable)?;
    let get_current = s.get(&GET_CURRENT).ok_or(BridgeError::Unavailable)?;
    if near_heap_limit_installed() {
        near_heap_limit_remove();
    }
    // SAFETY: Isolate::GetCurrent takes no arguments and only reads a thread-local.
    let isolate = unsafe { std::mem::transmute::<usize, GetCurrentFn>(get_current.addr)() };
    if isolate.is_null() {
        return Err(BridgeError::NoIsolate);
    }
    let slot = Box::into_raw(Box::new(NearSlot {
        isolate,
        handler,
        depth: Cell::new(0),
        remove_pending: Cell::new(false),
    }));
    NEAR_SLOT.with(|cell| *cell.borrow_mut() = Some(slot));
    // SAFETY: Isolate::AddNearHeapLimitCallback(this, callback, data) on the current isolate,
    // from its own thread; no callback of ours is registered (removed above), and `slot`
    // stays alive until remove_slot.
    unsafe {
        std::mem::transmute::<usize, AddNearHeapLimitFn>(add.addr)(
            isolate,
            near_limit_trampoline,
            slot as *mut c_void,
        )
    };
    Ok(())
}

/// Whether this isolate has our near-heap-limit callback registered.
pub fn near_heap_limit_installed() -> bool {
    NEAR_SLOT.with(|cell| cell.borrow().is_some())
}

/// Removes this isolate's callback. Returns `false` (and does nothing) if none is registered.
/// Inside a running callback the removal happens when it returns.
pub fn near_heap_limit_remove() -> bool {
    let Some(slot) = NEAR_SLOT.with(|cell| *cell.borrow()) else {
        return false;
    };
    // SAFETY: the slot is registered, hence alive.
    let s = unsafe { &*slot };
    if s.depth.get() > 0 {
        s.remove_pending.set(true);
    } else {
        remove_slot(slot);
    }
    true
}

/// `Isolate::AutomaticallyRestoreInitialHeapLimit(fraction)` on the current isolate: once the
/// heap shrinks below `fraction` of the initial limit, V8 restores that limit.
pub fn restore_initial_heap_limit(fraction: f64) {
    let s = symbols();
    let (Some(get_current), Some(f)) = (s.get(&GET_CURRENT), s.get(&RESTORE_HEAP_LIMIT)) else {
        return;
    };
    // SAFETY: GetCurrent reads a thread-local; the restore call takes (this, double) and runs
    // on the isolate's own thread.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current.addr)();
        if !isolate.is_null() {
            std::mem::transmute::<usize, RestoreHeapLimitFn>(f.addr)(isolate, fraction);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Heap statistics and available memory

type HeapStatisticsCtorFn = unsafe extern "C" fn(this: *mut c_void);
type GetHeapStatisticsFn = unsafe extern "C" fn(isolate: *mut c_void, stats: *mut c_void);
type UvMemoryFn = unsafe extern "C" fn() -> u64;

/// `v8::HeapStatistics`, the fields whose offsets are the same on Node 18–26.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapStats {
    pub total_heap_size: u64,
    pub total_heap_size_executable: u64,
    pub total_physical_size: u64,
    pub total_available_size: u64,
    pub used_heap_size: u64,
    pub heap_size_limit: u64,
    pub malloced_memory: u64,
    pub external_memory: u64,
    pub peak_malloced_memory: u64,
    pub number_of_native_contexts: u64,
    pub number_of_detached_contexts: u64,
}

/// The current isolate's heap statistics, read without running JavaScript.
pub fn heap_statistics() -> Option<HeapStats> {
    let s = symbols();
    let get_current = s.get(&GET_CURRENT)?.addr;
    let ctor = s.get(&HEAP_STATISTICS_CTOR)?.addr;
    let get = s.get(&GET_HEAP_STATISTICS)?.addr;
    // v8::HeapStatistics is 112 bytes on V8 10-14.1 and 120 on 14.6; 256 leaves room.
    let mut buf = [0u64; 32];
    // SAFETY: the constructor initialises a HeapStatistics at `buf` (larger than any known
    // layout), and Isolate::GetHeapStatistics(this, HeapStatistics*) fills it, on the
    // isolate's own thread.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current)();
        if isolate.is_null() {
            return None;
        }
        let p = buf.as_mut_ptr() as *mut c_void;
        std::mem::transmute::<usize, HeapStatisticsCtorFn>(ctor)(p);
        std::mem::transmute::<usize, GetHeapStatisticsFn>(get)(isolate, p);
    }
    Some(HeapStats {
        total_heap_size: buf[0],
        total_heap_size_executable: buf[1],
        total_physical_size: buf[2],
        total_available_size: buf[3],
        used_heap_size: buf[4],
        heap_size_limit: buf[5],
        malloced_memory: buf[6],
        external_memory: buf[7],
        peak_malloced_memory: buf[8],
        // buf[9] is does_zap_garbage (a bool and padding)
        number_of_native_contexts: buf[10],
        number_of_detached_contexts: buf[11],
    })
}

/// Memory the process may still use, as libuv sees it: `uv_get_available_memory` (cgroup-aware,
/// Node 20+), else the cgroup limit or, without one, the free memory.
pub fn available_memory() -> Option<u64> {
    let s = symbols();
    let call = |w: &Wanted| {
        s.get(w).map(|f| {
            // SAFETY: these libuv functions take no arguments and return a uint64_t.
            unsafe { std::mem::transmute::<usize, UvMemoryFn>(f.addr)() }
        })
    };
    if let Some(v) = call(&UV_AVAILABLE_MEMORY).filter(|v| *v > 0) {
        return Some(v);
    }
    let free = call(&UV_FREE_MEMORY);
    match call(&UV_CONSTRAINED_MEMORY).filter(|v| *v > 0 && *v < u64::MAX / 2) {
        Some(limit) => Some(free.map_or(limit, |f| f.min(limit))),
        None => free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtables_have_the_itanium_shape() {
        // vptr points two words in: the complete dtor, then the deleting dtor, then methods.
        assert_eq!(
            std::mem::size_of::<OutputStreamVTable>(),
            8 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<ActivityControlVTable>(),
            5 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::offset_of!(OutputStreamVTable, complete_dtor),
            2 * std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::offset_of!(OutputStreamVTable, write_ascii_chunk),
            6 * std::mem::size_of::<usize>()
        );
        assert_eq!(std::mem::offset_of!(CppObject, vptr), 0);
        assert!(std::mem::size_of::<HeapSnapshotOptions>() >= 32);
    }

    #[test]
    fn outside_node_nothing_resolves_and_the_bridge_says_so() {
        // `cargo test` runs outside node: no V8 symbol exists, so the caller must fall back.
        let caps = capabilities();
        assert!(!caps.native);
        assert_eq!(caps.take_variant, None);
        assert_eq!(caps.symbols.len(), ALL.len());
        struct Null;
        impl SnapshotOutput for Null {
            fn chunk(&mut self, _: &[u8]) -> bool {
                true
            }
        }
        assert_eq!(take_snapshot(&mut Null), Err(BridgeError::Unavailable));
    }
}
