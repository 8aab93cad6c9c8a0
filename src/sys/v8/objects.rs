//! The hand-built C++ objects V8 calls back into: a `v8::OutputStream` and a
//! `v8::ActivityControl`, each a `#[repr(C)]` struct whose vptr points into a static table laid
//! out as the Itanium C++ ABI lays out a vtable.

use std::ffi::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::SnapshotOutput;

/// What the OutputStream and ActivityControl objects share while V8 drives them.
pub(super) struct Ctx<'a> {
    pub(super) out: &'a mut dyn SnapshotOutput,
    pub(super) ended: bool,
    pub(super) panicked: bool,
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
pub(super) struct CppObject {
    vptr: *const c_void,
    ctx: *mut Ctx<'static>,
}

impl CppObject {
    /// A `v8::OutputStream` that feeds `ctx`.
    pub(super) fn output_stream(ctx: *mut Ctx<'static>) -> Self {
        CppObject {
            vptr: &OUTPUT_STREAM_VTABLE.complete_dtor as *const _ as *const c_void,
            ctx,
        }
    }

    /// A `v8::ActivityControl` that reports progress to `ctx`.
    pub(super) fn activity_control(ctx: *mut Ctx<'static>) -> Self {
        CppObject {
            vptr: &ACTIVITY_CONTROL_VTABLE.complete_dtor as *const _ as *const c_void,
            ctx,
        }
    }
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
// SAFETY: no requirement on callers: `this` is not used. The function is `unsafe` only because
// the vtable slot's type (shared with the methods below) is.
unsafe extern "C" fn noop_dtor(_this: *mut c_void) {}

/// Runs `f` on the context behind a `CppObject`, turning a panic into `None` (a panic must
/// not unwind into V8's C++ frames).
// SAFETY: callers must pass as `this` a `CppObject` made by `take_snapshot` whose context is
// alive, and no other reference to that context may be in use (V8 calls the methods below one
// at a time on the JS thread while `take_snapshot` is blocked in a V8 call).
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

// SAFETY: V8 calls this only through the vtable above, with `this` the object `take_snapshot`
// handed to it, during that V8 call: the contract of `with_ctx`.
unsafe extern "C" fn end_of_stream(this: *mut c_void) {
    // SAFETY: V8 calls this on the OutputStream we passed to Serialize, during that call.
    unsafe { with_ctx(this, |ctx| ctx.ended = true) };
}

// SAFETY: no requirement on callers: `this` is not used.
unsafe extern "C" fn get_chunk_size(_this: *mut c_void) -> c_int {
    CHUNK_SIZE
}

// SAFETY: V8 calls this only through the vtable above, with `this` the object `take_snapshot`
// handed to it, during that V8 call (the contract of `with_ctx`), and with `data` null or
// pointing at `size` readable bytes.
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

// SAFETY: no requirement on callers: no argument is used.
unsafe extern "C" fn write_heap_stats_chunk(
    _this: *mut c_void,
    _d: *mut c_void,
    _n: c_int,
) -> c_int {
    K_ABORT // V8's default: heap-stats streaming is not used for snapshots
}

// SAFETY: V8 calls this only through the vtable above, with `this` the object `take_snapshot`
// handed to it, during that V8 call: the contract of `with_ctx`.
unsafe extern "C" fn report_progress_value(this: *mut c_void, done: u32, total: u32) -> c_int {
    // SAFETY: V8 calls this on the ActivityControl we passed to TakeHeapSnapshot, during it.
    match unsafe { with_ctx(this, |ctx| ctx.out.progress(done, total)) } {
        Some(true) => K_CONTINUE,
        _ => K_ABORT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::v8::symbols::HeapSnapshotOptions;

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
}
