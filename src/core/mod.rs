//! The pure-Rust core: file naming, the compressing writer, errors, progress. Knows nothing of
//! V8 or N-API; the few OS calls it needs go through the safe wrappers in [`crate::sys::os`].

#![forbid(unsafe_code)]

pub mod error;
pub mod naming;
pub mod progress;
pub mod sink;
pub mod trigger;
