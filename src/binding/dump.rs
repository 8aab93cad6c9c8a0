//! Taking one snapshot, for every caller: `snapshot()` and `writeSnapshot` (through `dump` and
//! `dumpSync`) and the triggers. [`run`] is the one "open the file → take the snapshot → finish
//! the file" sequence; the exports only differ in how they wait for the file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Map, Value};

use super::environment::{current_info, lock};
use super::options::{compression_of, DumpOptions, DumpPaths, NativeResult};
use super::progress_pair;
use crate::core::dump::{self, DumpPlan};
use crate::core::error::Refusal;
use crate::core::error::SnapError;
use crate::core::memory::{self, Headroom, Heap, Histories, History, Learned, Live};
use crate::core::naming;
use crate::core::progress::Progress;
use crate::core::sink::{DumpStats, Notify, Outcome, Pending, Sink, SinkSpec, CHUNK_BYTES};
use crate::sys::{os, v8};

/// One dump, checked.
pub(crate) struct DumpRequest {
    pub(crate) plan: DumpPlan,
    /// An exact file; `None`: the plan's next name.
    pub(crate) path: Option<PathBuf>,
    pub(crate) trigger: String,
    /// More sidecar fields.
    pub(crate) extra: Map<String, Value>,
    /// `{ memoryUsage, heapStatistics }` read by JavaScript; `None`: V8's own figures.
    pub(crate) figures: Option<Map<String, Value>>,
    /// The JS engine's raw snapshot, already written: fed into the file, then removed.
    /// `None`: the V8 bridge takes the snapshot now.
    pub(crate) raw_file: Option<PathBuf>,
    /// How long the caller was already blocked (the JS engine's `v8.writeHeapSnapshot`).
    pub(crate) stall_ms: f64,
    /// Serialize on a Rust thread (native engine, `Wait::Notify` only): the JS thread is
    /// blocked for generation alone.
    pub(crate) background: bool,
    /// A full GC may run first when memory is tight (not inside V8's near-heap-limit
    /// callback, which runs in the middle of a GC).
    pub(crate) may_collect: bool,
}

/// The dump plan of validated options (triggers and API calls alike).
pub(crate) fn plan_of(o: &DumpOptions) -> Result<DumpPlan> {
    let heapdump = o.heapdump_names.unwrap_or(false);
    Ok(DumpPlan {
        heapdump_names: heapdump,
        dir: PathBuf::from(o.dir.clone().unwrap_or_else(|| ".".into())),
        compression: compression_of(o.compress.as_deref().unwrap_or("gzip"), o.level)?,
        sidecar: o.sidecar.unwrap_or(true) && !heapdump,
        quiet: o.quiet.unwrap_or(false),
        progress: o.progress.unwrap_or(false),
        memory_check: o.memory_check.unwrap_or(true) && memory_check_enabled(),
    })
}

/// `HEAPSNAP_MEMORY_CHECK=0` turns the memory check off for every dump of the process.
pub(crate) fn memory_check_enabled() -> bool {
    !matches!(
        std::env::var("HEAPSNAP_MEMORY_CHECK").as_deref(),
        Ok("0") | Ok("false") | Ok("off")
    )
}

fn json_object(text: &Option<String>, what: &str) -> Result<Option<Map<String, Value>>> {
    match text {
        None => Ok(None),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(Error::new(
                Status::InvalidArg,
                format!("{what} must be the JSON text of an object"),
            )),
        },
    }
}

fn request_of(o: &DumpOptions) -> Result<DumpRequest> {
    let path = match &o.path {
        Some(p) if p.is_empty() || p.contains('\0') => {
            return Err(Error::new(
                Status::InvalidArg,
                "path must be a non-empty string without NUL bytes",
            ))
        }
        p => p.as_ref().map(PathBuf::from),
    };
    Ok(DumpRequest {
        plan: plan_of(o)?,
        path,
        trigger: o.trigger.clone().unwrap_or_else(|| "api".into()),
        extra: json_object(&o.extra, "extra")?.unwrap_or_default(),
        figures: json_object(&o.figures, "figures")?,
        raw_file: o.raw_file.as_ref().map(PathBuf::from),
        stall_ms: o.stall_ms.unwrap_or(0.0).max(0.0),
        background: match o.serialize.as_deref() {
            None | Some("inline") => false,
            Some("background") => true,
            Some(_) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "serialize must be 'background' or 'inline'",
                ))
            }
        },
        may_collect: true,
    })
}

