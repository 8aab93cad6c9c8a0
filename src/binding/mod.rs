//! The thin N-API layer: `#[napi]` exports, option structs, argument checks, conversion of
//! results. The user-facing API (call shapes, defaults, Error objects) is the JS in `lib/`.
//!
//! - [`dump`]: taking one snapshot, for the API calls and the triggers alike;
//! - [`environment`]: the registry of JS environments (main thread, workers);
//! - [`triggers`]: signals and the near-heap-limit hook;
//! - [`analyze`]: the analyzer's async exports;
//! - [`options`]: the objects and constants that cross the boundary.

// `deny`, not `forbid`: each `#[napi]` item expands (through the `ctor` crate) into a
// registration item that carries `#[allow(unsafe_code)]`, which `forbid` rejects (E0453).
// `deny` lets only those macro-made items through; hand-written code here still may not use
// it. The test in `src/sys/mod.rs` also fails on any `allow(unsafe_code)` written in the sources.
#![deny(unsafe_code)]

pub mod analyze;
pub mod dump;
pub mod environment;
pub mod options;
pub mod triggers;

use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;

use crate::core::naming;
use crate::core::progress::{human_bytes, Progress};
use crate::sys::v8;
use options::{NativeCapabilities, NativeSymbol};

// The rules JS checks against, owned here.

/// The gzip level used when none is given.
#[napi]
pub const DEFAULT_GZIP_LEVEL: u32 = crate::core::sink::DEFAULT_GZIP_LEVEL;
/// The lowest gzip level accepted.
#[napi]
pub const GZIP_LEVEL_MIN: u32 = *crate::core::sink::GZIP_LEVELS.start();
/// The highest gzip level accepted.
#[napi]
pub const GZIP_LEVEL_MAX: u32 = *crate::core::sink::GZIP_LEVELS.end();

const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// Progress reporters for one dump when `wanted`: one for generation (JS thread), one for the
/// writer thread, so that each phase's first line prints at once.
pub(crate) fn progress_pair(wanted: bool) -> (Option<Progress>, Option<Arc<Progress>>) {
    (
        wanted.then(|| Progress::new(PROGRESS_INTERVAL)),
        wanted.then(|| Arc::new(Progress::new(PROGRESS_INTERVAL))),
    )
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

/// Blocks until every snapshot file being written in this process is final (or removed), at
/// most 60 s (`PENDING_WRITES_WAIT`). Returns how many writers are still busy. Called at
/// process exit.
#[napi]
pub fn wait_for_pending_writes() -> u32 {
    let wait = crate::core::sink::PENDING_WRITES_WAIT;
    crate::core::sink::wait_in_flight(wait) as u32
}

/// A size as every line of this project prints it (`114.8 MiB`).
#[napi]
pub fn format_bytes(bytes: f64) -> String {
    human_bytes(bytes.max(0.0) as u64)
}
