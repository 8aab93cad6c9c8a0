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

/// Decodes a chunk that may lie inside one of V8's integer arrays: `Some((head, tail))` when
/// it holds only ASCII digits, ',' and '\n', with at least one delimiter: `bytes[..head]` are
/// the digits that end a number begun before the chunk, `bytes[tail..]` those of a number
/// continued after it, and `out` gets every number in between, in order. `None` otherwise.
pub type Predecode = fn(&[u8], &mut Vec<u64>) -> Option<(usize, usize)>;

/// A chunk's numbers, decoded ahead on the reading thread (see [`Predecode`]).
pub struct Numbers {
    pub head: usize,
    pub tail: usize,
    pub values: Vec<u64>,
}

/// A chunk of the (inflated) stream, with its numbers when they were decoded ahead.
#[derive(Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub numbers: Option<Numbers>,
}

/// An opened snapshot file.
pub struct Source {
    pub path: PathBuf,
    /// Size of the file on disk (compressed size for gzip).
    pub file_size: u64,
    pub gzip: bool,
    /// Bytes of the file read so far (compressed bytes for gzip): progress.
    pub read: Arc<AtomicU64>,
    rx: Receiver<Result<Chunk, SnapError>>,
    recycle: Sender<Vec<u8>>,
    recycle_numbers: Sender<Vec<u64>>,
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
        Source::open_with(path, None)
    }

    /// [`Source::open`]; with `predecode`, the reading thread also decodes the numbers of every
    /// second chunk of a plain file, so that decoding V8's integer arrays is shared between it
    /// and the parser's decoding thread (reading a plain file leaves the reader mostly idle;
    /// inflating gzip does not, so gzip input is not predecoded).
    pub fn open_with(path: &Path, predecode: Option<Predecode>) -> Result<Source, SnapError> {
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
        let (recycle_numbers, recycled_numbers) = bounded(DEPTH + 2);
        let owned = path.to_path_buf();
        let predecode = predecode.filter(|_| !gzip);
        thread::Builder::new()
            .name("heapsnap-read".into())
            .spawn(move || {
                let recycled = Recycled {
                    bytes: recycled,
                    numbers: recycled_numbers,
                };
                pump(reader, &owned, gzip, predecode, tx, recycled)
            })
            .map_err(|e| SnapError::io(&e, "pthread_create", path))?;
        Ok(Source {
            path: path.to_path_buf(),
            file_size,
            gzip,
            read,
            rx,
            recycle,
            recycle_numbers,
        })
    }

    /// The next chunk of (inflated) bytes; an empty Vec at the end of the file.
    pub fn next_chunk(&self, done_with: Vec<u8>) -> Result<Vec<u8>, SnapError> {
        let done_with = Chunk {
            bytes: done_with,
            numbers: None,
        };
        Ok(self.next(done_with)?.bytes)
    }

    /// The next chunk, with its numbers when they were decoded ahead; empty bytes at the end
    /// of the file. `done_with`'s memory is used again.
    pub fn next(&self, done_with: Chunk) -> Result<Chunk, SnapError> {
        if done_with.bytes.capacity() >= CHUNK {
            let _ = self.recycle.try_send(done_with.bytes);
        }
        if let Some(numbers) = done_with.numbers {
            let _ = self.recycle_numbers.try_send(numbers.values);
        }
        match self.rx.recv() {
            Ok(chunk) => chunk,
            Err(_) => Ok(Chunk::default()),
        }
    }
}

/// The memory the parser gives back to the reading thread.
struct Recycled {
    bytes: Receiver<Vec<u8>>,
    numbers: Receiver<Vec<u64>>,
}

/// The reading thread: fills chunks until the end of the file, an error, or the parser hangs up.
/// With `predecode`, every second chunk's numbers are decoded here too.
fn pump(
    mut reader: Box<dyn Read + Send>,
    path: &Path,
    gzip: bool,
    predecode: Option<Predecode>,
    tx: Sender<Result<Chunk, SnapError>>,
    recycled: Recycled,
) {
    // The numbers' memory of a chunk that turned out not to be one of numbers.
    let mut spare: Option<Vec<u64>> = None;
    for k in 0u64.. {
        let mut buf = recycled.bytes.try_recv().unwrap_or_default();
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
        let mut numbers = None;
        if let Some(decode) = predecode.filter(|_| k % 2 == 1 && !end) {
            let mut values = spare
                .take()
                .or_else(|| recycled.numbers.try_recv().ok())
                .unwrap_or_default();
            match decode(&buf, &mut values) {
                Some((head, tail)) => {
                    numbers = Some(Numbers { head, tail, values });
                }
                None => spare = Some(values),
            }
        }
        let msg = match result {
            Ok(()) => Ok(Chunk {
                bytes: buf,
                numbers,
            }),
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
