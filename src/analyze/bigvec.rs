//! Allocation of the analyzer's large arrays (node and edge columns, per-node tables of the
//! dominator pass): from 8 MiB up they are given transparent huge pages (see
//! `sys::os::advise_huge_pages`), which the graph passes, reading such arrays at random, profit
//! from. Smaller ones are allocated as usual, so that rounding to 2 MiB costs little memory.

use crate::sys::os::advise_huge_pages;

const HUGE_MIN_BYTES: usize = 8 << 20;

/// An empty `Vec` with room for `n` items.
pub fn with_capacity<T>(n: usize) -> Vec<T> {
    let v = Vec::with_capacity(n);
    if n.saturating_mul(std::mem::size_of::<T>()) >= HUGE_MIN_BYTES {
        advise_huge_pages(&v);
    }
    v
}

/// `vec![value; n]`.
pub fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    if n.saturating_mul(std::mem::size_of::<T>()) < HUGE_MIN_BYTES {
        return vec![value; n];
    }
    let mut v = with_capacity(n);
    v.resize(n, value);
    v
}
