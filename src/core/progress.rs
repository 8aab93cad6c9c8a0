//! `progress: true`: a line on stderr when a phase starts and then about every two seconds
//! while a long dump runs. Written straight to file descriptor 2 from Rust, so it works while
//! the JS thread is blocked.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    pub fn new(interval: Duration) -> Self {
        Progress {
            interval,
            last: Mutex::new(None),
        }
    }

    /// Prints the line `make` builds on the first call, then whenever `interval` has passed
    /// since the last line.
    pub fn tick(&self, make: impl FnOnce() -> String) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < self.interval) {
            return;
        }
        *last = Some(Instant::now());
        drop(last);
        let line = make();
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Sizes as every line and table of this project prints them: binary units, one decimal
/// (`512 B`, `4.0 KiB`, `114.8 MiB`, `2.1 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_rate_limits() {
        let p = Progress::new(Duration::from_secs(3600));
        let mut calls = 0;
        for _ in 0..3 {
            p.tick(|| {
                calls += 1;
                "heapsnap: progress test line".into()
            });
        }
        assert_eq!(
            calls, 1,
            "the first line prints, later ones wait for the interval"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(120_400_000), "114.8 MiB");
        assert_eq!(human_bytes(4096), "4.0 KiB");
        assert_eq!(human_bytes(1), "1 B");
    }
}
