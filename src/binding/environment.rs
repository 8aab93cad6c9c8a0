//! The registry of JS environments (main thread and workers). Each registers once at module
//! load with what it knows about itself (for sidecars written without JavaScript), and an env
//! cleanup hook removes it, so no request ever targets a dead environment.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::dump::ProcessInfo;
use crate::sys::{signal, v8};

/// One registered JS environment (main thread or worker).
pub(crate) struct EnvSlot {
    /// `None` once the environment is being torn down.
    pub(crate) env: Mutex<Option<v8::EnvHandle>>,
    pub(crate) info: ProcessInfo,
    /// The value of `signal::REQUESTED` this environment's last signal dump covered.
    pub(crate) served: AtomicU64,
    pub(crate) interrupt_pending: AtomicBool,
}

static SLOTS: Mutex<Vec<Arc<EnvSlot>>> = Mutex::new(Vec::new());

thread_local! {
    static CURRENT: RefCell<Option<Arc<EnvSlot>>> = const { RefCell::new(None) };
}

/// Locks, ignoring poisoning (a panic elsewhere must not disable the triggers).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The calling thread's environment, if it registered.
pub(crate) fn current_slot() -> Option<Arc<EnvSlot>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Every registered environment.
pub(crate) fn all_slots() -> Vec<Arc<EnvSlot>> {
    lock(&SLOTS).clone()
}

/// The calling thread's process description (a default one when it did not register).
pub(crate) fn current_info() -> ProcessInfo {
    current_slot().map(|s| s.info.clone()).unwrap_or_default()
}

/// Registers the calling environment (once per environment, at module load) with what it says
/// about itself: the JSON text of `{ version, node, v8, hostname, platform, arch, threadId,
/// isMainThread }`. `true` when the bridge found this environment's `node::Environment`
/// (interrupts can reach it).
#[napi]
pub fn register_environment(env: Env, info: String) -> Result<bool> {
    if current_slot().is_some() {
        return Ok(true);
    }
    let info: ProcessInfo = serde_json::from_str(&info)
        .map_err(|e| Error::new(Status::InvalidArg, format!("info: {e}")))?;
    let slot = Arc::new(EnvSlot {
        env: Mutex::new(v8::current_environment()),
        info,
        served: AtomicU64::new(signal::REQUESTED.load(Ordering::SeqCst)),
        interrupt_pending: AtomicBool::new(false),
    });
    let found = lock(&slot.env).is_some();
    lock(&SLOTS).push(slot.clone());
    CURRENT.with(|c| *c.borrow_mut() = Some(slot.clone()));
    signal::set_wake(Box::new(super::triggers::wake_signal_targets));
    env.add_env_cleanup_hook(slot, |slot| {
        // The environment is going away: no interrupt may target it from now on.
        *lock(&slot.env) = None;
        // Stop this thread's background serializations and free their snapshots while V8's
        // isolate still exists (a worker terminated mid-serialization leaves no file).
        v8::settle_background(true, true);
        lock(&SLOTS).retain(|s| !Arc::ptr_eq(s, &slot));
        CURRENT.with(|c| c.borrow_mut().take());
        v8::near_heap_limit_remove();
        super::dump::forget_thread();
    })?;
    Ok(found)
}
