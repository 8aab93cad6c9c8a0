//! Exports for the triggers: signal handler install/remove and the near-heap-limit hook. Their
//! dumps run on the JS thread without JavaScript, through the same [`run`] as the API's.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Map, Value};

use super::dump::{plan_of, run, DumpRequest, Wait};
use super::environment::{all_slots, current_slot, lock, EnvSlot};
use super::options::DumpOptions;
use crate::core::dump::{self, DumpPlan};
use crate::core::{naming, sink};
use crate::sys::{signal, v8};

/// The sidecar's `trigger` of a near-heap-limit dump.
const NEAR_LIMIT_TRIGGER: &str = "near-heap-limit";

static SIGNAL_PLAN: Mutex<Option<SignalPlan>> = Mutex::new(None);

#[derive(Clone)]
struct SignalPlan {
    dump: DumpPlan,
    workers: bool,
}

/// A trigger's dump of this thread's isolate, now (on the JS thread, no JavaScript). With
/// `wait`, returns once the file is durable.
fn trigger_dump(plan: &DumpPlan, trigger: &str, extra: Map<String, Value>, wait: bool) {
    let req = DumpRequest {
        plan: plan.clone(),
        path: None,
        trigger: trigger.into(),
        extra,
        figures: None,
        raw_file: None,
        stall_ms: 0.0,
        // Dumps without JavaScript (JS may be stuck or near its heap limit): inline.
        background: false,
        // V8 calls the near-heap-limit hook from inside a GC: no second one from there.
        may_collect: trigger != NEAR_LIMIT_TRIGGER,
    };
    run(
        req,
        if wait {
            Wait::Block
        } else {
            Wait::Notify(Box::new(|_| {}))
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Signals

/// Called by the signal watcher thread after a signal: asks each target environment's JS
/// thread to run the dump.
pub(crate) fn wake_signal_targets() {
    let Some(plan) = lock(&SIGNAL_PLAN).clone() else {
        return;
    };
    for slot in all_slots() {
        if slot.info.is_main_thread || plan.workers {
            request_signal_dump(&slot);
        }
    }
}

fn request_signal_dump(slot: &Arc<EnvSlot>) {
    if slot.interrupt_pending.swap(true, Ordering::SeqCst) {
        return; // one request at a time; it will cover this signal too
    }
    let env = lock(&slot.env);
    let requested = match *env {
        Some(handle) => {
            let s = slot.clone();
            v8::request_interrupt(
                handle,
                Box::new(move || {
                    s.interrupt_pending.store(false, Ordering::SeqCst);
                    serve_signal(&s);
                }),
            )
        }
        None => false,
    };
    if !requested {
        slot.interrupt_pending.store(false, Ordering::SeqCst);
    }
}

/// On the JS thread: dumps once for all signals not yet served by this environment.
fn serve_signal(slot: &EnvSlot) {
    if lock(&slot.env).is_none() {
        return;
    }
    let requested = signal::REQUESTED.load(Ordering::SeqCst);
    if slot.served.load(Ordering::SeqCst) >= requested || v8::in_snapshot() {
        return;
    }
    slot.served.store(requested, Ordering::SeqCst);
    let Some(plan) = lock(&SIGNAL_PLAN).clone() else {
        return;
    };
    if !slot.info.is_main_thread && !plan.workers {
        return;
    }
    let mut extra = Map::new();
    let signal_ns = signal::LAST_SIGNAL_NS.load(Ordering::SeqCst);
    if signal_ns > 0 {
        let at = UNIX_EPOCH + Duration::from_nanos(signal_ns);
        extra.insert("signalTime".into(), naming::iso8601(at).into());
        let latency = SystemTime::now()
            .duration_since(at)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        extra.insert(
            "signalLatencyMs".into(),
            crate::core::sink::round3(latency).into(),
        );
    }
    trigger_dump(&plan.dump, "signal", extra, false);
}

/// Installs the raw signal handler (over libuv's, which the JS side has made sure is present
/// by listening with `process.on` first) and sets what a signal dumps.
#[napi]
pub fn install_signal(signum: i32, options: DumpOptions) -> Result<()> {
    let plan = SignalPlan {
        dump: plan_of(&options)?,
        workers: options.workers.unwrap_or(false),
    };
    *lock(&SIGNAL_PLAN) = Some(plan);
    // Signals before this point are not ours to serve.
    let now = signal::REQUESTED.load(Ordering::SeqCst);
    for slot in all_slots() {
        slot.served.fetch_max(now, Ordering::SeqCst);
    }
    signal::install(signum).map_err(|e| {
        *lock(&SIGNAL_PLAN) = None;
        Error::from_reason(format!("heapsnap: sigaction failed: {e}"))
    })
}

/// Restores the signal's previous action. `false` if no handler was installed.
#[napi]
pub fn remove_signal() -> bool {
    *lock(&SIGNAL_PLAN) = None;
    signal::uninstall()
}

/// The JS listener's path (libuv delivered the signal and the event loop turned). If our raw
/// handler saw this signal, the interrupt may have dumped already: the counters decide. If
/// someone replaced our raw handler, count the signal here.
#[napi]
pub fn signal_from_loop() {
    let ours = signal::installed_signal().is_some_and(signal::handler_is_ours);
    if !ours {
        signal::REQUESTED.fetch_add(1, Ordering::SeqCst);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        signal::LAST_SIGNAL_NS.store(now, Ordering::SeqCst);
        // Workers get their dump through interrupts, as from the raw handler (the main
        // thread's request finds the signal already served below and does nothing).
        wake_signal_targets();
    }
    if let Some(slot) = current_slot() {
        serve_signal(&slot);
    }
}

// ---------------------------------------------------------------------------------------------
// Near-heap-limit

struct NearState {
    plan: DumpPlan,
    max: u32,
    taken: Cell<u32>,
    in_progress: Cell<bool>,
}

/// Installs (or reconfigures) this isolate's near-heap-limit dump.
#[napi]
pub fn on_near_heap_limit(options: DumpOptions) -> Result<()> {
    if current_slot().is_none() {
        return Err(Error::from_reason(
            "heapsnap: this environment is not registered",
        ));
    }
    let state = Rc::new(NearState {
        plan: plan_of(&options)?,
        max: options.max_snapshots.unwrap_or(1).max(1),
        taken: Cell::new(0),
        in_progress: Cell::new(false),
    });
    v8::near_heap_limit_install(Box::new(move |current, initial| {
        near_limit(&state, current, initial)
    }))
    .map_err(|e| Error::from_reason(format!("heapsnap: {e}")))
}

/// Removes this isolate's near-heap-limit dump; `false` if none was installed.
#[napi]
pub fn off_near_heap_limit() -> bool {
    v8::near_heap_limit_remove()
}

fn near_limit(st: &NearState, current: usize, initial: usize) -> v8::NearLimitDecision {
    let new_limit = current + dump::NEAR_LIMIT_HEADROOM;
    // Re-entered by the snapshot's own garbage collections: only raise the limit.
    if st.in_progress.get() || v8::in_snapshot() {
        return v8::NearLimitDecision {
            new_limit,
            remove: false,
        };
    }
    if st.taken.get() >= st.max {
        settle_writes();
        return v8::NearLimitDecision {
            new_limit,
            remove: true,
        };
    }
    st.in_progress.set(true);
    // The same memory check as every dump: when the snapshot cannot fit (in a container's
    // cgroup, say), it is skipped with one line on stderr and V8 goes on to its own
    // out-of-memory error, instead of the kernel killing the process halfway through a dump.
    let mut extra = Map::new();
    extra.insert("currentHeapLimit".into(), (current as u64).into());
    extra.insert("initialHeapLimit".into(), (initial as u64).into());
    trigger_dump(&st.plan, NEAR_LIMIT_TRIGGER, extra, true);
    st.taken.set(st.taken.get() + 1);
    settle_writes();
    v8::restore_initial_heap_limit(0.95);
    st.in_progress.set(false);
    v8::NearLimitDecision {
        new_limit,
        remove: st.taken.get() >= st.max,
    }
}

/// Waits until the files other dumps are still writing (a signal dump's, whose writer goes on
/// after V8 has continued) are final. The process is near its heap limit: V8's own
/// out-of-memory error may end it as soon as this hook returns, and a writer cut off then
/// leaves its `.tmp` behind. The JS thread is feeding no writer here (not a re-entry).
fn settle_writes() {
    sink::wait_in_flight(sink::PENDING_WRITES_WAIT);
}
