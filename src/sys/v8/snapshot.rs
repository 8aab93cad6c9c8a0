//! Taking a snapshot: generation through `HeapProfiler::TakeHeapSnapshot`, serialization
//! through `HeapSnapshot::Serialize` into the hand-built `OutputStream`, then
//! `HeapSnapshot::Delete`.
//!
//! Two ways: [`take_snapshot`] does all three on the calling JS thread;
//! [`take_snapshot_background`] generates on the JS thread, serializes on a Rust thread of its
//! own, and leaves the `Delete` to the JS thread (see [`settle_background`]).
//!
//! The background rules, enforced here for every caller:
//! - The snapshot pointer is handed to exactly one serializer thread, which uses it only until
//!   it marks its [`BgState`] done. The pointer itself stays in this JS thread's
//!   `OUTSTANDING` list, and only the JS thread deletes it, after `done`.
//! - Every generation on a thread first waits for that thread's running serializations and
//!   deletes their snapshots ([`settle_background`] with `wait`), so V8's heap profiler never
//!   generates while one of ours serializes, and the memory check never runs while a finished
//!   snapshot is still alive.
//! - An environment being torn down (worker termination, exit) cancels the running
//!   serializations (the output stream aborts), waits for them, and deletes the snapshots,
//!   before V8's isolate goes away.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::objects::{CppObject, Ctx};
use super::symbols::{
    snapshot_api, symbols, GetCurrentFn, GetHeapProfilerFn, HeapSnapshotOptions, SnapshotApi, Take,
    CLEAR_OBJECT_IDS, GET_CURRENT, GET_HEAP_PROFILER,
};

type ClearObjectIdsFn = unsafe extern "C" fn(profiler: *mut c_void);
use super::{BridgeError, SnapshotOutput, TakeReport};

thread_local! {
    /// Whether a snapshot is being taken on this thread (one isolate per thread).
    static IN_SNAPSHOT: Cell<bool> = const { Cell::new(false) };
    /// Snapshots of this thread's isolate handed to a serializer thread and not deleted yet.
    static OUTSTANDING: RefCell<Vec<Outstanding>> = const { RefCell::new(Vec::new()) };
}

/// A background serialization, shared by the JS thread and its serializer thread.
struct BgState {
    /// The serializer thread no longer uses the snapshot.
    done: Mutex<bool>,
    cv: Condvar,
    /// Ask the serializer to stop (the output stream returns kAbort from its next chunk).
    cancel: AtomicBool,
}

