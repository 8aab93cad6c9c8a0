//! Taking one snapshot, for every caller: `snapshot()` and `writeSnapshot` (through `dump` and
//! `dumpSync`) and the triggers. [`run`] is the one "open the file → take the snapshot → finish
//! the file" sequence; the exports only differ in how they wait for the file.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Map, Value};

use super::environment::current_info;
use super::options::{compression_of, DumpOptions, DumpPaths, NativeResult};
use super::progress_pair;
use crate::core::dump::{self, DumpPlan};
use crate::core::error::SnapError;
use crate::core::memory;
use crate::core::naming;
use crate::core::progress::Progress;
use crate::core::sink::{Notify, Outcome, Pending, Sink, SinkSpec, CHUNK_BYTES};
use crate::sys::v8;

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
    })
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

/// Adapts the writer to what the V8 bridge feeds.
struct Feed<'a> {
    sink: &'a mut Sink,
    progress: Option<&'a Progress>,
}

impl v8::SnapshotOutput for Feed<'_> {
    fn wants_progress(&self) -> bool {
        self.progress.is_some()
    }

    fn progress(&mut self, done: u32, total: u32) -> bool {
        if let (Some(p), true) = (self.progress, total > 0) {
            p.tick(|| {
                format!(
                    "heapsnap: generating {}%",
                    u64::from(done) * 100 / u64::from(total)
                )
            });
        }
        !self.sink.failed()
    }

    fn chunk(&mut self, bytes: &[u8]) -> bool {
        self.sink.write(bytes)
    }
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
    let fail = |r: std::result::Result<Outcome, SnapError>, wait: Wait| {
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
    match req.raw_file {
        None => {
            let mut feed = Feed {
                sink: &mut sink,
                progress: progress.as_ref(),
            };
            if let Err(e) = v8::take_snapshot(&mut feed) {
                sink.abort();
                let err = SnapError::other(
                    "ERR_HEAPSNAP_FAILED",
                    "snapshot",
                    &path,
                    format!("{e}, '{}'", path.display()),
                );
                return fail(Err(err), wait);
            }
            let stall = req.stall_ms + ms_since_start();
            finish(sink, stall, wait)
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
            deferred.resolve(Box::new(move |_env| Ok(NativeResult::from(result))));
        })),
    );
    Ok(promise)
}

/// Where a dump with these options goes, and the JS engine's raw file beside it.
#[napi]
pub fn dump_paths(options: DumpOptions) -> Result<DumpPaths> {
    let req = request_of(&options)?;
    let path = req.path.unwrap_or_else(|| req.plan.next_path());
    Ok(DumpPaths {
        raw_tmp: naming::raw_tmp_path(&path).display().to_string(),
        path: path.display().to_string(),
    })
}