/// `memoryUsage` and `heapStatistics` as V8 reports them, read without JavaScript.
fn v8_figures() -> (Value, Value) {
    let h = v8::heap_statistics().unwrap_or_default();
    let memory = json!({
        "rss": memory::rss_bytes(),
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

/// What each JS thread's previous dump taught. A process's heap shape changes slowly, so this
/// predicts its next dump well.
static HISTORY: Histories = Histories::new();

/// The calling JS thread's history.
fn history() -> History {
    HISTORY.of(std::thread::current().id())
}

/// The calling JS thread's environment is being torn down: its history goes.
pub(crate) fn forget_thread() {
    HISTORY.remove(std::thread::current().id());
}

/// The heap as the memory model sees it, read without JavaScript (None where V8's entry
/// points are missing).
fn heap_now() -> Option<Heap> {
    let used = v8::heap_statistics()?.used_heap_size;
    let spaces = v8::heap_spaces().unwrap_or_default();
    Some(Heap {
        used,
        large_objects: Heap::large_objects_of(spaces.iter().map(|(n, u)| (n.as_str(), *u))),
        v8_major: v8::v8_major().unwrap_or(0),
    })
}

/// The heap from the figures the JS layer read (`v8.getHeapStatistics()`,
/// `v8.getHeapSpaceStatistics()`), for the JS engine where V8's entry points are missing.
fn heap_of_figures(figures: Option<&Map<String, Value>>) -> Option<Heap> {
    let f = figures?;
    let used = f.get("heapStatistics")?.get("used_heap_size")?.as_u64()?;
    let spaces = f.get("heapSpaceStatistics").and_then(Value::as_array);
    let large_objects = spaces.map_or(0, |list| {
        Heap::large_objects_of(list.iter().filter_map(|s| {
            Some((
                s.get("space_name")?.as_str()?,
                s.get("space_used_size")?.as_u64()?,
            ))
        }))
    });
    Some(Heap {
        used,
        large_objects,
        v8_major: 0,
    })
}

/// The memory check of one native dump, fed by V8's progress reports: before V8 allocates the
/// snapshot it predicts the peak from the object count (first report), and while V8 extracts
/// it stops the dump when the growth itself, or the live estimate, reaches the headroom.
struct Guard {
    headroom: Headroom,
    heap: Heap,
    history: History,
    predicted: Option<u64>,
    refused: Option<Refusal>,
    /// What a dump stopped on its live estimate teaches the next one (the count alone was
    /// short for this heap).
    learned: Option<Learned>,
}

impl Guard {
    fn refuse(&mut self, needed: u64) -> bool {
        self.refused = Some(Refusal {
            needed,
            available: self.headroom.available,
            limit_source: self.headroom.source.name(),
        });
        false
    }

    /// `false`: abort the dump. `grown`: RSS growth since the dump began; `live`: the live
    /// estimate of the peak, once there is one.
    fn check(&mut self, total: u32, grown: u64, live: Option<u64>) -> bool {
        if self.predicted.is_none() {
            let predicted = self.history.predict(u64::from(total), self.heap);
            self.predicted = Some(predicted);
            if !memory::fits(predicted, &self.headroom) {
                return self.refuse(predicted);
            }
        }
        // The live guard: the growth so far, and the growth it extrapolates to, must leave the
        // margin free.
        let needed = grown.max(live.unwrap_or(0));
        if !memory::fits(needed, &self.headroom) {
            if live.is_some_and(|l| l >= grown) {
                let lesson = self.history.lesson(needed, u64::from(total), self.heap);
                self.learned = Some(lesson);
            }
            return self.refuse(needed);
        }
        true
    }
}

/// The highest RSS seen while the snapshot exists.
struct PeakWatch {
    max_rss: u64,
    chunks: u32,
}

impl PeakWatch {
    fn sample(&mut self) {
        if let Some(rss) = memory::rss_bytes() {
            self.max_rss = self.max_rss.max(rss);
        }
    }
}

/// Adapts the writer to what the V8 bridge feeds. Owns the sink, so that a background
/// serialization can take it to its thread.
struct Feed {
    sink: Sink,
    progress: Option<Progress>,
    guard: Option<Guard>,
    /// The live estimate, fed by every progress report.
    live: Live,
    /// The heap the dump walks (what the estimates read).
    heap: Heap,
    rss_before: u64,
    peak: PeakWatch,
    /// `HEAPSNAP_DEBUG_MEMORY=1`: one stderr line per progress report with the RSS growth and
    /// the live estimate, in MiB (how bench/MEMORY.md's timeline was measured).
    trace: bool,
    /// When generation ended (the JS thread is free from here on in a background dump).
    generated_at: Option<Instant>,
    /// The JS thread that takes the dump, and its history when the dump began.
    owner: std::thread::ThreadId,
    began: History,
}

/// `HEAPSNAP_DEBUG_MEMORY=1`: trace RSS at every progress report of every dump.
fn memory_trace() -> bool {
    std::env::var_os("HEAPSNAP_DEBUG_MEMORY").is_some_and(|v| v == "1")
}

impl v8::SnapshotOutput for Feed {
    fn wants_progress(&self) -> bool {
        self.progress.is_some() || self.guard.is_some() || self.trace
    }

    fn progress(&mut self, done: u32, total: u32) -> bool {
        // RSS is read once a report, and only when the guard or the trace uses it.
        let grown =
            (self.guard.is_some() || self.trace).then(|| memory::grown_since(self.rss_before));
        let live = grown.and_then(|g| self.live.observe(done, total, g, self.heap));
        if let (true, Some(grown)) = (self.trace, grown) {
            let live = live.map_or(-1, |b| (b >> 20) as i64);
            let index = self.heap.index_bytes() >> 20;
            eprintln!(
                "heapsnap-trace: progress {done} {total} {} {live} {index}",
                grown >> 20
            );
        }
        if let (Some(p), true) = (self.progress.as_ref(), total > 0) {
            p.tick(|| {
                format!(
                    "heapsnap: generating {}%",
                    u64::from(done) * 100 / u64::from(total)
                )
            });
        }
        if let (Some(g), Some(grown)) = (self.guard.as_mut(), grown) {
            if !g.check(total, grown, live) {
                return false;
            }
        }
        !self.sink.failed()
    }

    fn generated(&mut self, nodes: Option<u64>) {
        self.generated_at = Some(Instant::now());
        // On the JS thread, before the next dump can begin: V8's id map knows these objects.
        if let Some(n) = nodes {
            HISTORY.map_built(self.owner, self.began, n);
        }
        self.peak.sample();
        if self.trace {
            let grown = memory::grown_since(self.rss_before);
            eprintln!(
                "heapsnap-trace: generated {} {}",
                nodes.unwrap_or(0),
                grown >> 20
            );
        }
    }

    fn chunk(&mut self, bytes: &[u8]) -> bool {
        // Serialization adds a little on top of the finished snapshot: sample now and then.
        self.peak.chunks = self.peak.chunks.wrapping_add(1);
        if self.peak.chunks.is_multiple_of(256) {
            self.peak.sample();
        }
        self.sink.write(bytes)
    }
}

/// The headroom when the cheap bound fails for this heap: the check is on, a limit is known,
/// and even the worst shape of the heap's size would not fit. `None`: the dump goes ahead
/// with no counting pass (a roomy machine pays nothing).
fn tight(plan: &DumpPlan, heap: Heap) -> Option<Headroom> {
    if !plan.memory_check {
        return None;
    }
    memory::headroom().filter(|h| !memory::fits(memory::worst_case(heap), h))
}

/// The memory check before a dump. `Err`: refused at once (even the JS engine, which cannot
/// stop V8 halfway, knows enough). `Ok(Some)`: the dump must be watched (native engine).
/// `Ok(None)`: it fits whatever the heap's shape, or no limit is known, or the check is off.
fn preflight(
    plan: &DumpPlan,
    native: bool,
    heap: Option<Heap>,
    hist: History,
) -> std::result::Result<Option<Guard>, Refusal> {
    let heap = heap.unwrap_or_default();
    let Some(headroom) = tight(plan, heap) else {
        return Ok(None);
    };
    if native {
        return Ok(Some(Guard {
            headroom,
            heap,
            history: hist,
            predicted: None,
            refused: None,
            learned: None,
        }));
    }
    // The JS engine cannot be stopped halfway: it needs a history that says it fits.
    let needed = memory::predict_by_size(heap, hist.learned);
    if memory::fits(needed, &headroom) {
        Ok(None)
    } else {
        Err(Refusal {
            needed,
            available: headroom.available,
            limit_source: headroom.source.name(),
        })
    }
}

/// After the snapshot is deleted: give the freed memory back to the OS (glibc keeps it
/// otherwise; RSS stayed 5× above its level before the dump) and learn from the dump. The
/// growth is counted from the lower of the RSS before the dump and the RSS after the trim:
/// memory freed before the dump but still counted in RSS would otherwise hide part of it.
/// `owner` is the JS thread that took the dump, `began` its history when the dump began.
fn after_dump(
    stats: &DumpStats,
    heap: Option<Heap>,
    rss_before: u64,
    owner: std::thread::ThreadId,
    began: History,
) {
    let (peak, objects) = (stats.peak_rss_bytes, stats.object_count);
    std::thread::spawn(move || {
        os::malloc_trim();
        let (Some(peak), Some(objects)) = (peak, objects) else {
            return;
        };
        let floor = memory::rss_bytes().map_or(rss_before, |r| r.min(rss_before));
        let growth = (rss_before + peak).saturating_sub(floor);
        if let (true, Some(heap)) = (objects > 0 && growth > 0, heap) {
            HISTORY.learn(owner, began.lesson(growth, objects, heap));
        }
    });
}

/// Copies the JS engine's raw snapshot into the sink, then removes it.
fn feed_file(sink: &mut Sink, raw: &PathBuf) -> std::result::Result<(), SnapError> {
    use std::io::Read;
    let result = (|| {
        let mut f = std::fs::File::open(raw).map_err(|e| SnapError::io(&e, "open", raw))?;
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| SnapError::io(&e, "read", raw))?;
            if n == 0 || !sink.write(&buf[..n]) {
                return Ok(());
            }
        }
    })();
    let _ = std::fs::remove_file(raw);
    result
}

/// How the caller waits for the file.
pub(crate) enum Wait {
    /// Block until the file is durable.
    Block,
    /// Return once the snapshot is taken; `notify` runs on a Rust thread when the file is
    /// durable (or has failed).
    Notify(Notify),
}

/// Opens the file, takes the snapshot (or feeds the raw one), finishes the file. Prints the
/// report line unless the plan is quiet. Returns the result when it waited for it.
pub(crate) fn run(req: DumpRequest, wait: Wait) -> Option<std::result::Result<Outcome, SnapError>> {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let plan = req.plan;
    let path = req.path.clone().unwrap_or_else(|| plan.next_path());
    let engine = if req.raw_file.is_some() {
        "js"
    } else {
        "native"
    };
    let sidecar = plan.sidecar.then(|| {
        let (memory, stats) = match req.figures {
            Some(mut f) => (
                f.remove("memoryUsage").unwrap_or(Value::Null),
                f.remove("heapStatistics").unwrap_or(Value::Null),
            ),
            None => v8_figures(),
        };
        dump::sidecar_start(
            &current_info(),
            engine,
            &req.trigger,
            started,
            memory,
            stats,
            req.extra,
        )
    });
    let (progress, writer_progress) = progress_pair(plan.progress);
    let quiet = plan.quiet;
    let report = move |r: &std::result::Result<Outcome, SnapError>| {
        if !quiet {
            eprintln!("{}", dump::report_line(r));
        }
    };
    let fail = move |r: std::result::Result<Outcome, SnapError>, wait: Wait| {
        report(&r);
        match wait {
            Wait::Block => Some(r),
            Wait::Notify(notify) => {
                notify(r);
                None
            }
        }
    };
    let spec = SinkSpec {
        path: path.clone(),
        compression: plan.compression,
        sidecar,
        progress: writer_progress,
        began: t0.checked_sub(std::time::Duration::from_secs_f64(req.stall_ms / 1000.0)),
    };
    let mut sink = match Sink::open(spec) {
        Ok(s) => s,
        Err(e) => {
            if let Some(raw) = &req.raw_file {
                let _ = std::fs::remove_file(raw);
            }
            return fail(Err(e), wait);
        }
    };
    let ms_since_start = || t0.elapsed().as_secs_f64() * 1000.0;
    let finish = move |sink: Sink, stall_ms: f64, wait: Wait| -> Option<_> {
        let pending: Pending = match wait {
            Wait::Block => {
                let r = sink.finish(stall_ms, None).wait();
                report(&r);
                return Some(r);
            }
            Wait::Notify(notify) => sink.finish(
                stall_ms,
                Some(Box::new(move |r| {
                    report(&r);
                    notify(r)
                })),
            ),
        };
        drop(pending); // the writer thread calls `notify`
        None
    };
    let req_stall_ms = req.stall_ms;
    let background = req.background;
    match req.raw_file {
        None => {
            // A dump waits for this thread's background serialization and frees its snapshot
            // first: the memory check must not run while another snapshot is alive.
            v8::settle_background(true, false);
            // When the cheap bound fails, a full GC comes first: V8's snapshot collects all
            // garbage before it counts anyway, so the bound is taken on the heap that will be
            // walked (the memory test's service on Node 26: 102 MiB of heap before, 86 after).
            let mut heap = heap_now();
            if req.may_collect
                && tight(&plan, heap.unwrap_or_default()).is_some()
                && v8::collect_garbage()
            {
                heap = heap_now();
            }
            let rss_before = memory::rss_bytes().unwrap_or(0);
            let hwm_before = memory::peak_rss_bytes().unwrap_or(0);
            // `conclude` may run on the serializer thread: the history is this thread's.
            let (owner, began) = (std::thread::current().id(), history());
            let guard = match preflight(&plan, true, heap, began) {
                Ok(g) => g,
                Err(r) => {
                    sink.abort();
                    return fail(Err(SnapError::no_headroom(&path, r)), wait);
                }
            };
            let feed = Feed {
                sink,
                progress,
                guard,
                live: Live::default(),
                heap: heap.unwrap_or_default(),
                rss_before,
                peak: PeakWatch {
                    max_rss: rss_before,
                    chunks: 0,
                },
                trace: memory_trace(),
                generated_at: None,
                owner,
                began,
            };
            // What happens once serialization has ended, on whichever thread ran it. Touches
            // no V8 state: in a background dump V8's isolate may be going away meanwhile.
            let conclude = move |feed: Feed,
                                 taken: std::result::Result<v8::TakeReport, v8::BridgeError>,
                                 wait: Wait|
                  -> Option<std::result::Result<Outcome, SnapError>> {
                let Feed {
                    mut sink,
                    guard,
                    peak,
                    generated_at,
                    ..
                } = feed;
                let mut peak_rss = peak.max_rss;
                if let Some(hwm) = memory::peak_rss_bytes().filter(|&h| h > hwm_before) {
                    peak_rss = peak_rss.max(hwm);
                }
                let taken = match taken {
                    Ok(r) if background && !r.complete && !sink.failed() => {
                        Err(v8::BridgeError::Cancelled)
                    }
                    other => other,
                };
                let report = match taken {
                    Ok(r) => r,
                    Err(e) => {
                        sink.abort();
                        std::thread::spawn(os::malloc_trim);
                        if let Some(l) = guard.as_ref().and_then(|g| g.learned) {
                            HISTORY.learn(owner, l);
                        }
                        let err = match guard.and_then(|g| g.refused) {
                            Some(r) => SnapError::no_headroom(&path, r),
                            None => SnapError::other(
                                "ERR_HEAPSNAP_FAILED",
                                "snapshot",
                                &path,
                                format!("{e}, '{}'", path.display()),
                            ),
                        };
                        return fail(Err(err), wait);
                    }
                };
                let stats = DumpStats {
                    generate_ms: Some(report.generate_ms),
                    serialize_ms: Some(report.serialize_ms),
                    object_count: report.node_count,
                    predicted_peak_bytes: guard.and_then(|g| g.predicted).or_else(|| {
                        report
                            .node_count
                            .map(|n| began.predict(n, heap.unwrap_or_default()))
                    }),
                    peak_rss_bytes: (peak_rss > rss_before).then(|| peak_rss - rss_before),
                };
                after_dump(&stats, heap, rss_before, owner, began);
                sink.set_stats(stats);
                // Inline: the JS thread was blocked until now. Background: until generation
                // ended.
                let stall_end = match (&wait, background) {
                    (Wait::Notify(_), true) => generated_at.unwrap_or_else(Instant::now),
                    _ => Instant::now(),
                };
                let stall = req_stall_ms + stall_end.duration_since(t0).as_secs_f64() * 1000.0;
                finish(sink, stall, wait)
            };
            match wait {
                Wait::Notify(notify) if background => {
                    // The JS thread returns right after generation; `conclude` runs on the
                    // serializer thread (or here, when generation failed).
                    let slot = Arc::new(Mutex::new(Some((conclude, notify))));
                    let thread_slot = slot.clone();
                    let taken = v8::take_snapshot_background(feed, move |feed, taken| {
                        if let Some((conclude, notify)) = lock(&thread_slot).take() {
                            conclude(feed, taken, Wait::Notify(notify));
                        }
                    });
                    if let Err((feed, e)) = taken {
                        if let Some((conclude, notify)) = lock(&slot).take() {
                            conclude(feed, Err(e), Wait::Notify(notify));
                        }
                    }
                    None
                }
                wait => {
                    let mut feed = feed;
                    let taken = v8::take_snapshot(&mut feed);
                    conclude(feed, taken, wait)
                }
            }
        }
        Some(raw) => match wait {
            Wait::Block => {
                if let Err(e) = feed_file(&mut sink, &raw) {
                    sink.abort();
                    return fail(Err(e), Wait::Block);
                }
                let stall = req.stall_ms + ms_since_start();
                finish(sink, stall, Wait::Block)
            }
            Wait::Notify(notify) => {
                // The JS thread was blocked only while v8.writeHeapSnapshot ran.
                let stall = req.stall_ms + ms_since_start();
                std::thread::spawn(move || {
                    if let Err(e) = feed_file(&mut sink, &raw) {
                        sink.abort();
                        report(&Err(e.clone()));
                        notify(Err(e));
                        return;
                    }
                    finish(sink, stall, Wait::Notify(notify));
                });
                None
            }
        },
    }
}

/// Takes a snapshot and writes it; returns when the file is durable (heapdump's synchronous
/// `writeSnapshot`). Never throws for I/O: the error is in the result.
#[napi]
pub fn dump_sync(options: DumpOptions) -> Result<NativeResult> {
    let req = request_of(&options)?;
    Ok(run(req, Wait::Block)
        .expect("a blocking dump returns its result")
        .into())
}

/// Takes a snapshot now (blocking the JS thread while V8 generates it); the promise resolves
/// when the file is durable.
#[napi(ts_return_type = "Promise<NativeResult>")]
pub fn dump<'env>(env: &'env Env, options: DumpOptions) -> Result<Object<'env>> {
    let req = request_of(&options)?;
    type Resolver = Box<dyn FnOnce(Env) -> Result<NativeResult> + Send>;
    let (deferred, promise) = env.create_deferred::<NativeResult, Resolver>()?;
    run(
        req,
        Wait::Notify(Box::new(move |result| {
            deferred.resolve(Box::new(move |_env| {
                // On the JS thread: a background dump's snapshot is freed here, once its
                // serialization has ended (nothing else waits on it).
                if v8::settle_background(false, false) > 0 {
                    std::thread::spawn(os::malloc_trim);
                }
                Ok(NativeResult::from(result))
            }));
        })),
    );
    Ok(promise)
}

