//! The pure-Rust core: what a dump writes and prints, file naming, the compressing writer,
//! memory headroom, errors, progress. Knows nothing of
//! V8 or N-API; the few OS calls it needs go through the safe wrappers in [`crate::sys::os`].

#![forbid(unsafe_code)]

pub mod dump;
pub mod error;
pub mod memory;
pub mod naming;
pub mod progress;
pub mod sink;
