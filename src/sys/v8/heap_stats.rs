//! Heap statistics of the current isolate and the memory still available to the process, read
//! without running JavaScript.

use std::ffi::c_void;

use super::symbols::{
    symbols, GetCurrentFn, Wanted, GET_CURRENT, GET_HEAP_SPACE_STATISTICS, GET_HEAP_STATISTICS,
    HEAP_SPACE_STATISTICS_CTOR, HEAP_STATISTICS_CTOR, LOW_MEMORY_NOTIFICATION,
    NUMBER_OF_HEAP_SPACES, UV_AVAILABLE_MEMORY, UV_CONSTRAINED_MEMORY, UV_FREE_MEMORY,
    V8_GET_VERSION,
};

type CtorFn = unsafe extern "C" fn(this: *mut c_void);
type GetHeapStatisticsFn = unsafe extern "C" fn(isolate: *mut c_void, stats: *mut c_void);
type UvMemoryFn = unsafe extern "C" fn() -> u64;
type NumberOfHeapSpacesFn = unsafe extern "C" fn(isolate: *mut c_void) -> usize;
type GetHeapSpaceStatisticsFn =
    unsafe extern "C" fn(isolate: *mut c_void, stats: *mut c_void, index: usize) -> bool;
type GetVersionFn = unsafe extern "C" fn() -> *const std::ffi::c_char;
type LowMemoryNotificationFn = unsafe extern "C" fn(isolate: *mut c_void);

/// `v8::HeapStatistics`, the fields whose offsets are the same on Node 18–26.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapStats {
    pub total_heap_size: u64,
    pub total_heap_size_executable: u64,
    pub total_physical_size: u64,
    pub total_available_size: u64,
    pub used_heap_size: u64,
    pub heap_size_limit: u64,
    pub malloced_memory: u64,
    pub external_memory: u64,
    pub peak_malloced_memory: u64,
    pub number_of_native_contexts: u64,
    pub number_of_detached_contexts: u64,
}

/// The current isolate's heap statistics, read without running JavaScript.
pub fn heap_statistics() -> Option<HeapStats> {
    let s = symbols();
    let get_current = s.get(&GET_CURRENT)?.addr;
    let ctor = s.get(&HEAP_STATISTICS_CTOR)?.addr;
    let get = s.get(&GET_HEAP_STATISTICS)?.addr;
    // v8::HeapStatistics is 112 bytes on V8 10-14.1 and 120 on 14.6; 256 leaves room.
    let mut buf = [0u64; 32];
    // SAFETY: the constructor initialises a HeapStatistics at `buf` (larger than any known
    // layout), and Isolate::GetHeapStatistics(this, HeapStatistics*) fills it, on the
    // isolate's own thread.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current)();
        if isolate.is_null() {
            return None;
        }
        let p = buf.as_mut_ptr() as *mut c_void;
        std::mem::transmute::<usize, CtorFn>(ctor)(p);
        std::mem::transmute::<usize, GetHeapStatisticsFn>(get)(isolate, p);
    }
    Some(HeapStats {
        total_heap_size: buf[0],
        total_heap_size_executable: buf[1],
        total_physical_size: buf[2],
        total_available_size: buf[3],
        used_heap_size: buf[4],
        heap_size_limit: buf[5],
        malloced_memory: buf[6],
        external_memory: buf[7],
        peak_malloced_memory: buf[8],
        // buf[9] is does_zap_garbage (a bool and padding)
        number_of_native_contexts: buf[10],
        number_of_detached_contexts: buf[11],
    })
}

