//! The pure-Rust core: file naming, the compressing writer, errors, progress. Knows nothing of
//! V8 or N-API.

pub mod error;
pub mod naming;
pub mod progress;
pub mod signal;
pub mod sink;
pub mod trigger;
