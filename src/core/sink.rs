//! The snapshot writer: bytes in on the JS thread, compressed and written on a worker thread,
//! made durable and renamed into place only when complete.
//!
//! 1. [`Sink::open`] refuses a final path that is a directory or a symlink, then creates
//!    `<final>.<pid>-<random>.tmp` with `O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`, mode 0600, and
//!    starts the writer thread. Opening happens before any snapshot is taken, so a bad path
//!    fails in microseconds, not after a minute of heap walking.
//! 2. [`Sink::write`] copies bytes into a 1 MiB buffer; full buffers go through a bounded
//!    channel (so memory stays flat) to the writer, which gzips them (flate2) or writes them as
//!    they are. Emptied buffers come back through a second channel and are reused.
//! 3. [`Sink::finish`] sends the end mark; the writer finishes the gzip stream, fsyncs, renames
//!    the tmp file to the final name, fsyncs the directory and writes the sidecar.
//!
//! On any failure (open, a write that hits ENOSPC/EFBIG, fsync, rename) the tmp file is removed,
//! [`Sink::write`] starts returning `false` so the producer stops, and the error is reported:
//! a file under the final name is always complete.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, Sender};
use flate2::write::GzEncoder;
use serde_json::{Map, Value};

use super::error::SnapError;
use super::naming;
use super::progress::{human_bytes, Progress};

/// Bytes per message to the writer thread.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Messages in flight: with [`CHUNK_BYTES`] this bounds queued data to 32 MiB, enough to absorb
/// bursts where V8 serializes faster than gzip keeps up (high-entropy string heaps, a busy
/// machine) while staying well inside the +64 MiB RSS budget of bench/RESULTS.md.
const QUEUE_DEPTH: usize = 32;

/// The gzip level used when none is given. Chosen from bench/RESULTS.md: level 2 is 10–17%
/// smaller than level 1 on object-heavy snapshots (6.1–6.4× instead of 5.4–5.5×) and still
/// compresses at 175–200 MB/s on one core, several times V8's serialization rate, so the
/// JS thread does not wait for it; levels 3–6 gain 1–5% more at 2–5× the CPU.
pub const DEFAULT_GZIP_LEVEL: u32 = 2;
/// The gzip levels accepted.
pub const GZIP_LEVELS: std::ops::RangeInclusive<u32> = 1..=9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// gzip at level 1–9.
    Gzip(u32),
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip(_) => "gzip",
        }
    }

    pub fn level(self) -> Option<u32> {
        match self {
            Compression::None => None,
            Compression::Gzip(level) => Some(level),
        }
    }
}

/// What to write and where.
pub struct SinkSpec {
    /// The final file name, absolute or relative to the process's working directory.
    pub path: PathBuf,
    pub compression: Compression,
    /// The sidecar's fields known at the start; `None` writes no sidecar.
    pub sidecar: Option<Map<String, Value>>,
    /// Print `written N MiB` lines while writing.
    pub progress: Option<Arc<Progress>>,
    /// When the dump began, if before [`Sink::open`] (the JS engine writes its raw snapshot
    /// first): `total_ms` counts from here.
    pub began: Option<Instant>,
}

/// A durable snapshot file.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub path: PathBuf,
    /// Bytes on disk.
    pub bytes: u64,
    /// Bytes of snapshot JSON before compression.
    pub raw_bytes: u64,
    pub compression: Compression,
    /// How long the producer (the JS thread) was blocked, as it reported at [`Sink::finish`].
    pub stall_ms: f64,
    /// From [`Sink::open`] until the file was durable under its final name.
    pub total_ms: f64,
    pub sidecar: Option<PathBuf>,
    /// The snapshot is durable but its sidecar could not be written.
    pub sidecar_error: Option<SnapError>,
    /// What the producer measured (see [`Sink::set_stats`]).
    pub stats: DumpStats,
}

