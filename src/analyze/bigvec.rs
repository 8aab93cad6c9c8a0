//! Allocation of the analyzer's large arrays (node and edge columns, per-node tables of the
//! dominator pass): from 8 MiB up they are given transparent huge pages (see
//! `sys::os::advise_huge_pages`), which the graph passes, reading such arrays at random, profit
//! from. Smaller ones are allocated as usual, so that rounding to 2 MiB costs little memory.
//! Arrays about to be filled can have their pages faulted in ahead, on the other core
//! ([`Prefault`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::sys::os::{advise_huge_pages, idle_priority, populate_write, Pages};

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

/// `n` copies of `value` in `spare`'s memory when it has room for them, else in a new array
/// ([`filled`]). Memory the process has written before costs no page faults: on the machines
/// measured the kernel fills fresh pages at 1.5–2 GB/s, five times slower than a write to pages
/// already there, and a summary of a 300 MB snapshot spent ~150 ms of its main thread in such
/// faults.
pub fn filled_in<T: Clone>(mut spare: Vec<T>, n: usize, value: T) -> Vec<T> {
    if spare.capacity() < n {
        return filled(n, value);
    }
    spare.clear();
    spare.resize(n, value);
    spare
}

/// The pages of arrays about to be filled, faulted in on a thread of its own (the kernel
/// allocates and zeroes them there, `sys::os::populate_write`) while the caller fills them,
/// so that the first write to each page does not stop the filling thread. The contents are
/// never touched, so the arrays may be written (or even reallocated) meanwhile. Dropping it
/// stops the thread within one slice of `SLICE` bytes and waits for it (a file found damaged
/// early does not wait for all its columns).
pub struct Prefault {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const SLICE: usize = 32 << 20;

impl Prefault {
    /// Starts on `pages`, in order; no thread for less than `HUGE_MIN_BYTES` in all.
    pub fn start(pages: Vec<Pages>) -> Prefault {
        let stop = Arc::new(AtomicBool::new(false));
        if pages.iter().map(Pages::bytes).sum::<usize>() < HUGE_MIN_BYTES {
            return Prefault { stop, thread: None };
        }
        let stopped = stop.clone();
        let thread = thread::Builder::new()
            .name("heapsnap-prefault".into())
            .spawn(move || {
                idle_priority();
                for slice in pages.into_iter().flat_map(|p| p.slices(SLICE)) {
                    if stopped.load(Ordering::Relaxed) {
                        return;
                    }
                    populate_write(slice);
                }
            });
        Prefault {
            stop,
            thread: thread.ok(),
        }
    }
}

impl Drop for Prefault {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