/// Waits for this thread's background serializations to end and frees their snapshots (the
/// JS layer calls it before anything else uses V8's heap profiler). Returns how many it freed.
#[napi]
pub fn settle_background() -> u32 {
    let n = v8::settle_background(true, false);
    if n > 0 {
        std::thread::spawn(os::malloc_trim);
    }
    n as u32
}

/// This thread's snapshots still serializing in the background or awaiting their `Delete`.
#[napi]
pub fn background_outstanding() -> u32 {
    v8::background_outstanding() as u32
}

/// Where a dump with these options goes, the JS engine's raw file beside it, and whether the
/// memory check refuses it.
#[napi]
pub fn dump_paths(options: DumpOptions) -> Result<DumpPaths> {
    let req = request_of(&options)?;
    let path = req.path.clone().unwrap_or_else(|| req.plan.next_path());
    // The JS engine's memory check happens here, before v8.writeHeapSnapshot runs.
    let heap = heap_now().or_else(|| heap_of_figures(req.figures.as_ref()));
    let refused = preflight(&req.plan, false, heap, history())
        .err()
        .map(|r| SnapError::no_headroom(&path, r).into());
    Ok(DumpPaths {
        raw_tmp: naming::raw_tmp_path(&path).display().to_string(),
        path: path.display().to_string(),
        refused,
    })
}

