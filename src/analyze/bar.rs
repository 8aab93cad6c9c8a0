//! A progress bar on stderr for long analyses: drawn by a ticker thread, only when asked for
//! (the CLI asks when stderr is a terminal) and only once a run has lasted long enough to be
//! worth one, so small files never flash a bar.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::core::progress::human_bytes;

const SHOW_AFTER: Duration = Duration::from_millis(400);
const TICK: Duration = Duration::from_millis(100);
const WIDTH: usize = 30;

#[derive(Default)]
struct State {
    phase: String,
    read: Option<Arc<AtomicU64>>,
    total: u64,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

/// The bar; a disabled one does nothing. Dropping it stops the ticker and clears the line.
pub struct Bar {
    shared: Option<Arc<Shared>>,
    ticker: Option<thread::JoinHandle<()>>,
}

impl Bar {
    pub fn new(enabled: bool) -> Bar {
        if !enabled {
            return Bar {
                shared: None,
                ticker: None,
            };
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let ticker = thread::Builder::new()
            .name("heapsnap-progress".into())
            .spawn(move || tick(&s))
            .ok();
        Bar {
            shared: Some(shared),
            ticker,
        }
    }

    /// Names the phase now running ("reading base.heapsnapshot", "dominators", …).
    pub fn phase(&self, name: impl Into<String>) {
        if let Some(s) = &self.shared {
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            st.phase = name.into();
            st.read = None;
        }
    }

    /// While a file is read, the bar shows how much of it has been.
    pub fn set_source(&self, read: Arc<AtomicU64>, total: u64) {
        if let Some(s) = &self.shared {
            let mut st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            st.read = Some(read);
            st.total = total;
        }
    }

    pub fn clear_source(&self) {
        if let Some(s) = &self.shared {
            s.state.lock().unwrap_or_else(|e| e.into_inner()).read = None;
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(s) = &self.shared {
            s.stop.store(true, Ordering::Relaxed);
        }
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

fn tick(s: &Shared) {
    let start = Instant::now();
    let mut drawn = false;
    let mut err = std::io::stderr();
    while !s.stop.load(Ordering::Relaxed) {
        thread::sleep(TICK);
        if start.elapsed() < SHOW_AFTER {
            continue;
        }
        let line = {
            let st = s.state.lock().unwrap_or_else(|e| e.into_inner());
            match &st.read {
                Some(read) if st.total > 0 => {
                    let done = read.load(Ordering::Relaxed).min(st.total);
                    let fill = (done as u128 * WIDTH as u128 / st.total as u128) as usize;
                    format!(
                        "[{}{}] {:>3}% {} {}/{}",
                        "#".repeat(fill),
                        " ".repeat(WIDTH - fill),
                        done * 100 / st.total,
                        st.phase,
                        human_bytes(done),
                        human_bytes(st.total)
                    )
                }
                _ => format!("{} … {:.1}s", st.phase, start.elapsed().as_secs_f64()),
            }
        };
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}
