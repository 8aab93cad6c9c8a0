//! The bytes of a snapshot file, plain or gzip (told apart by content, not by name), read and
//! inflated on a thread of their own so that decompression overlaps parsing. The parser sees
//! a stream of 256 KiB chunks; no more than `DEPTH` of them are in flight at once, so that the
//! chunks being filled and read stay in the CPU's caches instead of making a trip to memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};
use flate2::read::MultiGzDecoder;

use crate::core::error::SnapError;

#[cfg(not(test))]
const CHUNK: usize = 1 << 18;
/// Tiny chunks under test, so that every token of the test files crosses a chunk boundary.
#[cfg(test)]
const CHUNK: usize = 7;
const DEPTH: usize = 4;

/// Error code for a file that is not a well-formed heap snapshot (or not well-formed gzip).
pub const ERR_BAD_SNAPSHOT: &str = "ERR_HEAPSNAP_BAD_SNAPSHOT";

/// An opened snapshot file.
pub struct Source {
    pub path: PathBuf,
    /// Size of the file on disk (compressed size for gzip).
    pub file_size: u64,
    pub gzip: bool,
    /// Bytes of the file read so far (compressed bytes for gzip): progress.
    pub read: Arc<AtomicU64>,
    rx: Receiver<Result<Vec<u8>, SnapError>>,
    recycle: Sender<Vec<u8>>,
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Source {
    /// Opens `path` and starts the reading thread.
    pub fn open(path: &Path) -> Result<Source, SnapError> {
        let file = File::open(path).map_err(|e| SnapError::io(&e, "open", path))?;
        let file_size = file
            .metadata()
            .map_err(|e| SnapError::io(&e, "fstat", path))?
            .len();
        let read = Arc::new(AtomicU64::new(0));
        let mut buffered = BufReader::with_capacity(
            CHUNK,
            Counting {
                inner: file,
                read: read.clone(),
            },
        );
        let head = buffered
            .fill_buf()
            .map_err(|e| SnapError::io(&e, "read", path))?;
        let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let (tx, rx) = bounded(DEPTH);
        let (recycle, recycled) = bounded(DEPTH + 2);
        let owned = path.to_path_buf();
        thread::Builder::new()
            .name("heapsnap-read".into())
            .spawn(move || pump(reader, &owned, gzip, tx, recycled))
            .map_err(|e| SnapError::io(&e, "pthread_create", path))?;
        Ok(Source {
            path: path.to_path_buf(),
            file_size,
            gzip,
            read,
            rx,
            recycle,
        })
    }

    /// The next chunk of (inflated) bytes; an empty Vec at the end of the file.
    pub fn next_chunk(&self, done_with: Vec<u8>) -> Result<Vec<u8>, SnapError> {
        if done_with.capacity() >= CHUNK {
            let _ = self.recycle.try_send(done_with);
        }
        match self.rx.recv() {
            Ok(chunk) => chunk,
            Err(_) => Ok(Vec::new()),
        }
    }
}

/// The reading thread: fills chunks until the end of the file, an error, or the parser hangs up.
fn pump(
    mut reader: Box<dyn Read + Send>,
    path: &Path,
    gzip: bool,
    tx: Sender<Result<Vec<u8>, SnapError>>,
    recycled: Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = recycled.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let result = loop {
            if filled == buf.len() {
                break Ok(());
            }
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(read_error(&e, path, gzip)),
            }
        };
        buf.truncate(filled);
        let end = filled == 0;
        let msg = match result {
            Ok(()) => Ok(buf),
            Err(e) => Err(e),
        };
        let failed = msg.is_err();
        if tx.send(msg).is_err() || end || failed {
            return;
        }
    }
}

fn read_error(e: &io::Error, path: &Path, gzip: bool) -> SnapError {
    if e.raw_os_error().is_some() {
        return SnapError::io(e, "read", path);
    }
    let what = if gzip { "gzip data" } else { "file" };
    let detail = match e.kind() {
        io::ErrorKind::UnexpectedEof => "it ends early (truncated)".to_string(),
        _ => e.to_string(),
    };
    SnapError::other(
        ERR_BAD_SNAPSHOT,
        "read",
        path,
        format!("{}: bad {what}: {detail}", path.display()),
    )
}
