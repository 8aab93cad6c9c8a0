//! The objects that cross the N-API boundary. `index.js` validates user input and builds
//! these; the `#[napi]` functions in `mod.rs` check them once more and hand them to the core.

#![forbid(unsafe_code)]

use napi_derive::napi;

use crate::core::error::SnapError;
use crate::core::sink::{round3, Compression, Outcome, DEFAULT_GZIP_LEVEL};
use crate::core::trigger::ProcessInfo;

/// Where and how one snapshot file is written.
#[napi(object)]
pub struct SinkOptions {
    /// The final file name, absolute or relative to the process's working directory.
    pub path: String,
    /// `'gzip'` or `'none'`.
    pub compress: String,
    /// gzip level 1–9 (ignored without compression).
    pub level: Option<u32>,
    /// The sidecar's start fields as a JSON object text; absent: no sidecar.
    pub sidecar: Option<String>,
    /// Print progress lines on stderr about every 2 s.
    pub progress: Option<bool>,
}

/// A failed file operation, with the fields of Node's own fs errors.
#[napi(object)]
pub struct NativeError {
    pub code: String,
    pub errno: i32,
    pub syscall: String,
    pub path: String,
    pub message: String,
}

impl From<SnapError> for NativeError {
    fn from(e: SnapError) -> Self {
        NativeError {
            code: e.code,
            errno: e.errno,
            syscall: e.syscall,
            path: e.path,
            message: e.message,
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

/// How taking the snapshot through the V8 bridge went.
#[napi(object)]
pub struct TakeResult {
    /// Every byte of the snapshot reached the writer.
    pub complete: bool,
    pub generate_ms: f64,
    pub serialize_ms: f64,
    /// Why the snapshot could not be taken (the writer's own errors come from `finish`).
    pub error: Option<String>,
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

/// What the process says about itself when the module loads (for sidecars written without JS).
#[napi(object)]
pub struct EnvInfo {
    pub version: String,
    pub node: String,
    pub v8: String,
    pub hostname: String,
    pub platform: String,
    pub arch: String,
    pub thread_id: u32,
    pub is_main_thread: bool,
}

impl From<EnvInfo> for ProcessInfo {
    fn from(i: EnvInfo) -> Self {
        ProcessInfo {
            version: i.version,
            node: i.node,
            v8: i.v8,
            hostname: i.hostname,
            platform: i.platform,
            arch: i.arch,
            thread_id: i.thread_id,
            is_main_thread: i.is_main_thread,
        }
    }
}

/// How a trigger (signal, near-heap-limit) writes its dumps.
#[napi(object)]
pub struct TriggerOptions {
    /// heapdump's naming: `heapdump-<ms>.<ns>.heapsnapshot` in the working directory, plain,
    /// no sidecar.
    pub heapdump_names: Option<bool>,
    /// Absolute directory for generated names.
    pub dir: Option<String>,
    pub compress: Option<String>,
    pub level: Option<u32>,
    pub sidecar: Option<bool>,
    /// No report line on stderr.
    pub quiet: Option<bool>,
    pub progress: Option<bool>,
    /// Signals: dump every registered worker too.
    pub workers: Option<bool>,
    /// Near-heap-limit: how many dumps before the hook removes itself.
    pub max_snapshots: Option<u32>,
}

/// `'gzip'` (level 1–9, default [`DEFAULT_GZIP_LEVEL`]) or `'none'`.
pub fn compression_of(compress: &str, level: Option<u32>) -> napi::Result<Compression> {
    match compress {
        "none" => Ok(Compression::None),
        "gzip" => match level.unwrap_or(DEFAULT_GZIP_LEVEL) {
            l @ 1..=9 => Ok(Compression::Gzip(l)),
            l => Err(napi::Error::new(
                napi::Status::InvalidArg,
                format!("level must be an integer from 1 to 9, got {l}"),
            )),
        },
        other => Err(napi::Error::new(
            napi::Status::InvalidArg,
            format!("compress must be 'gzip' or 'none', got '{other}'"),
        )),
    }
}
