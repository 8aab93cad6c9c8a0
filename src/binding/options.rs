//! The objects and constants that cross the N-API boundary. The JS layer (lib/) validates user
//! input and builds these; the `#[napi]` functions check them once more and hand them to the
//! core.

#![forbid(unsafe_code)]

use napi_derive::napi;

use crate::core::error::SnapError;
use crate::core::sink::{self, round3, Compression, Outcome};

/// One dump: where and how it is written, and what its sidecar says. The API calls and the
/// triggers all take this; the trigger-only fields are marked.
#[napi(object)]
pub struct DumpOptions {
    /// An exact file name, absolute or relative to the working directory.
    pub path: Option<String>,
    /// The directory for a generated name (absolute), when there is no `path`.
    pub dir: Option<String>,
    /// heapdump's naming: `heapdump-<ms>.<ns>.heapsnapshot` in the working directory, plain,
    /// no sidecar.
    pub heapdump_names: Option<bool>,
    /// `'gzip'` (default) or `'none'`.
    pub compress: Option<String>,
    /// gzip level (`GZIP_LEVEL_MIN`–`GZIP_LEVEL_MAX`, default `DEFAULT_GZIP_LEVEL`).
    pub level: Option<u32>,
    /// Write `<file>.json` (default true).
    pub sidecar: Option<bool>,
    /// Print progress lines on stderr about every 2 s.
    pub progress: Option<bool>,
    /// No report line on stderr (`heapsnap: wrote …`).
    pub quiet: Option<bool>,
    /// The sidecar's `trigger` (default `'api'`).
    pub trigger: Option<String>,
    /// More sidecar fields, as the JSON text of an object.
    pub extra: Option<String>,
    /// `{ memoryUsage, heapStatistics }` as JavaScript reads them (JSON text); absent: V8's
    /// own figures.
    pub figures: Option<String>,
    /// The JS engine: a raw snapshot already written by `v8.writeHeapSnapshot` (at the
    /// `rawTmp` of `dumpPaths`), fed into the file and removed.
    pub raw_file: Option<String>,
    /// How long the caller has already blocked the JS thread for this dump.
    pub stall_ms: Option<f64>,
    /// Signals only: dump every registered worker too.
    pub workers: Option<bool>,
    /// Near-heap-limit only: how many dumps before the hook removes itself.
    pub max_snapshots: Option<u32>,
    /// Check that the dump fits in the memory left before V8 allocates it (default true).
    pub memory_check: Option<bool>,
    /// `'background'`: serialize on a Rust thread once V8 has generated the snapshot (the
    /// JS layer decides when that is safe); `'inline'` (default here): on the JS thread.
    pub serialize: Option<String>,
}

/// Where a dump goes.
#[napi(object)]
pub struct DumpPaths {
    pub path: String,
    /// The JS engine's raw temporary file beside it.
    pub raw_tmp: String,
    /// `ERR_HEAPSNAP_NO_HEADROOM` when the dump would not fit (nothing was written).
    pub refused: Option<NativeError>,
}

/// A failed file operation, with the fields of Node's own fs errors.
#[napi(object)]
pub struct NativeError {
    pub code: String,
    pub errno: i32,
    pub syscall: String,
    pub path: String,
    pub message: String,
    /// `ERR_HEAPSNAP_NO_HEADROOM`: bytes the dump needed.
    pub needed: Option<f64>,
    /// `ERR_HEAPSNAP_NO_HEADROOM`: bytes available.
    pub available: Option<f64>,
    /// `ERR_HEAPSNAP_NO_HEADROOM`: `'cgroup2'`, `'cgroup1'`, `'meminfo'` or `'rlimit'`.
    pub limit_source: Option<String>,
}

impl From<SnapError> for NativeError {
    fn from(e: SnapError) -> Self {
        NativeError {
            code: e.code,
            errno: e.errno,
            syscall: e.syscall,
            path: e.path,
            message: e.message,
            needed: e.headroom.as_ref().map(|r| r.needed as f64),
            available: e.headroom.as_ref().map(|r| r.available as f64),
            limit_source: e.headroom.as_ref().map(|r| r.limit_source.to_string()),
        }
    }
}

