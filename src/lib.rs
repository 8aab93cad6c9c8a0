//! heapsnap-native: V8 heap snapshots streamed, compressed and written off the JS thread.
//!
//! Layers: [`binding`] (the `#[napi]` exports, option structs, argument checks) over [`core`]
//! (naming, the writer pipeline, errors) over [`sys`], the only module tree with `unsafe` code:
//! the V8 bridge ([`sys::v8`], the only module that knows V8 exists: run-time symbol lookup and
//! the hand-built C++ objects V8 calls back into), the POSIX signal handler ([`sys::signal`])
//! and safe wrappers of single libc calls ([`sys::os`]). [`analyze`] (the `.heapsnapshot`
//! reader and its views) is pure Rust and depends on none of them.
//!
//! `core` and `analyze` forbid `unsafe` code; `binding` denies it (its `#[napi]` macros
//! generate registration code that allows it for itself).

pub mod analyze;
pub mod binding;
pub mod core;
pub mod sys;
