//! `HEAPSNAP_PROFILE=1`: one stderr line per analysis phase, with the time since the previous
//! phase and the process's resident set size (current and peak, from `/proc/self/status`), to
//! see where the time and the memory of an analysis go. Off (one cached check) otherwise.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HEAPSNAP_PROFILE").is_some_and(|v| v == "1"))
}

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// `VmRSS` and `VmHWM` in MiB (0 where `/proc` is absent).
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts the clock (a phase line is printed by every later `mark`).
pub fn start() {
    if enabled() {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

/// Ends phase `label`: prints its time and the RSS now.
pub fn mark(label: &str) {
    if !enabled() {
        return;
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let ms = last.map_or(0.0, |t| (now - t).as_secs_f64() * 1e3);
    *last = Some(now);
    let (rss, hwm) = rss();
    eprintln!("heapsnap profile: {label:<34} {ms:>9.1} ms  rss {rss:>6} MiB  peak {hwm:>6} MiB");
}