/// A durable snapshot file.
#[napi(object)]
pub struct NativeOutcome {
    pub path: String,
    pub bytes: f64,
    pub raw_bytes: f64,
    pub compression: String,
    pub level: Option<u32>,
    pub stall_ms: f64,
    pub total_ms: f64,
    pub sidecar: Option<String>,
    pub sidecar_error: Option<NativeError>,
    /// V8's generation (native engine).
    pub generate_ms: Option<f64>,
    /// V8's serialization (native engine).
    pub serialize_ms: Option<f64>,
    /// The snapshot's node count.
    pub object_count: Option<f64>,
    /// The memory model's prediction of the dump's peak RSS growth.
    pub predicted_peak_bytes: Option<f64>,
    /// The dump's measured peak RSS growth (Linux).
    pub peak_rss_bytes: Option<f64>,
}

/// Exactly one of `ok` and `error` is set.
#[napi(object)]
pub struct NativeResult {
    pub ok: Option<NativeOutcome>,
    pub error: Option<NativeError>,
}

impl From<Result<Outcome, SnapError>> for NativeResult {
    fn from(r: Result<Outcome, SnapError>) -> Self {
        match r {
            Ok(o) => NativeResult {
                ok: Some(NativeOutcome {
                    path: o.path.display().to_string(),
                    bytes: o.bytes as f64,
                    raw_bytes: o.raw_bytes as f64,
                    compression: o.compression.name().into(),
                    level: o.compression.level(),
                    stall_ms: round3(o.stall_ms),
                    total_ms: round3(o.total_ms),
                    sidecar: o.sidecar.map(|p| p.display().to_string()),
                    sidecar_error: o.sidecar_error.map(NativeError::from),
                    generate_ms: o.stats.generate_ms.map(round3),
                    serialize_ms: o.stats.serialize_ms.map(round3),
                    object_count: o.stats.object_count.map(|n| n as f64),
                    predicted_peak_bytes: o.stats.predicted_peak_bytes.map(|n| n as f64),
                    peak_rss_bytes: o.stats.peak_rss_bytes.map(|n| n as f64),
                }),
                error: None,
            },
            Err(e) => NativeResult {
                ok: None,
                error: Some(e.into()),
            },
        }
    }
}

/// One V8/Node entry point the bridge looked up.
#[napi(object)]
pub struct NativeSymbol {
    pub purpose: String,
    /// The mangled name it resolved under; absent when no candidate resolved.
    pub resolved: Option<String>,
}

/// What the V8 bridge found in this `node`.
#[napi(object)]
pub struct NativeCapabilities {
    pub native: bool,
    pub take_variant: Option<String>,
    pub interrupts: bool,
    pub near_heap_limit: bool,
    pub symbols: Vec<NativeSymbol>,
}

/// `'gzip'` (a level in [`sink::GZIP_LEVELS`], default [`sink::DEFAULT_GZIP_LEVEL`]) or `'none'`.
/// lib/snapshot.js checks the same with the exported constants and throws coded errors; this is the
/// boundary's own check.
pub fn compression_of(compress: &str, level: Option<u32>) -> napi::Result<Compression> {
    match compress {
        "none" => Ok(Compression::None),
        "gzip" => match level.unwrap_or(sink::DEFAULT_GZIP_LEVEL) {
            l if sink::GZIP_LEVELS.contains(&l) => Ok(Compression::Gzip(l)),
            l => Err(napi::Error::new(
                napi::Status::InvalidArg,
                format!(
                    "level must be an integer from {} to {}, got {l}",
                    sink::GZIP_LEVELS.start(),
                    sink::GZIP_LEVELS.end()
                ),
            )),
        },
        other => Err(napi::Error::new(
            napi::Status::InvalidArg,
            format!("compress must be 'gzip' or 'none', got '{other}'"),
        )),
    }
}