impl BgState {
    fn mark_done(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }
    fn is_done(&self) -> bool {
        *self.done.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn wait_done(&self) {
        let g = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let _g = self
            .cv
            .wait_while(g, |d| !*d)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// One snapshot owned by the JS thread whose serialization runs elsewhere.
struct Outstanding {
    /// The `const v8::HeapSnapshot*`, as an address. Deleted only on the owning JS thread.
    snapshot: usize,
    delete: super::symbols::DeleteFn,
    state: Arc<BgState>,
}

/// Whether [`take_snapshot`] is running on this thread.
pub fn in_snapshot() -> bool {
    IN_SNAPSHOT.with(|f| f.get())
}

/// How many of this thread's snapshots are still serializing or awaiting their `Delete`.
pub fn background_outstanding() -> usize {
    OUTSTANDING.with(|o| o.borrow().len())
}

/// Deletes this thread's snapshots whose background serialization has ended. With `wait`,
/// first waits for the running ones (with `cancel` too, asks them to stop). Must run on a JS
/// thread whose isolate is alive (an N-API call, an interrupt, an env cleanup hook). Returns
/// how many snapshots it deleted.
pub fn settle_background(wait: bool, cancel: bool) -> usize {
    if in_snapshot() {
        // Called from inside a generation (a V8 callback): never delete then. Generation
        // itself settles before it starts, so nothing is outstanding here anyway.
        return 0;
    }
    // Take the list out first: nothing below may re-enter OUTSTANDING while it is borrowed.
    let list = OUTSTANDING.with(|o| std::mem::take(&mut *o.borrow_mut()));
    if list.is_empty() {
        return 0;
    }
    let mut keep = Vec::new();
    let mut deleted = 0;
    for item in list {
        if cancel {
            item.state.cancel.store(true, Ordering::SeqCst);
        }
        if wait {
            item.state.wait_done();
        }
        if item.state.is_done() {
            // SAFETY: `snapshot` was returned by TakeHeapSnapshot on this thread's isolate,
            // which is alive (caller's guarantee); its serializer thread has marked `done`, so
            // nothing else uses it any more; it is in OUTSTANDING exactly once and was just
            // removed from it, so it is deleted exactly once.
            unsafe { (item.delete)(item.snapshot as *const c_void) };
            deleted += 1;
        } else {
            keep.push(item);
        }
    }
    if !keep.is_empty() {
        OUTSTANDING.with(|o| {
            let mut o = o.borrow_mut();
            keep.append(&mut o);
            *o = keep;
        });
    }
    deleted
}

/// Drops V8's object-id map (`HeapProfiler::ClearObjectIds`): ~60 bytes per live object that
/// the first snapshot creates and V8 keeps for the profiler's life, so that ids match across
/// snapshots. Later snapshots number the objects afresh. Only when no snapshot of this thread
/// is alive or serializing (the serializer reads the map) and none is being taken; the caller
/// also makes sure no heap-object tracking or sampling uses the ids. `false` when it did not.
pub fn release_object_ids() -> bool {
    if in_snapshot() || background_outstanding() > 0 {
        return false;
    }
    let s = symbols();
    let (Some(get_current), Some(get_profiler), Some(clear)) = (
        s.get(&GET_CURRENT),
        s.get(&GET_HEAP_PROFILER),
        s.get(&CLEAR_OBJECT_IDS),
    ) else {
        return false;
    };
    // SAFETY: Isolate::GetCurrent() returns this thread's entered isolate (or null);
    // Isolate::GetHeapProfiler(this) its profiler; HeapProfiler::ClearObjectIds(this) replaces
    // the profiler's id map. No snapshot of this thread is alive or serializing (checked
    // above), so nothing reads the old map.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current.addr)();
        if isolate.is_null() {
            return false;
        }
        let profiler = std::mem::transmute::<usize, GetHeapProfilerFn>(get_profiler.addr)(isolate);
        if profiler.is_null() {
            return false;
        }
        std::mem::transmute::<usize, ClearObjectIdsFn>(clear.addr)(profiler);
    }
    true
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Resets IN_SNAPSHOT when dropped.
struct Reset;
impl Drop for Reset {
    fn drop(&mut self) {
        IN_SNAPSHOT.with(|f| f.set(false));
    }
}

/// What generation left: the live snapshot and what it measured.
struct Generated {
    api: SnapshotApi,
    snapshot: *const c_void,
    generate_ms: f64,
    node_count: Option<u64>,
}

/// Waits for this thread's background serializations, then generates a snapshot with `out`
/// receiving progress. Must be called on a JS thread that has an isolate entered.
fn generate(out: &mut dyn SnapshotOutput) -> Result<(Generated, Reset), BridgeError> {
    let api = snapshot_api().ok_or(BridgeError::Unavailable)?;
    if in_snapshot() {
        return Err(BridgeError::Busy);
    }
    // SAFETY: GetCurrent only reads V8's thread-local "entered isolate"; null if none.
    let isolate = unsafe { (api.get_current)() };
    if isolate.is_null() {
        return Err(BridgeError::NoIsolate);
    }
    // No generation while one of ours serializes: wait, then free those snapshots.
    settle_background(true, false);
    IN_SNAPSHOT.with(|f| f.set(true));
    let reset = Reset;
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
    let mut control = CppObject::activity_control(ctx_ptr);
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
    let node_count = api.nodes_count.map(|count| {
        // SAFETY: `snapshot` is the live snapshot just returned; GetNodesCount only reads it.
        let n = unsafe { count(snapshot) };
        u64::try_from(n).unwrap_or(0)
    });
    ctx.out.generated(node_count);
    if ctx.panicked {
        // SAFETY: the live snapshot just returned, used by nobody else; deleted once.
        unsafe { (api.delete)(snapshot) };
        return Err(BridgeError::Panicked);
    }
    Ok((
        Generated {
            api,
            snapshot,
            generate_ms,
            node_count,
        },
        reset,
    ))
}

/// Serializes `snapshot` (JSON) into `out`. Returns (serialize ms, complete, panicked).
///
/// # Safety
/// `snapshot` must be a live snapshot that nothing deletes during the call, and no heap
/// profiler state it reads may change meanwhile (see [`take_snapshot_background`]).
unsafe fn serialize(
    api: &SnapshotApi,
    snapshot: *const c_void,
    out: &mut dyn SnapshotOutput,
) -> (f64, bool, bool) {
    let mut ctx = Ctx {
        out,
        ended: false,
        panicked: false,
    };
    // SAFETY: only the lifetime is changed; the pointer is used only while `ctx` is alive.
    let ctx_ptr: *mut Ctx<'static> = unsafe { std::mem::transmute(&mut ctx as *mut Ctx<'_>) };
    let mut stream = CppObject::output_stream(ctx_ptr);
    let t1 = Instant::now();
    // SAFETY: `snapshot` is live and not deleted during the call (caller's guarantee);
    // `stream` is a valid OutputStream for the duration of the call; format 0 is kJSON.
    unsafe { (api.serialize)(snapshot, &mut stream as *mut CppObject as *mut c_void, 0) };
    (ms_since(t1), ctx.ended, ctx.panicked)
}

/// Generates a heap snapshot of the current isolate and serializes it (JSON) into `out`,
/// then frees it. Blocks the calling thread for the whole time; must be called on a JS thread
/// that has an isolate entered (inside an N-API call, or an interrupt on that thread).
pub fn take_snapshot(out: &mut dyn SnapshotOutput) -> Result<TakeReport, BridgeError> {
    let (g, _reset) = generate(out)?;
    // SAFETY: the snapshot was just generated on this thread and is deleted right after, on
    // the same thread; nothing else holds it, and the JS thread is blocked in this call.
    let (serialize_ms, complete, panicked) = unsafe { serialize(&g.api, g.snapshot, out) };
    // SAFETY: the live snapshot, used by nobody else any more; deleted once.
    unsafe { (g.api.delete)(g.snapshot) };
    if panicked {
        return Err(BridgeError::Panicked);
    }
    Ok(TakeReport {
        generate_ms: g.generate_ms,
        serialize_ms,
        complete,
        node_count: g.node_count,
    })
}

/// Passes everything through, and aborts serialization once `cancel` is set.
struct Cancellable<O> {
    out: O,
    state: Arc<BgState>,
}

impl<O: SnapshotOutput> SnapshotOutput for Cancellable<O> {
    fn chunk(&mut self, bytes: &[u8]) -> bool {
        !self.state.cancel.load(Ordering::Relaxed) && self.out.chunk(bytes)
    }
}

/// The snapshot address, sent to the serializer thread.
struct SendPtr(*const c_void);
// SAFETY: a `HeapSnapshot` is a finished, self-contained graph (its entries, edges and names
// were copied out of the heap during generation). The serializer thread is its only user
// until it marks `done`; the JS thread deletes it only after that (settle_background). The
// heap profiler state Serialize also reads (the id map's samples, the allocation tracker,
// the shared string storage) is kept from changing by the callers: no generation runs while a
// serialization does (generate waits), and the binding layer serializes inline whenever an
// allocation tracker, the sampling heap profiler or an inspector session may be active.
unsafe impl Send for SendPtr {}

/// Generates a snapshot on this JS thread (blocking it), then serializes it on a new thread
/// into `out`, and returns. `done` runs on that thread when serialization ends, with `out`
/// back and the report. The snapshot is deleted later on this JS thread: by the next
/// [`settle_background`] (the binding calls it when it is told the serialization ended, and
/// every generation and environment teardown does too).
///
/// Callers must make sure nothing else uses V8's heap profiler on this isolate while the
/// serialization runs: no allocation tracking, no sampling heap profiler, no inspector
/// session (see the module documentation).
///
/// On a generation error, `out` is returned with it. When the thread cannot be started the
/// serialization runs inline and `done` is called before this returns.
pub fn take_snapshot_background<O, F>(
    mut out: O,
    done: F,
) -> Result<(f64, Option<u64>), (O, BridgeError)>
where
    O: SnapshotOutput + Send + 'static,
    F: FnOnce(O, Result<TakeReport, BridgeError>) + Send + 'static,
{
    let (g, _reset) = match generate(&mut out) {
        Ok(g) => g,
        Err(e) => return Err((out, e)),
    };
    let state = Arc::new(BgState {
        done: Mutex::new(false),
        cv: Condvar::new(),
        cancel: AtomicBool::new(false),
    });
    let (generate_ms, node_count) = (g.generate_ms, g.node_count);
    let delete = g.api.delete;
    let snapshot = SendPtr(g.snapshot);
    let thread_state = state.clone();
    let job = move || {
        let snapshot = snapshot;
        let Some(api) = snapshot_api() else {
            // Unreachable: generation resolved the same symbols. Never touch the snapshot.
            thread_state.mark_done();
            done(out, Err(BridgeError::Unavailable));
            return;
        };
        let mut wrapped = Cancellable {
            out,
            state: thread_state.clone(),
        };
        // SAFETY: see SendPtr: the snapshot is alive until `done` is marked below, and only
        // this thread uses it until then.
        let (serialize_ms, complete, panicked) =
            unsafe { serialize(&api, snapshot.0, &mut wrapped) };
        // From here on this thread never touches the snapshot again.
        thread_state.mark_done();
        let Cancellable { out, .. } = wrapped;
        let report = if panicked {
            Err(BridgeError::Panicked)
        } else {
            Ok(TakeReport {
                generate_ms,
                serialize_ms,
                complete,
                node_count,
            })
        };
        done(out, report);
    };
    // Registered before the thread starts, so a settle on this thread always sees it.
    OUTSTANDING.with(|o| {
        o.borrow_mut().push(Outstanding {
            snapshot: g.snapshot as usize,
            delete,
            state: state.clone(),
        })
    });
    // The job is handed over through a slot, so that it can still run here when no thread
    // can be started.
    let slot = Arc::new(Mutex::new(Some(job)));
    let thread_slot = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("heapsnap-serialize".into())
        .spawn(move || {
            let job = thread_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(job) = job {
                job();
            }
        });
    if spawned.is_err() {
        // No thread: serialize inline, on this JS thread, then delete at once.
        let job = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(job) = job {
            job();
        }
        settle_background(false, false);
    }
    Ok((generate_ms, node_count))
}
