//! The thin N-API layer: `#[napi]` exports, argument checks, conversion of results. The user
//! facing API (call shapes, defaults, Error objects) is the hand-written `index.js` on top.

// `deny`, not `forbid`: each `#[napi]` function expands (through the `ctor` crate) into a
// registration item that carries `#[allow(unsafe_code)]`, which `forbid` rejects (E0453).
// `deny` lets only those macro-made items through; hand-written code here still may not use
// it, and `options.rs`, which has no `#[napi]` functions, forbids it outright. The test in
// `src/sys/mod.rs` also fails on any `allow(unsafe_code)` written in the sources.
#![deny(unsafe_code)]

pub mod analyze;
pub mod options;
pub mod triggers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::naming;
use crate::core::progress::{human_bytes, Progress};
use crate::core::sink::{Sink, SinkSpec};
use crate::sys::v8::{self, SnapshotOutput};
use options::*;

const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// Progress reporters for one dump when `wanted`: one for generation (JS thread), one for the
/// writer thread, so that each phase's first line prints at once.
pub(crate) fn progress_pair(wanted: bool) -> (Option<Progress>, Option<Arc<Progress>>) {
    (
        wanted.then(|| Progress::new(PROGRESS_INTERVAL)),
        wanted.then(|| Arc::new(Progress::new(PROGRESS_INTERVAL))),
    )
}

/// One snapshot file being written: open it, feed it (from V8 through `takeV8Snapshot`, or
/// from JS through `write`), then `finish` or `finishSync`. Dropping it unfinished removes the
/// temporary file.
#[napi]
pub struct SnapshotSink {
    sink: Option<Sink>,
    open_error: Option<NativeError>,
    /// Generation progress; the writer has its own, so each phase's first line prints at once.
    progress: Option<Progress>,
}

#[napi]
impl SnapshotSink {
    /// Creates the temporary file and starts the writer thread. File-system errors do not
    /// throw: they are kept in `error`, so the caller can report them with their `code`.
    #[napi(constructor)]
    pub fn new(options: SinkOptions) -> Result<Self> {
        let compression = compression_of(&options.compress, options.level)?;
        if options.path.is_empty() || options.path.contains('\0') {
            return Err(Error::new(
                Status::InvalidArg,
                "path must be a non-empty string without NUL bytes",
            ));
        }
        let sidecar = match options.sidecar {
            None => None,
            Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                _ => {
                    return Err(Error::new(
                        Status::InvalidArg,
                        "sidecar must be the JSON text of an object",
                    ))
                }
            },
        };
        let (progress, writer_progress) = progress_pair(options.progress.unwrap_or(false));
        let spec = SinkSpec {
            path: PathBuf::from(options.path),
            compression,
            sidecar,
            progress: writer_progress,
        };
        Ok(match Sink::open(spec) {
            Ok(sink) => SnapshotSink {
                sink: Some(sink),
                open_error: None,
                progress,
            },
            Err(e) => SnapshotSink {
                sink: None,
                open_error: Some(e.into()),
                progress,
            },
        })
    }

    /// Why the file could not be opened, if it could not.
    #[napi(getter)]
    pub fn error(&self) -> Option<NativeError> {
        self.open_error.as_ref().map(|e| NativeError {
            code: e.code.clone(),
            errno: e.errno,
            syscall: e.syscall.clone(),
            path: e.path.clone(),
            message: e.message.clone(),
        })
    }

    /// Copies a chunk of snapshot JSON towards the writer. `false`: the writer has failed (stop
    /// feeding; `finish` reports why) or the sink is closed.
    #[napi]
    pub fn write(&mut self, chunk: &[u8]) -> bool {
        match self.sink.as_mut() {
            Some(sink) => sink.write(chunk),
            None => false,
        }
    }

    /// Generates a heap snapshot of this thread's isolate through the V8 bridge and streams it
    /// into the sink. Blocks the JS thread while V8 generates and serializes.
    #[napi]
    pub fn take_v8_snapshot(&mut self) -> TakeResult {
        let Some(sink) = self.sink.as_mut() else {
            return TakeResult {
                complete: false,
                generate_ms: 0.0,
                serialize_ms: 0.0,
                error: Some("the sink is not open".into()),
            };
        };
        let mut feed = Feed {
            sink,
            progress: self.progress.as_ref(),
        };
        match v8::take_snapshot(&mut feed) {
            Ok(r) => TakeResult {
                complete: r.complete,
                generate_ms: r.generate_ms,
                serialize_ms: r.serialize_ms,
                error: None,
            },
            Err(e) => TakeResult {
                complete: false,
                generate_ms: 0.0,
                serialize_ms: 0.0,
                error: Some(e.to_string()),
            },
        }
    }

    /// Ends the stream and waits (blocking) until the file is durable under its final name.
    #[napi]
    pub fn finish_sync(&mut self, stall_ms: f64) -> NativeResult {
        match self.sink.take() {
            Some(sink) => sink.finish(stall_ms, None).wait().into(),
            None => self.closed(),
        }
    }

    /// Ends the stream; the promise resolves when the file is durable under its final name.
    #[napi(ts_return_type = "Promise<NativeResult>")]
    pub fn finish<'env>(&mut self, env: &'env Env, stall_ms: f64) -> Result<Object<'env>> {
        type Resolver = Box<dyn FnOnce(Env) -> Result<NativeResult> + Send>;
        let (deferred, promise) = env.create_deferred::<NativeResult, Resolver>()?;
        match self.sink.take() {
            Some(sink) => {
                // The writer thread calls this when done; the join handle is not needed.
                let _ = sink.finish(
                    stall_ms,
                    Some(Box::new(move |result| {
                        deferred.resolve(Box::new(move |_env| Ok(NativeResult::from(result))));
                    })),
                );
            }
            None => {
                let closed = self.closed();
                deferred.resolve(Box::new(move |_env| Ok(closed)));
            }
        }
        Ok(promise)
    }

    /// Stops without a file; the temporary file is removed.
    #[napi]
    pub fn abort(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink.abort();
        }
    }

    fn closed(&self) -> NativeResult {
        NativeResult {
            ok: None,
            error: Some(self.error().unwrap_or(NativeError {
                code: "ERR_SNAPSHOT_SINK_CLOSED".into(),
                errno: 0,
                syscall: "write".into(),
                path: String::new(),
                message: "heapsnap: the snapshot sink is already finished".into(),
            })),
        }
    }
}