/// The memory this process may still take, and which limit is the tightest.
#[napi(object)]
pub struct MemoryHeadroom {
    pub available_bytes: f64,
    /// `'cgroup2'`, `'cgroup1'`, `'meminfo'` or `'rlimit'`.
    pub limit_source: String,
}

/// The tightest memory limit now; absent when none is known (not Linux).
#[napi]
pub fn memory_headroom() -> Option<MemoryHeadroom> {
    memory::headroom().map(|h| MemoryHeadroom {
        available_bytes: h.available as f64,
        limit_source: h.source.name().into(),
    })
}

/// What a dump now would need.
#[napi(object)]
pub struct DumpEstimate {
    /// The predicted peak RSS growth of a dump.
    pub predicted_peak_bytes: f64,
    pub available_bytes: Option<f64>,
    pub limit_source: Option<String>,
    /// Whether it fits with the margin to spare (true when no limit is known).
    pub fits: bool,
    /// V8's count of the heap's objects (with `count`), else null.
    pub object_count: Option<f64>,
}

/// Counts the heap's objects the way a dump starts (a GC and V8's counting pass) and stops
/// there, before V8 allocates the snapshot.
struct Counter {
    total: Option<u32>,
}

impl v8::SnapshotOutput for Counter {
    fn wants_progress(&self) -> bool {
        true
    }
    fn progress(&mut self, _done: u32, total: u32) -> bool {
        self.total = Some(total);
        false
    }
    fn chunk(&mut self, _bytes: &[u8]) -> bool {
        false
    }
}

