//! heapsnap-native: V8 heap snapshots streamed, compressed and written off the JS thread.
//!
//! Layers: [`binding`] (the `#[napi]` exports, option structs, argument checks) over [`core`]
//! (naming, the writer pipeline, errors) and [`v8bridge`] (the only module that knows V8 exists:
//! run-time symbol lookup and the hand-built C++ objects V8 calls back into).

pub mod analyze;
pub mod binding;
pub mod core;
pub mod v8bridge;
