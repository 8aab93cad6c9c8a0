//! Taking a snapshot: generation through `HeapProfiler::TakeHeapSnapshot`, serialization
//! through `HeapSnapshot::Serialize` into the hand-built `OutputStream`.

use std::cell::Cell;
use std::ffi::c_void;
use std::time::Instant;

use super::objects::{CppObject, Ctx};
use super::symbols::{snapshot_api, HeapSnapshotOptions, Take};
use super::{BridgeError, SnapshotOutput, TakeReport};

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
    let mut control = CppObject::activity_control(ctx_ptr);
    let mut stream = CppObject::output_stream(ctx_ptr);

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
        node_count,
    })
}