/// What taking the snapshot cost, as the producer measured it; written into the sidecar and
/// returned with the [`Outcome`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DumpStats {
    /// V8's generation of the snapshot.
    pub generate_ms: Option<f64>,
    /// V8's serialization into the writer.
    pub serialize_ms: Option<f64>,
    /// The snapshot's node count.
    pub object_count: Option<u64>,
    /// What the memory model predicted the dump's peak RSS growth to be.
    pub predicted_peak_bytes: Option<u64>,
    /// The dump's measured peak RSS growth.
    pub peak_rss_bytes: Option<u64>,
}

impl DumpStats {
    /// The sidecar fields, `null` where unknown.
    pub fn fields(&self) -> Map<String, Value> {
        let opt = |v: Option<f64>| v.map(|x| Value::from(round3(x))).unwrap_or(Value::Null);
        let int = |v: Option<u64>| v.map(Value::from).unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("generateMs".into(), opt(self.generate_ms));
        m.insert("serializeMs".into(), opt(self.serialize_ms));
        m.insert("objectCount".into(), int(self.object_count));
        m.insert("predictedPeakBytes".into(), int(self.predicted_peak_bytes));
        m.insert("peakRssBytes".into(), int(self.peak_rss_bytes));
        m
    }
}

/// Called on the writer thread once the file is durable (or has failed).
pub type Notify = Box<dyn FnOnce(Result<Outcome, SnapError>) + Send>;

enum Msg {
    Chunk(Vec<u8>),
    End {
        stall_ms: f64,
        stats: DumpStats,
        notify: Option<Notify>,
    },
}

pub struct Sink {
    tx: Option<Sender<Msg>>,
    recycled: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    failed: Arc<AtomicBool>,
    worker: Option<JoinHandle<Result<Outcome, SnapError>>>,
    stats: DumpStats,
}

/// A finished sink whose writer may still be flushing.
pub struct Pending {
    worker: JoinHandle<Result<Outcome, SnapError>>,
}

impl Pending {
    /// Blocks until the file is durable, or has failed.
    pub fn wait(self) -> Result<Outcome, SnapError> {
        join(self.worker)
    }
}

impl Sink {
    pub fn open(spec: SinkSpec) -> Result<Sink, SnapError> {
        let started = spec.began.unwrap_or_else(Instant::now);
        check_final_path(&spec.path, "open")?;
        remove_stale_tmps(&spec.path);
        let (file, tmp) = create_tmp(&spec.path)?;
        let (tx, rx) = bounded::<Msg>(QUEUE_DEPTH);
        let (recycle_tx, recycled) = bounded::<Vec<u8>>(QUEUE_DEPTH);
        let failed = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            rx,
            recycle: recycle_tx,
            failed: failed.clone(),
            spec,
            tmp,
            started,
        };
        let guard = InFlight::enter();
        let worker = std::thread::Builder::new()
            .name("heapsnap-writer".into())
            .spawn(move || {
                let _guard = guard;
                writer.run(file)
            })
            .map_err(|e| SnapError::io(&e, "spawn", Path::new("heapsnap-writer")))?;
        Ok(Sink {
            tx: Some(tx),
            recycled,
            buf: Vec::with_capacity(CHUNK_BYTES),
            failed,
            worker: Some(worker),
            stats: DumpStats::default(),
        })
    }

    /// Copies `bytes` towards the writer. Returns `false` once the writer has failed: the
    /// producer should stop; [`Sink::finish`] reports why.
    pub fn write(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.failed.load(Ordering::Relaxed) {
                return false;
            }
            let room = CHUNK_BYTES - self.buf.len();
            let take = room.min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == CHUNK_BYTES && !self.flush() {
                return false;
            }
        }
        !self.failed.load(Ordering::Relaxed)
    }

    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES));
        let full = std::mem::replace(&mut self.buf, next);
        match &self.tx {
            Some(tx) => tx.send(Msg::Chunk(full)).is_ok(),
            None => false,
        }
    }

    /// What the producer measured, for the sidecar and the [`Outcome`].
    pub fn set_stats(&mut self, stats: DumpStats) {
        self.stats = stats;
    }

    /// Ends the stream. `stall_ms` is how long the producer was blocked. `notify`, when given,
    /// is called on the writer thread with the result.
    pub fn finish(mut self, stall_ms: f64, notify: Option<Notify>) -> Pending {
        self.flush();
        let tx = self.tx.take().expect("finish is called once");
        let worker = self.worker.take().expect("finish is called once");
        let stats = self.stats;
        match tx.send(Msg::End {
            stall_ms,
            stats,
            notify,
        }) {
            Ok(()) => Pending { worker },
            Err(crossbeam_channel::SendError(msg)) => {
                // The writer has already stopped (it failed and returned): report its error.
                let result = join(worker);
                if let Msg::End {
                    notify: Some(notify),
                    ..
                } = msg
                {
                    notify(result.clone());
                }
                Pending {
                    worker: std::thread::spawn(move || result),
                }
            }
        }
    }

    /// Stops without a file: the writer removes the tmp file. Blocks until it has.
    pub fn abort(mut self) {
        self.tx.take();
        if let Some(worker) = self.worker.take() {
            let _ = join(worker);
        }
    }

    /// Whether the writer has failed (the producer should stop).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Dropping the sender without an end mark tells the writer to discard the tmp file.
        self.tx.take();
    }
}

