//! V8's near-heap-limit callback: installed once per isolate, re-entrant, removable from inside.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::symbols::{
    symbols, GetCurrentFn, ADD_NEAR_HEAP_LIMIT, GET_CURRENT, REMOVE_NEAR_HEAP_LIMIT,
    RESTORE_HEAP_LIMIT,
};
use super::BridgeError;

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

// SAFETY: callers (V8, on the isolate's thread) must pass as `data` the pointer given to
// AddNearHeapLimitCallback with this function, i.e. a NearSlot that has not been freed: V8 calls
// it only while the callback is registered, and remove_slot unregisters before freeing.
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