/// Predicts a dump's peak memory. With `count`, V8 counts the heap's objects first (a GC and
/// a heap walk on the JS thread, no snapshot); without it, the prediction comes from the heap's
/// size and this thread's previous dump.
#[napi]
pub fn estimate_dump(count: bool) -> Result<DumpEstimate> {
    let headroom = memory::headroom();
    let hist = history();
    let heap = heap_now().unwrap_or_default();
    let mut object_count = None;
    let predicted = if count {
        let mut counter = Counter { total: None };
        let _ = v8::take_snapshot(&mut counter);
        // The counting pass's garbage goes back to the OS, as a dump's does.
        os::malloc_trim();
        let total = counter.total.ok_or_else(|| {
            Error::from_reason(
                "heapsnap: V8 did not report an object count (is the native engine active?)",
            )
        })?;
        object_count = Some(f64::from(total));
        hist.predict(u64::from(total), heap)
    } else {
        memory::predict_by_size(heap, hist.learned)
    };
    Ok(DumpEstimate {
        predicted_peak_bytes: predicted as f64,
        available_bytes: headroom.map(|h| h.available as f64),
        limit_source: headroom.map(|h| h.source.name().into()),
        fits: headroom.is_none_or(|h| memory::fits(predicted, &h)),
        object_count,
    })
}