/// Writers whose file is not final yet, process-wide.
static IN_FLIGHT: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        *IN_FLIGHT.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut n = IN_FLIGHT.0.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        IN_FLIGHT.1.notify_all();
    }
}

/// How long a process that may end next (process exit, the near-heap-limit hook before V8's
/// out-of-memory error) waits for files still being written: a stuck disk holds it no longer.
pub const PENDING_WRITES_WAIT: Duration = Duration::from_secs(60);

/// Blocks until every writer in the process has finished (file final, or tmp removed), or
/// `timeout` has passed. Returns how many are still writing. Process exit calls this so that
/// an exit during a dump waits for the file instead of leaving a half-written tmp file.
pub fn wait_in_flight(timeout: Duration) -> usize {
    let guard = IN_FLIGHT.0.lock().unwrap_or_else(|e| e.into_inner());
    let (n, _) = IN_FLIGHT
        .1
        .wait_timeout_while(guard, timeout, |n| *n > 0)
        .unwrap_or_else(|e| e.into_inner());
    *n
}

/// Removes tmp files in `final_path`'s directory that this module made in processes that no
/// longer exist (a dump killed with `kill -9`, a container OOM-kill). Tmp files of live
/// processes, and files whose names are not ours, are left alone.
fn remove_stale_tmps(final_path: &Path) {
    let Ok(entries) = fs::read_dir(parent_dir(final_path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(naming::tmp_owner) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    match crate::sys::os::probe_process(pid) {
        Ok(()) => true,
        Err(e) => e.raw_os_error() != Some(libc::ESRCH),
    }
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true // no cheap check: never remove
}

fn join(worker: JoinHandle<Result<Outcome, SnapError>>) -> Result<Outcome, SnapError> {
    worker.join().unwrap_or_else(|_| {
        Err(SnapError::other(
            "ERR_HEAPSNAP_WRITER_PANICKED",
            "write",
            Path::new(""),
            "heapsnap: the writer thread panicked",
        ))
    })
}

/// Refuses a final path that is a directory (EISDIR) or a symbolic link (ELOOP, as
/// `O_NOFOLLOW` would): the dump must never write through a link planted at its name.
fn check_final_path(path: &Path, syscall: &str) -> Result<(), SnapError> {
    match fs::symlink_metadata(path) {
        #[cfg(unix)]
        Ok(meta) if meta.file_type().is_symlink() => Err(SnapError::os(
            libc::ELOOP,
            syscall,
            &path.display().to_string(),
        )),
        #[cfg(not(unix))]
        Ok(meta) if meta.file_type().is_symlink() => Err(SnapError::other(
            "ELOOP",
            syscall,
            path,
            format!(
                "ELOOP: the name is a symbolic link, {syscall} '{}'",
                path.display()
            ),
        )),
        Ok(meta) if meta.is_dir() => Err(SnapError::os(
            libc::EISDIR,
            syscall,
            &path.display().to_string(),
        )),
        _ => Ok(()),
    }
}

fn create_tmp(final_path: &Path) -> Result<(File, PathBuf), SnapError> {
    let mut attempts = 0;
    loop {
        let tmp = naming::tmp_path(final_path);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        match options.open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            // Report the name the user asked for, not our tmp name.
            Err(e) => return Err(SnapError::io(&e, "open", final_path)),
        }
    }
}

/// Counts the bytes that reach the file.
struct Counting {
    file: File,
    bytes: u64,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Out {
    Plain(Counting),
    Gzip(GzEncoder<Counting>),
}

impl Out {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.write_all(bytes),
            Out::Gzip(w) => w.write_all(bytes),
        }
    }

    fn on_disk(&self) -> u64 {
        match self {
            Out::Plain(w) => w.bytes,
            Out::Gzip(w) => w.get_ref().bytes,
        }
    }

    fn finish(self) -> io::Result<Counting> {
        match self {
            Out::Plain(w) => Ok(w),
            Out::Gzip(w) => w.finish(),
        }
    }
}

