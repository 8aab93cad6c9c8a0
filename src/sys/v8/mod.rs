//! The V8 bridge: the one module tree that knows V8 exists.
//!
//! N-API offers no heap profiler, so this module resolves a handful of V8's C++ entry points at
//! run time, by their Itanium-mangled names, from the `node` binary that loaded us
//! (`dlsym(RTLD_DEFAULT, …)`). Nothing is linked against V8 and no V8 header is used: the same
//! `.node` file works on every Node version whose symbols resolve, and when one is missing the
//! caller falls back to Node's JS API (see [`Capabilities::native`]).
//!
//! V8 calls back into two objects built here by hand: a `v8::OutputStream` (receives the
//! serialized JSON) and a `v8::ActivityControl` (receives generation progress). Each is a
//! `#[repr(C)]` struct whose first word points into a static table laid out as the Itanium C++
//! ABI lays out a vtable: `[offset-to-top, typeinfo, complete dtor, deleting dtor, methods…]`,
//! with the object's vptr pointing at the complete-dtor slot. A non-virtual member function is
//! an `extern "C"` function whose first argument is `this`.
//!
//! Every function here that touches V8 must run on the thread that owns the current isolate
//! (the JS thread of the calling environment).
//!
//! The code is split by what it deals with: `symbols` (run-time lookup of the entry points and
//! what resolved), `objects` (the hand-built `OutputStream` and `ActivityControl`),
//! `snapshot` (taking one), `interrupt` (running a task on a JS thread from any thread),
//! `near_limit` (V8's near-heap-limit callback) and `heap_stats` (heap statistics and
//! available memory).

mod heap_stats;
mod interrupt;
mod near_limit;
mod objects;
mod snapshot;
mod symbols;

pub use heap_stats::{
    available_memory, collect_garbage, heap_spaces, heap_statistics, v8_major, HeapStats,
};
pub use interrupt::{current_environment, request_interrupt, EnvHandle};
pub use near_limit::{
    near_heap_limit_install, near_heap_limit_installed, near_heap_limit_remove,
    restore_initial_heap_limit, NearLimitDecision, NearLimitHandler,
};
pub use snapshot::{
    background_outstanding, in_snapshot, release_object_ids, settle_background, take_snapshot,
    take_snapshot_background,
};
pub use symbols::{capabilities, Capabilities, SymbolStatus};

/// What receives the snapshot while it is generated and serialized.
pub trait SnapshotOutput {
    /// Whether to receive [`SnapshotOutput::progress`]. Progress is not free: with an
    /// `ActivityControl` V8 first walks the heap once more to count its objects.
    fn wants_progress(&self) -> bool {
        false
    }
    /// Generation progress (`done` of `total` heap objects). Return `false` to abort.
    fn progress(&mut self, _done: u32, _total: u32) -> bool {
        true
    }
    /// Generation is over (`nodes`: the snapshot's node count, when known); serialization
    /// starts next. The snapshot is at its largest here.
    fn generated(&mut self, _nodes: Option<u64>) {}
    /// A piece of the snapshot's JSON text (pure ASCII). Return `false` to abort serialization.
    fn chunk(&mut self, bytes: &[u8]) -> bool;
}

/// How a [`take_snapshot`] call went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeReport {
    pub generate_ms: f64,
    pub serialize_ms: f64,
    /// V8 called `EndOfStream`: every byte of the snapshot reached the output.
    pub complete: bool,
    /// The snapshot's node count (`HeapSnapshot::GetNodesCount`), when that symbol resolved.
    pub node_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeError {
    /// A required symbol did not resolve in this `node`.
    Unavailable,
    /// No isolate is entered on this thread.
    NoIsolate,
    /// V8 returned no snapshot (generation aborted or failed).
    GenerationFailed,
    /// Our own callback code panicked; the snapshot was abandoned.
    Panicked,
    /// A snapshot is already being taken on this thread (a re-entrant request, e.g. from a
    /// near-heap-limit callback run by the snapshot's own garbage collections).
    Busy,
    /// A background serialization was stopped before its end (the environment went away).
    Cancelled,
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BridgeError::Unavailable => "the V8 heap profiler symbols are not available",
            BridgeError::NoIsolate => "no V8 isolate is current on this thread",
            BridgeError::GenerationFailed => "V8 returned no heap snapshot",
            BridgeError::Panicked => "the snapshot callback panicked",
            BridgeError::Busy => "a snapshot is already being taken on this thread",
            BridgeError::Cancelled => {
                "the snapshot's serialization was cancelled (its thread is ending)"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::symbols::ALL;
    use super::*;

    #[test]
    fn outside_node_nothing_resolves_and_the_bridge_says_so() {
        // `cargo test` runs outside node: no V8 symbol exists, so the caller must fall back.
        let caps = capabilities();
        assert!(!caps.native);
        assert_eq!(caps.take_variant, None);
        assert_eq!(caps.symbols.len(), ALL.len());
        struct Null;
        impl SnapshotOutput for Null {
            fn chunk(&mut self, _: &[u8]) -> bool {
                true
            }
        }
        assert_eq!(take_snapshot(&mut Null), Err(BridgeError::Unavailable));
    }
}
