//! Exports for the triggers: per-environment registration (with a cleanup hook, so no request
//! ever targets a dead environment), signal handler install/remove, the near-heap-limit hook,
//! and the dump they run on the JS thread without JavaScript.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Map, Value};

use super::options::{compression_of, EnvInfo, TriggerOptions};
use super::{progress_pair, Feed};
use crate::core::sink::{Outcome, Sink, SinkSpec};
use crate::core::trigger::{self, DumpPlan, NearLimitAction, ProcessInfo};
use crate::core::{error::SnapError, naming};
use crate::sys::signal;
use crate::sys::v8::{self, EnvHandle, NearLimitDecision};

/// One registered JS environment (main thread or worker).
struct EnvSlot {
    /// `None` once the environment is being torn down.
    env: Mutex<Option<EnvHandle>>,
    info: ProcessInfo,
    /// The value of `signal::REQUESTED` this environment's last signal dump covered.
    served: AtomicU64,
    interrupt_pending: AtomicBool,
}

static SLOTS: Mutex<Vec<Arc<EnvSlot>>> = Mutex::new(Vec::new());
static SIGNAL_PLAN: Mutex<Option<SignalPlan>> = Mutex::new(None);

#[derive(Clone)]
struct SignalPlan {
    dump: DumpPlan,
    workers: bool,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<EnvSlot>>> = const { RefCell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn current_slot() -> Option<Arc<EnvSlot>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Registers the calling environment (once per environment, at module load).
#[napi]
pub fn register_environment(env: Env, info: EnvInfo) -> Result<bool> {
    if current_slot().is_some() {
        return Ok(true);
    }
    let slot = Arc::new(EnvSlot {
        env: Mutex::new(v8::current_environment()),
        info: info.into(),
        served: AtomicU64::new(signal::REQUESTED.load(Ordering::SeqCst)),
        interrupt_pending: AtomicBool::new(false),
    });
    let found = lock(&slot.env).is_some();
    lock(&SLOTS).push(slot.clone());
    CURRENT.with(|c| *c.borrow_mut() = Some(slot.clone()));
    signal::set_wake(Box::new(wake_signal_targets));
    env.add_env_cleanup_hook(slot, |slot| {
        // The environment is going away: no interrupt may target it from now on.
        *lock(&slot.env) = None;
        lock(&SLOTS).retain(|s| !Arc::ptr_eq(s, &slot));
        CURRENT.with(|c| c.borrow_mut().take());
        v8::near_heap_limit_remove();
    })?;
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Dumps run by triggers

fn plan_of(o: &TriggerOptions) -> Result<DumpPlan> {
    let heapdump = o.heapdump_names.unwrap_or(false);
    Ok(DumpPlan {
        heapdump_names: heapdump,
        dir: PathBuf::from(o.dir.clone().unwrap_or_else(|| ".".into())),
        compression: compression_of(o.compress.as_deref().unwrap_or("gzip"), o.level)?,
        sidecar: o.sidecar.unwrap_or(true) && !heapdump,
        quiet: o.quiet.unwrap_or(false),
        progress: o.progress.unwrap_or(false),
    })
}

fn heap_figures() -> (Value, Value) {
    let h = v8::heap_statistics().unwrap_or_default();
    let memory = json!({
        "rss": trigger::rss_bytes(),
        "heapTotal": h.total_heap_size,
        "heapUsed": h.used_heap_size,
        "external": h.external_memory,
    });
    let stats = json!({
        "total_heap_size": h.total_heap_size,
        "total_heap_size_executable": h.total_heap_size_executable,
        "total_physical_size": h.total_physical_size,
        "total_available_size": h.total_available_size,
        "used_heap_size": h.used_heap_size,
        "heap_size_limit": h.heap_size_limit,
        "malloced_memory": h.malloced_memory,
        "peak_malloced_memory": h.peak_malloced_memory,
        "external_memory": h.external_memory,
        "number_of_native_contexts": h.number_of_native_contexts,
        "number_of_detached_contexts": h.number_of_detached_contexts,
    });
    (memory, stats)
}

/// Takes a snapshot of this thread's isolate now (on the JS thread, no JavaScript), writes it
/// as `plan` says and prints the report line when it is durable. With `wait`, returns only
/// once the file is durable.
fn dump_now(
    slot: &EnvSlot,
    plan: &DumpPlan,
    trigger_name: &str,
    extra: Map<String, Value>,
    wait: bool,
) -> Option<std::result::Result<Outcome, SnapError>> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let path = plan.next_path();
    let sidecar = plan.sidecar.then(|| {
        let (memory, stats) = heap_figures();
        trigger::sidecar_start(&slot.info, trigger_name, started, memory, stats, extra)
    });
    let (progress, writer_progress) = progress_pair(plan.progress);
    let spec = SinkSpec {
        path: path.clone(),
        compression: plan.compression,
        sidecar,
        progress: writer_progress,
    };
    let quiet = plan.quiet;
    let report = move |r: &std::result::Result<Outcome, SnapError>| {
        if !quiet {
            eprintln!("{}", trigger::report_line(r));
        }
    };
    let mut sink = match Sink::open(spec) {
        Ok(s) => s,
        Err(e) => {
            let r = Err(e);
            report(&r);
            return Some(r);
        }
    };
    let mut feed = Feed {
        sink: &mut sink,
        progress: progress.as_ref(),
    };
    if let Err(e) = v8::take_snapshot(&mut feed) {
        sink.abort();
        let r = Err(SnapError::other(
            "ERR_SNAPSHOT_FAILED",
            "snapshot",
            &path,
            format!("{e}, '{}'", path.display()),
        ));
        report(&r);
        return Some(r);
    }
    let stall_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let pending = sink.finish(stall_ms, Some(Box::new(move |r| report(&r))));
    wait.then(|| pending.wait())
}

// ---------------------------------------------------------------------------------------------
// Signals

/// Called by the signal watcher thread after a signal: asks each target environment's JS
/// thread to run the dump.
fn wake_signal_targets() {
    let Some(plan) = lock(&SIGNAL_PLAN).clone() else {
        return;
    };
    let slots = lock(&SLOTS).clone();
    for slot in slots {
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
    dump_now(slot, &plan.dump, "signal", extra, false);
}

/// Installs the raw signal handler (over libuv's, which the JS side has made sure is present
/// by listening with `process.on` first) and sets what a signal dumps.
#[napi]
pub fn install_signal(signum: i32, options: TriggerOptions) -> Result<()> {
    let plan = SignalPlan {
        dump: plan_of(&options)?,
        workers: options.workers.unwrap_or(false),
    };
    *lock(&SIGNAL_PLAN) = Some(plan);
    // Signals before this point are not ours to serve.
    let now = signal::REQUESTED.load(Ordering::SeqCst);
    for slot in lock(&SLOTS).iter() {
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
pub fn on_near_heap_limit(options: TriggerOptions) -> Result<()> {
    let slot = current_slot()
        .ok_or_else(|| Error::from_reason("heapsnap: this environment is not registered"))?;
    let state = Rc::new(NearState {
        plan: plan_of(&options)?,
        max: options.max_snapshots.unwrap_or(1).max(1),
        taken: Cell::new(0),
        in_progress: Cell::new(false),
    });
    v8::near_heap_limit_install(Box::new(move |current, initial| {
        near_limit(&slot, &state, current, initial)
    }))
    .map_err(|e| Error::from_reason(format!("heapsnap: {e}")))
}

/// Removes this isolate's near-heap-limit dump; `false` if none was installed.
#[napi]
pub fn off_near_heap_limit() -> bool {
    v8::near_heap_limit_remove()
}

fn near_limit(slot: &EnvSlot, st: &NearState, current: usize, initial: usize) -> NearLimitDecision {
    let new_limit = current + trigger::NEAR_LIMIT_HEADROOM;
    // Re-entered by the snapshot's own garbage collections: only raise the limit.
    if st.in_progress.get() || v8::in_snapshot() {
        return NearLimitDecision {
            new_limit,
            remove: false,
        };
    }
    if st.taken.get() >= st.max {
        return NearLimitDecision {
            new_limit,
            remove: true,
        };
    }
    st.in_progress.set(true);
    let heap = v8::heap_statistics()
        .map(|h| h.total_heap_size)
        .unwrap_or(current as u64);
    match trigger::near_limit_action(heap, v8::available_memory()) {
        NearLimitAction::Skip { needed, available } => {
            eprintln!(
                "heapsnap: not writing a near-heap-limit snapshot: it needs at least {} MiB, only {} MiB is available",
                needed >> 20,
                available >> 20
            );
        }
        NearLimitAction::Dump => {
            let mut extra = Map::new();
            extra.insert("currentHeapLimit".into(), (current as u64).into());
            extra.insert("initialHeapLimit".into(), (initial as u64).into());
            dump_now(slot, &st.plan, "near-heap-limit", extra, true);
        }
    }
    st.taken.set(st.taken.get() + 1);
    v8::restore_initial_heap_limit(0.95);
    st.in_progress.set(false);
    NearLimitDecision {
        new_limit,
        remove: st.taken.get() >= st.max,
    }
}