struct Writer {
    rx: Receiver<Msg>,
    recycle: Sender<Vec<u8>>,
    failed: Arc<AtomicBool>,
    spec: SinkSpec,
    tmp: PathBuf,
    started: Instant,
}

impl Writer {
    fn run(self, file: File) -> Result<Outcome, SnapError> {
        let counting = Counting { file, bytes: 0 };
        let mut out = match self.spec.compression {
            Compression::None => Out::Plain(counting),
            Compression::Gzip(level) => Out::Gzip(GzEncoder::new(
                counting,
                flate2::Compression::new(level.clamp(1, 9)),
            )),
        };
        let mut raw: u64 = 0;
        let mut error: Option<SnapError> = None;
        // Receive until the end mark, or until the sender is dropped (an abort). After a write
        // error keep receiving (and discarding) so that the end mark's `notify` still runs.
        let end = loop {
            match self.rx.recv() {
                Ok(Msg::Chunk(mut chunk)) => {
                    if error.is_none() {
                        match out.write_all(&chunk) {
                            Ok(()) => {
                                raw += chunk.len() as u64;
                                if let Some(p) = &self.spec.progress {
                                    p.tick(|| {
                                        format!(
                                            "heapsnap: written {} ({} on disk)",
                                            human_bytes(raw),
                                            human_bytes(out.on_disk())
                                        )
                                    });
                                }
                            }
                            Err(e) => {
                                error = Some(SnapError::io(&e, "write", &self.spec.path));
                                self.failed.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    chunk.clear();
                    let _ = self.recycle.try_send(chunk);
                }
                Ok(Msg::End {
                    stall_ms,
                    stats,
                    notify,
                }) => break Some((stall_ms, stats, notify)),
                Err(_) => break None,
            }
        };
        let Some((stall_ms, stats, notify)) = end else {
            let _ = fs::remove_file(&self.tmp);
            self.failed.store(true, Ordering::Relaxed);
            return Err(error.unwrap_or_else(|| {
                SnapError::other(
                    "ERR_HEAPSNAP_ABORTED",
                    "write",
                    &self.spec.path,
                    format!(
                        "heapsnap: the snapshot was aborted before it was complete, '{}'",
                        self.spec.path.display()
                    ),
                )
            }));
        };
        let result = match error {
            Some(e) => Err(e),
            None => self.commit(out, raw, stall_ms, stats),
        };
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
            self.failed.store(true, Ordering::Relaxed);
        }
        if let Some(notify) = notify {
            notify(result.clone());
        }
        result
    }

    /// Finishes the stream, makes it durable and moves it under its final name.
    fn commit(
        &self,
        out: Out,
        raw: u64,
        stall_ms: f64,
        stats: DumpStats,
    ) -> Result<Outcome, SnapError> {
        let path = &self.spec.path;
        let counting = out.finish().map_err(|e| SnapError::io(&e, "write", path))?;
        counting
            .file
            .sync_all()
            .map_err(|e| SnapError::io(&e, "fsync", path))?;
        let bytes = counting.bytes;
        drop(counting);
        // Someone may have planted a link or a directory at the name while we wrote.
        check_final_path(path, "rename")?;
        fs::rename(&self.tmp, path).map_err(|e| SnapError::io(&e, "rename", path))?;
        sync_parent_dir(path);
        let total_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let mut outcome = Outcome {
            path: path.clone(),
            bytes,
            raw_bytes: raw,
            compression: self.spec.compression,
            stall_ms,
            total_ms,
            sidecar: None,
            sidecar_error: None,
            stats,
        };
        if let Some(fields) = &self.spec.sidecar {
            match write_sidecar(fields.clone(), &outcome) {
                Ok(p) => outcome.sidecar = Some(p),
                Err(e) => outcome.sidecar_error = Some(e),
            }
        }
        Ok(outcome)
    }
}

/// The directory a file name lives in (`.` for a bare relative name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsync of the directory makes the rename itself durable. Best effort: some file systems
/// refuse to fsync a directory, and the file's own data is already on disk.
fn sync_parent_dir(path: &Path) {
    if let Ok(d) = File::open(parent_dir(path)) {
        let _ = d.sync_all();
    }
}

/// The sidecar `<snapshot>.json`: the start fields plus what is known at the end. Written the
/// same way as the snapshot (tmp file, fsync, rename).
fn write_sidecar(mut fields: Map<String, Value>, o: &Outcome) -> Result<PathBuf, SnapError> {
    let path = naming::sidecar_path(&o.path);
    fields.insert("path".into(), Value::from(o.path.display().to_string()));
    fields.insert(
        "endTime".into(),
        Value::from(naming::iso8601(SystemTime::now())),
    );
    fields.insert("rawBytes".into(), Value::from(o.raw_bytes));
    fields.insert("bytes".into(), Value::from(o.bytes));
    fields.insert("compression".into(), Value::from(o.compression.name()));
    fields.insert(
        "level".into(),
        o.compression
            .level()
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    fields.insert("stallMs".into(), Value::from(round3(o.stall_ms)));
    fields.insert("totalMs".into(), Value::from(round3(o.total_ms)));
    fields.extend(o.stats.fields());
    let mut text = serde_json::to_vec_pretty(&Value::Object(fields)).expect("JSON map serializes");
    text.push(b'\n');
    check_final_path(&path, "open")?;
    let (mut file, tmp) = create_tmp(&path)?;
    let written = file
        .write_all(&text)
        .map_err(|e| SnapError::io(&e, "write", &path))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| SnapError::io(&e, "fsync", &path))
        })
        .and_then(|()| fs::rename(&tmp, &path).map_err(|e| SnapError::io(&e, "rename", &path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

pub fn round3(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "heapsnap-sink-{tag}-{}-{}",
            std::process::id(),
            naming::unique_hrtime()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn spec(path: PathBuf, compression: Compression) -> SinkSpec {
        SinkSpec {
            path,
            compression,
            sidecar: None,
            progress: None,
            began: None,
        }
    }

    fn payload() -> Vec<u8> {
        (0..3 * CHUNK_BYTES + 12_345)
            .map(|i| b"{\"nodes\":[0,1,2]}"[i % 17])
            .collect()
    }

    #[test]
    fn plain_file_is_complete_renamed_and_private() {
        let dir = tempdir("plain");
        let path = dir.join("a.heapsnapshot");
        let data = payload();
        let mut sink = Sink::open(spec(path.clone(), Compression::None)).unwrap();
        for piece in data.chunks(65_536) {
            assert!(sink.write(piece));
        }
        let o = sink.finish(1.5, None).wait().unwrap();
        assert_eq!(fs::read(&path).unwrap(), data);
        assert_eq!(o.raw_bytes, data.len() as u64);
        assert_eq!(o.bytes, data.len() as u64);
        assert_eq!(o.stall_ms, 1.5);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no tmp file left");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gzip_round_trips_and_notify_runs() {
        let dir = tempdir("gz");
        let path = dir.join("a.heapsnapshot.gz");
        let data = payload();
        let mut s = spec(path.clone(), Compression::Gzip(1));
        let mut start = Map::new();
        start.insert("trigger".into(), Value::from("api"));
        s.sidecar = Some(start);
        let mut sink = Sink::open(s).unwrap();
        assert!(sink.write(&data));
        let (tx, rx) = std::sync::mpsc::channel();
        let o = sink
            .finish(0.0, Some(Box::new(move |r| tx.send(r).unwrap())))
            .wait()
            .unwrap();
        assert_eq!(rx.recv().unwrap().unwrap(), o);
        let mut back = Vec::new();
        GzDecoder::new(File::open(&path).unwrap())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(o.bytes < o.raw_bytes / 10);
        let side: Value = serde_json::from_slice(&fs::read(o.sidecar.unwrap()).unwrap()).unwrap();
        assert_eq!(side["trigger"], "api");
        assert_eq!(side["rawBytes"], data.len() as u64);
        assert_eq!(side["compression"], "gzip");
        assert_eq!(side["level"], 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_directory_fails_at_open() {
        let e = Sink::open(spec(
            PathBuf::from("/does/not/exist/x.heapsnapshot"),
            Compression::None,
        ))
        .err()
        .unwrap();
        assert_eq!(e.code, "ENOENT");
        assert_eq!(e.syscall, "open");
        assert_eq!(e.path, "/does/not/exist/x.heapsnapshot");
    }

    #[test]
    fn directory_and_symlink_at_the_final_name_are_refused() {
        let dir = tempdir("refuse");
        let e = Sink::open(spec(dir.clone(), Compression::None))
            .err()
            .unwrap();
        assert_eq!(e.code, "EISDIR");
        let target = dir.join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.join("link.heapsnapshot");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = Sink::open(spec(link.clone(), Compression::None))
            .err()
            .unwrap();
        assert_eq!(e.code, "ELOOP");
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stale_tmps_of_dead_processes_are_removed_others_kept() {
        let dir = tempdir("stale");
        // pid 0x7fff_fff0 does not exist; our own pid does.
        let dead = dir.join("a.heapsnapshot.2147483632-0123456789abcdef.tmp");
        let mine = dir.join(format!(
            "b.heapsnapshot.{}-0123456789abcdef.tmp",
            std::process::id()
        ));
        let other = dir.join("unrelated.2147483632-0123456789abcdef.tmp");
        for f in [&dead, &mine, &other] {
            fs::write(f, b"x").unwrap();
        }
        let mut sink = Sink::open(spec(dir.join("c.heapsnapshot"), Compression::None)).unwrap();
        assert!(sink.write(b"{}"));
        sink.finish(0.0, None).wait().unwrap();
        assert!(!dead.exists(), "a dead process's tmp is removed");
        assert!(mine.exists() && other.exists());
        assert_eq!(wait_in_flight(Duration::from_secs(1)), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropped_sink_leaves_nothing() {
        let dir = tempdir("drop");
        let path = dir.join("a.heapsnapshot");
        let mut sink = Sink::open(spec(path.clone(), Compression::Gzip(6))).unwrap();
        assert!(sink.write(&payload()));
        sink.abort();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn write_errors_stop_the_producer_and_remove_the_tmp() {
        // /dev/full fails every write with ENOSPC; point the sink's file there through a
        // writer built by hand, as Sink::open would only create regular files.
        let dir = tempdir("full");
        let path = dir.join("a.heapsnapshot");
        let (tx, rx) = bounded(QUEUE_DEPTH);
        let (rtx, _rrx) = bounded(QUEUE_DEPTH);
        let tmp = dir.join("a.tmp");
        fs::write(&tmp, b"").unwrap();
        let failed = Arc::new(AtomicBool::new(false));
        let w = Writer {
            rx,
            recycle: rtx,
            failed: failed.clone(),
            spec: spec(path.clone(), Compression::None),
            tmp: tmp.clone(),
            started: Instant::now(),
        };
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let h = std::thread::spawn(move || w.run(full));
        tx.send(Msg::Chunk(vec![b'x'; 4096])).unwrap();
        tx.send(Msg::End {
            stall_ms: 0.0,
            stats: DumpStats::default(),
            notify: None,
        })
        .unwrap();
        let e = h.join().unwrap().err().unwrap();
        assert_eq!(e.code, "ENOSPC");
        assert_eq!(e.syscall, "write");
        assert!(failed.load(Ordering::Relaxed));
        assert!(!tmp.exists() && !path.exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