/// The heap as the memory model sees it now (for bench/memory.js).
#[napi(object)]
pub struct ModelHeap {
    pub heap_used: f64,
    pub large_object_bytes: f64,
    /// V8's major version (0 or absent: unknown).
    pub v8_major: Option<u32>,
}

/// What the memory model reads of the heap before a dump (for bench/memory.js).
#[napi]
pub fn model_heap() -> Option<ModelHeap> {
    heap_now().map(|h| ModelHeap {
        heap_used: h.used as f64,
        large_object_bytes: h.large_objects as f64,
        v8_major: Some(h.v8_major),
    })
}

fn heap_of(m: &ModelHeap) -> Heap {
    Heap {
        used: m.heap_used.max(0.0) as u64,
        large_objects: m.large_object_bytes.max(0.0) as u64,
        v8_major: m.v8_major.unwrap_or(0),
    }
}

/// A previous dump, as the memory model learns from it (for bench/memory.js).
#[napi(object)]
pub struct ModelDump {
    pub growth: f64,
    pub objects: f64,
    pub heap: ModelHeap,
    /// Entries of V8's object-id map when that dump began (absent: none, it built the map).
    pub id_map_before: Option<f64>,
}

/// The memory model every dump uses (src/core/memory.rs), for bench/memory.js: the predicted
/// peak RSS growth of a dump of `objects` objects in `heap`, after the thread's previous dump
/// `previous` (or none), the id map as that dump left it.
#[napi]
pub fn predict_dump_peak(objects: f64, heap: ModelHeap, previous: Option<ModelDump>) -> f64 {
    let count = |x: f64| x.max(0.0) as u64;
    let learned = previous.as_ref().map(|p| {
        let before = p.id_map_before.map(count);
        Learned::from_dump(count(p.growth), count(p.objects), heap_of(&p.heap), before)
    });
    let id_map = previous.map(|p| count(p.objects).max(p.id_map_before.map_or(0, count)));
    memory::predict(count(objects), heap_of(&heap), learned, id_map) as f64
}