/// Adapts the writer to what the bridge feeds.
pub(crate) struct Feed<'a> {
    pub(crate) sink: &'a mut Sink,
    pub(crate) progress: Option<&'a Progress>,
}

impl SnapshotOutput for Feed<'_> {
    fn wants_progress(&self) -> bool {
        self.progress.is_some()
    }

    fn progress(&mut self, done: u32, total: u32) -> bool {
        if let Some(p) = self.progress {
            if total > 0 {
                p.tick(|| {
                    format!(
                        "heapsnap: generating {}%",
                        u64::from(done) * 100 / u64::from(total)
                    )
                });
            }
        }
        !self.sink.failed()
    }

    fn chunk(&mut self, bytes: &[u8]) -> bool {
        self.sink.write(bytes)
    }
}

/// What the V8 bridge found in this `node`.
#[napi]
pub fn native_capabilities() -> NativeCapabilities {
    let c = v8::capabilities();
    NativeCapabilities {
        native: c.native,
        take_variant: c.take_variant.map(String::from),
        interrupts: c.interrupts,
        near_heap_limit: c.near_heap_limit,
        symbols: c
            .symbols
            .into_iter()
            .map(|s| NativeSymbol {
                purpose: s.purpose.into(),
                resolved: s.resolved.map(String::from),
            })
            .collect(),
    }
}

/// heapdump's default name, `heapdump-<ms>.<ns>.heapsnapshot` (monotonic clock, unique per call).
#[napi]
pub fn heapdump_file_name() -> String {
    naming::heapdump_name(naming::unique_hrtime())
}

/// The sortable default name, `heapsnap-<YYYYMMDD>T<HHMMSS>-<pid>-<seq>.heapsnapshot[.gz]` (UTC).
#[napi]
pub fn snapshot_file_name(gzip: bool) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    naming::modern_name(secs, std::process::id(), naming::next_seq(), gzip)
}

/// Blocks until every snapshot file being written in this process is final (or removed), at
/// most `timeout_ms`. Returns how many writers are still busy. Called at process exit.
#[napi]
pub fn wait_for_pending_writes(timeout_ms: u32) -> u32 {
    crate::core::sink::wait_in_flight(std::time::Duration::from_millis(u64::from(timeout_ms)))
        as u32
}

/// `120.4 MB`: sizes as the progress and log lines print them.
#[napi]
pub fn format_bytes(bytes: f64) -> String {
    human_bytes(bytes.max(0.0) as u64)
}