/// The used bytes of each of the heap's spaces, by V8's name for it (`old_space`,
/// `large_object_space`, …), read without running JavaScript.
pub fn heap_spaces() -> Option<Vec<(String, u64)>> {
    let s = symbols();
    let get_current = s.get(&GET_CURRENT)?.addr;
    let count = s.get(&NUMBER_OF_HEAP_SPACES)?.addr;
    let ctor = s.get(&HEAP_SPACE_STATISTICS_CTOR)?.addr;
    let get = s.get(&GET_HEAP_SPACE_STATISTICS)?.addr;
    let mut spaces = Vec::new();
    // SAFETY: Isolate::GetCurrent() returns this thread's entered isolate (or null). A
    // v8::HeapSpaceStatistics is `const char* space_name_` and four size_t (40 bytes on V8
    // 10-14); the constructor initialises one at `buf` (larger), and
    // Isolate::GetHeapSpaceStatistics(this, stats, index) fills it for an index below
    // Isolate::NumberOfHeapSpaces(), on the isolate's own thread. The name is a static C string
    // of V8's (or null).
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current)();
        if isolate.is_null() {
            return None;
        }
        let n = std::mem::transmute::<usize, NumberOfHeapSpacesFn>(count)(isolate);
        for index in 0..n {
            let mut buf = [0u64; 16];
            let p = buf.as_mut_ptr() as *mut c_void;
            std::mem::transmute::<usize, CtorFn>(ctor)(p);
            if !std::mem::transmute::<usize, GetHeapSpaceStatisticsFn>(get)(isolate, p, index) {
                continue;
            }
            let name = buf[0] as *const std::ffi::c_char;
            if !name.is_null() {
                let name = std::ffi::CStr::from_ptr(name)
                    .to_string_lossy()
                    .into_owned();
                spaces.push((name, buf[2]));
            }
        }
    }
    Some(spaces)
}

/// V8's major version ("14.6.202.33-node.12" → 14).
pub fn v8_major() -> Option<u32> {
    let get = symbols().get(&V8_GET_VERSION)?.addr;
    // SAFETY: v8::V8::GetVersion() takes no arguments and returns a static NUL-terminated string.
    let version = unsafe {
        let p = std::mem::transmute::<usize, GetVersionFn>(get)();
        if p.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(p).to_str().ok()?
    };
    version.split('.').next()?.parse().ok()
}

/// A full garbage collection of the current isolate (`Isolate::LowMemoryNotification`: V8
/// collects until nothing more is freed, as its heap snapshot does first). `false` where the
/// entry point is missing. Only on the isolate's thread, outside any GC callback.
pub fn collect_garbage() -> bool {
    let s = symbols();
    let (Some(get_current), Some(notify)) = (s.get(&GET_CURRENT), s.get(&LOW_MEMORY_NOTIFICATION))
    else {
        return false;
    };
    // SAFETY: Isolate::GetCurrent() returns this thread's entered isolate (or null), and
    // Isolate::LowMemoryNotification(this) takes only that isolate; the caller runs on the
    // isolate's thread at a point where V8 allows a GC (an API call or an interrupt, never a
    // GC callback such as the near-heap-limit one).
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current.addr)();
        if isolate.is_null() {
            return false;
        }
        std::mem::transmute::<usize, LowMemoryNotificationFn>(notify.addr)(isolate);
    }
    true
}

/// Memory the process may still use, as libuv sees it: `uv_get_available_memory` (cgroup-aware,
/// Node 20+), else the cgroup limit or, without one, the free memory.
pub fn available_memory() -> Option<u64> {
    let s = symbols();
    let call = |w: &Wanted| {
        s.get(w).map(|f| {
            // SAFETY: these libuv functions take no arguments and return a uint64_t.
            unsafe { std::mem::transmute::<usize, UvMemoryFn>(f.addr)() }
        })
    };
    if let Some(v) = call(&UV_AVAILABLE_MEMORY).filter(|v| *v > 0) {
        return Some(v);
    }
    let free = call(&UV_FREE_MEMORY);
    match call(&UV_CONSTRAINED_MEMORY).filter(|v| *v > 0 && *v < u64::MAX / 2) {
        Some(limit) => Some(free.map_or(limit, |f| f.min(limit))),
        None => free,
    }
}