/// The model's cheap bound: what a dump of `heap` can need at most.
#[napi]
pub fn dump_worst_case(heap: ModelHeap) -> f64 {
    memory::worst_case(heap_of(&heap)) as f64
}

/// Drops V8's object-id map once this thread's snapshots are freed (waits for a background
/// serialization first), and gives the memory back to the OS. The JS layer checks first that
/// nothing else uses the ids (heap-object tracking, an inspector session). Returns the RSS
/// freed in bytes; an `Error` when the engine cannot.
#[napi]
pub fn release_object_ids() -> Result<f64> {
    v8::settle_background(true, false);
    let before = memory::rss_bytes().unwrap_or(0);
    if !v8::release_object_ids() {
        return Err(Error::from_reason(
            "heapsnap: V8's object ids cannot be released here (HeapProfiler::ClearObjectIds is missing, or a snapshot is being taken)",
        ));
    }
    HISTORY.forget_ids(Some(std::thread::current().id()));
    os::malloc_trim();
    Ok(before.saturating_sub(memory::rss_bytes().unwrap_or(before)) as f64)
}

/// Marks this thread's V8 object-id map (with `all_threads`, every thread's: a worker's
/// `connectToMainThread()` session is the main thread's) as not known any more: an inspector
/// session ended (V8 clears the ids when a session's heap profiler agent is disabled), so the
/// next dump may have to build the whole map again.
#[napi]
pub fn forget_object_ids(all_threads: Option<bool>) {
    HISTORY.forget_ids(this_thread_unless(all_threads));
}

/// Notes that something else takes a snapshot on this thread (Node's own API, an inspector
/// session; with `all_threads`, a `connectToMainThread()` session, on every thread): V8's id
/// map gets entries the memory model does not count.
#[napi]
pub fn object_ids_used_elsewhere(all_threads: Option<bool>) {
    HISTORY.foreign_ids(this_thread_unless(all_threads));
}

/// The calling thread, or with `all_threads` none (every thread).
fn this_thread_unless(all_threads: Option<bool>) -> Option<std::thread::ThreadId> {
    (all_threads != Some(true)).then(|| std::thread::current().id())
}
