//! heapsnap-native: V8 heap snapshots streamed, compressed and written off the JS thread.
//!
//! Layers, each using only the ones below it:
//! - [`binding`]: the `#[napi]` exports, option structs, argument checks.
//! - [`core`]: naming, the writer pipeline, errors, trigger decisions. Pure Rust, no N-API.
//! - [`sys`]: the only module tree that may use `unsafe_code`. The V8 bridge ([`sys::v8`], the
//!   only module that knows V8 exists: run-time symbol lookup and the hand-built C++ objects V8
//!   calls back into), the POSIX signal handler ([`sys::signal`]) and safe wrappers of single
//!   libc calls ([`sys::os`]). Depends on neither `core` nor N-API.
//!
//! [`analyze`] (the `.heapsnapshot` reader and its views) is pure Rust beside `binding`: it uses
//! `core` (errors, the writer) and knows nothing of N-API or V8.
//!
//! `core` and `analyze` forbid the `unsafe_code` lint. `binding` denies it: its `#[napi]`
//! macros generate registration items that allow it for themselves, which `forbid` rejects.

pub mod analyze;
pub mod binding;
pub mod core;
pub mod sys;
