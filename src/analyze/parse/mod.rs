//! A streaming reader for the `.heapsnapshot` JSON layout: one object whose `snapshot.meta`
//! names the fields of the flat `nodes` and `edges` integer arrays, followed by those arrays
//! and the `strings` they index. It never holds the JSON text: `nodes` and `edges` go
//! straight into the graph builder's packed integer columns, `strings` into one arena
//! (keeping only the strings the builder marks as needed), and every other section is
//! skipped without being stored. Only the small `snapshot` object is parsed as a value.

pub mod meta;

use std::borrow::Cow;
use std::path::Path;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};
use memchr::{memchr, memchr2};
use serde_json::Value;

use super::bar::Bar;
use super::graph::{Builder, Graph, LoadOptions};
use super::prof::mark;
use super::source::{Chunk, Numbers, Source, ERR_BAD_SNAPSHOT};
use crate::core::error::SnapError;
use meta::Meta;

/// Reads a snapshot file into a [`Graph`].
pub fn load(path: &Path, opts: LoadOptions, bar: &Bar) -> Result<Graph, SnapError> {
    let source = Source::open_with(path, Some(predecode))?;
    bar.set_source(source.read.clone(), source.file_size);
    let mut p = Parser {
        buf: Vec::new(),
        numbers: None,
        pos: 0,
        consumed: 0,
        source: &source,
        path,
    };
    let mut graph = p.document(opts)?;
    bar.clear_source();
    graph.source_gzip = source.gzip;
    graph.source_size = source.file_size;
    Ok(graph)
}

/// Numbers the decoding helper hands over at a time, and blocks it may decode ahead.
const BLOCK: usize = 1 << 14;
const BLOCKS_AHEAD: usize = 4;

/// Why [`Parser::decode`] stopped.
enum Stop<E> {
    /// The array's `]`.
    End,
    /// The file is not a valid array of integers there.
    Bad(String),
    /// The sink's error.
    Sink(E),
}

struct Parser<'a> {
    buf: Vec<u8>,
    /// `buf`'s numbers, when the reading thread decoded them ahead.
    numbers: Option<Numbers>,
    pos: usize,
    /// Bytes of the inflated stream before `buf`.
    consumed: u64,
    source: &'a Source,
    path: &'a Path,
}

impl Parser<'_> {
    fn bad(&self, what: impl std::fmt::Display) -> SnapError {
        SnapError::other(
            ERR_BAD_SNAPSHOT,
            "read",
            self.path,
            format!(
                "{}: not a valid heap snapshot at byte {}: {what}",
                self.path.display(),
                self.consumed + self.pos as u64
            ),
        )
    }

    /// A value the file holds but the snapshot's other sections contradict (`what` names
    /// the row; the byte is not known when the numbers were decoded ahead).
    fn bad_row(&self, what: impl std::fmt::Display) -> SnapError {
        SnapError::other(
            ERR_BAD_SNAPSHOT,
            "read",
            self.path,
            format!("{}: not a valid heap snapshot: {what}", self.path.display()),
        )
    }

    /// Makes sure `buf[pos]` exists; false at the end of the stream.
    #[inline]
    fn fill(&mut self) -> Result<bool, SnapError> {
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        self.consumed += self.buf.len() as u64;
        let old = Chunk {
            bytes: std::mem::take(&mut self.buf),
            numbers: self.numbers.take(),
        };
        let next = self.source.next(old)?;
        self.buf = next.bytes;
        self.numbers = next.numbers;
        self.pos = 0;
        Ok(!self.buf.is_empty())
    }

    /// The next byte that is not JSON whitespace (not consumed).
    fn peek_token(&mut self) -> Result<u8, SnapError> {
        loop {
            if !self.fill()? {
                return Err(self.bad("the file ends early (truncated)"));
            }
            let b = self.buf[self.pos];
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                return Ok(b);
            }
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), SnapError> {
        let b = self.peek_token()?;
        if b != want {
            return Err(self.bad(format!(
                "expected '{}', found '{}'",
                want as char,
                b.escape_ascii()
            )));
        }
        self.pos += 1;
        Ok(())
    }

    fn document(&mut self, opts: LoadOptions) -> Result<Graph, SnapError> {
        let mut graph: Option<(Meta, Builder)> = None;
        let (mut nodes_seen, mut edges_seen, mut strings_seen) = (false, false, false);
        self.expect(b'{')?;
        if self.peek_token()? == b'}' {
            return Err(self.bad("the top-level object is empty"));
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            match key.as_str() {
                "snapshot" => {
                    let raw = self.raw_value()?;
                    let value: Value = serde_json::from_slice(&raw)
                        .map_err(|e| self.bad(format!("\"snapshot\": {e}")))?;
                    let (meta, header) = Meta::from_json(&value).map_err(|e| self.bad(e))?;
                    // Counts the file cannot hold are not prepared for ahead. (A gzip
                    // file's inflated size is not known.)
                    let prefault =
                        !self.source.gzip && meta.least_bytes(&header) <= self.source.file_size;
                    graph = Some((meta, Builder::new(header, opts, prefault)));
                }
                "nodes" | "edges" | "strings" => {
                    let Some((meta, g)) = graph.as_mut() else {
                        return Err(self.bad(format!("\"{key}\" comes before \"snapshot\"")));
                    };
                    match key.as_str() {
                        "nodes" => {
                            self.rows(meta.node_stride, "node", |rows| {
                                let stride = meta.node_stride;
                                g.push_nodes(rows.chunks_exact(stride).map(|r| meta.node(r)))
                            })?;
                            g.end_nodes().map_err(|e| self.bad(e))?;
                            nodes_seen = true;
                            mark("read: nodes");
                        }
                        "edges" => {
                            if !nodes_seen {
                                return Err(self.bad("\"edges\" comes before \"nodes\""));
                            }
                            self.rows(meta.edge_stride, "edge", |rows| {
                                let stride = meta.edge_stride;
                                g.push_edges(rows.chunks_exact(stride).map(|r| meta.edge(r)))
                            })?;
                            g.end_edges().map_err(|e| self.bad(e))?;
                            edges_seen = true;
                            mark("read: edges");
                        }
                        _ => {
                            if !nodes_seen || !edges_seen {
                                return Err(self.bad("\"strings\" comes before the nodes/edges"));
                            }
                            self.strings(g)?;
                            strings_seen = true;
                            mark("read: strings");
                        }
                    }
                }
                "locations" if nodes_seen => {
                    // Read only when the meta describes them (V8 writes them after the edges).
                    match graph.as_mut() {
                        Some((meta, g)) if meta.location.is_some() => {
                            let stride = meta.node_stride;
                            let lf = meta.location.unwrap_or_else(|| unreachable!());
                            self.rows(lf.stride, "location", |rows| {
                                for r in rows.chunks_exact(lf.stride) {
                                    g.push_location(
                                        r[lf.object_index],
                                        stride,
                                        (r[lf.script_id], r[lf.line], r[lf.column]),
                                    );
                                }
                                Ok(())
                            })?;
                        }
                        _ => self.skip_value()?,
                    }
                    mark("read: locations");
                }
                _ => self.skip_value()?,
            }
            match self.peek_token()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                b => return Err(self.bad(format!("expected ',' or '}}', found '{}'", b as char))),
            }
        }
        let Some((_, g)) = graph else {
            return Err(self.bad("no \"snapshot\" section"));
        };
        if !(nodes_seen && edges_seen && strings_seen) {
            return Err(self.bad("missing \"nodes\", \"edges\" or \"strings\""));
        }
        Ok(g.finish())
    }

    /// The `nodes` or `edges` array (`what` is "node" or "edge"): rows of `stride` integers,
    /// handed to `sink` in order, as many whole rows at a time as a block of numbers holds.
    /// `sink`'s error gives the failing row's place in what it was handed.
    fn rows(
        &mut self,
        stride: usize,
        what: &str,
        mut sink: impl FnMut(&[u64]) -> Result<(), (usize, String)>,
    ) -> Result<(), SnapError> {
        let mut carry: Vec<u64> = Vec::with_capacity(stride);
        let mut done: u64 = 0;
        let mut whole = |rows: &[u64]| {
            let result = sink(rows).map_err(|(k, e)| {
                let index = done + k as u64;
                format!("{what} {index} of the {what}s array: {e}")
            });
            done += (rows.len() / stride) as u64;
            result
        };
        self.ints(|mut numbers| {
            if !carry.is_empty() {
                // The rest of a row begun in the previous block.
                let take = (stride - carry.len()).min(numbers.len());
                carry.extend_from_slice(&numbers[..take]);
                numbers = &numbers[take..];
                if carry.len() < stride {
                    return Ok(());
                }
                whole(&carry)?;
                carry.clear();
            }
            let cut = numbers.len() - numbers.len() % stride;
            whole(&numbers[..cut])?;
            carry.extend_from_slice(&numbers[cut..]);
            Ok(())
        })?;
        if !carry.is_empty() {
            return Err(self.bad(format!(
                "{what} array length is not a multiple of {what}_fields"
            )));
        }
        Ok(())
    }

    /// An array of non-negative integers, handed to `sink` in order, a block at a time. The
    /// digits are decoded on a helper thread, a pipeline over the same stream: the helper
    /// takes over the chunks up to the array's closing `]` and hands the stream back, so that
    /// decoding overlaps what `sink` does with the numbers. Without a thread, they are decoded
    /// here.
    fn ints(
        &mut self,
        mut sink: impl FnMut(&[u64]) -> Result<(), String>,
    ) -> Result<(), SnapError> {
        self.expect(b'[')?;
        let (hand_over, handed) = bounded::<Parser>(1);
        let (blocks, received) = bounded::<Vec<u64>>(BLOCKS_AHEAD);
        let (recycle, recycled) = bounded::<Vec<u64>>(BLOCKS_AHEAD + 2);
        thread::scope(|scope| {
            let spawned = thread::Builder::new()
                .name("heapsnap-decode".into())
                .spawn_scoped(scope, move || {
                    let mut helper = handed.recv().ok()?;
                    let result = helper.send_blocks(&blocks, &recycled);
                    Some((helper, result))
                });
            let Ok(decoding) = spawned else {
                let decoded = self.decode_blocks(|block| {
                    let r = sink(block);
                    block.clear();
                    r
                })?;
                return decoded.map_err(|e| self.bad_row(e));
            };
            let helper = Parser {
                buf: std::mem::take(&mut self.buf),
                numbers: self.numbers.take(),
                pos: self.pos,
                consumed: self.consumed,
                source: self.source,
                path: self.path,
            };
            // The helper is waiting for exactly this: the send cannot fail.
            let _ = hand_over.send(helper);
            let mut failed = None;
            for block in received.iter() {
                if let Err(e) = sink(&block) {
                    failed = Some(e);
                    break;
                }
                let _ = recycle.try_send(block);
            }
            // A helper still decoding stops at its next full block (nobody takes it).
            drop(received);
            let joined = decoding
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let (helper, result) =
                joined.unwrap_or_else(|| unreachable!("the helper was handed the stream"));
            self.buf = helper.buf;
            self.numbers = helper.numbers;
            self.pos = helper.pos;
            self.consumed = helper.consumed;
            match failed {
                Some(e) => Err(self.bad_row(e)),
                None => result,
            }
        })
    }

    /// The helper's half of [`Parser::ints`]: sends the array's numbers in blocks, in order;
    /// stops at the first block nobody receives (the receiver stopped at an error of its own).
    fn send_blocks(
        &mut self,
        blocks: &Sender<Vec<u64>>,
        recycled: &Receiver<Vec<u64>>,
    ) -> Result<(), SnapError> {
        let fresh = || {
            let mut v = recycled.try_recv().unwrap_or_default();
            v.clear();
            v.reserve(BLOCK);
            v
        };
        let sent = self.decode_blocks(|block| {
            let full = std::mem::replace(block, fresh());
            blocks.send(full).map_err(|_| ())
        });
        sent.map(|_| ())
    }

    /// Decodes an array's numbers (from just after its `[`) into blocks of `BLOCK`, each
    /// handed to `deliver` when full, the last one at the end; `deliver` leaves the block
    /// empty for the next numbers. An error in the file is the outer `Err`, after the numbers
    /// before it are delivered (their rows may fail first); `deliver`'s error stops it and is
    /// the inner one.
    fn decode_blocks<E>(
        &mut self,
        mut deliver: impl FnMut(&mut Vec<u64>) -> Result<(), E>,
    ) -> Result<Result<(), E>, SnapError> {
        let mut block = Vec::with_capacity(BLOCK);
        let decoded = self.decode(|mut values| {
            while !values.is_empty() {
                let take = (BLOCK - block.len()).min(values.len());
                block.extend_from_slice(&values[..take]);
                values = &values[take..];
                if block.len() == BLOCK {
                    deliver(&mut block)?;
                    debug_assert!(block.is_empty(), "deliver leaves the block empty");
                }
            }
            Ok(())
        });
        if matches!(decoded, Ok(Err(_))) || block.is_empty() {
            return decoded;
        }
        match deliver(&mut block) {
            Ok(()) => decoded,
            Err(e) => Ok(Err(e)),
        }
    }

    /// Decodes an array's numbers (from just after its `[` to its `]`, which it consumes),
    /// handed to `sink` in order, a few at a time (those of a 64-byte window together). An
    /// error in the file is the outer `Err`; an `Err` from `sink` stops the decoding and is
    /// returned as the inner one.
    fn decode<E>(
        &mut self,
        mut sink: impl FnMut(&[u64]) -> Result<(), E>,
    ) -> Result<Result<(), E>, SnapError> {
        let mut acc: u64 = 0;
        let mut digits = 0u32;
        loop {
            if !self.fill()? {
                return Err(self.bad("the file ends inside an array (truncated)"));
            }
            if self.pos == 0 {
                if let Some(pre) = self.numbers.take() {
                    // Decoded ahead: the digits that end the number begun before, then the
                    // chunk's numbers; its last digits go the usual way below.
                    for (k, &b) in self.buf[..pre.head].iter().enumerate() {
                        if digits == 19 {
                            self.pos = k;
                            return Err(self.bad("number too large"));
                        }
                        acc = acc * 10 + u64::from(b - b'0');
                        digits += 1;
                    }
                    let mut handed = if digits > 0 { sink(&[acc]) } else { Ok(()) };
                    (acc, digits) = (0, 0);
                    if handed.is_ok() {
                        handed = sink(&pre.values);
                    }
                    self.pos = pre.tail;
                    self.numbers = Some(pre);
                    if let Err(e) = handed {
                        return Ok(Err(e));
                    }
                    continue;
                }
            }
            let buf = &self.buf[self.pos..];
            let mut i = 0;
            let mut stop: Option<Stop<E>> = None;
            // A window's numbers (at most one ends at every second byte); only those just
            // written are read, so it is zeroed once, not for every window.
            let mut values = [0u64; WINDOW / 2];
            while i < buf.len() {
                if digits == 0 {
                    // 64 bytes at a time while 80 can be looked at: every number that ends
                    // in them, when they hold only digits, ',' and '\n' (V8's layout).
                    while i + WINDOW + 16 <= buf.len() {
                        let Some((n, used)) = window_numbers(buf, i, &mut values) else {
                            break;
                        };
                        i += used;
                        if let Err(e) = sink(&values[..n]) {
                            stop = Some(Stop::Sink(e));
                            break;
                        }
                        if used == 0 {
                            break;
                        }
                    }
                    if stop.is_some() {
                        break;
                    }
                    // Whole numbers at once (up to 15 digits and the delimiter after them)
                    // while 17 bytes can be looked at; anything else goes byte by byte below.
                    while i + 17 <= buf.len() {
                        let b = buf[i];
                        if matches!(b, b',' | b' ' | b'\n' | b'\r' | b'\t') {
                            i += 1;
                            continue;
                        }
                        let Some((v, len)) = fast_number(&buf[i..i + 16]) else {
                            break;
                        };
                        if !matches!(buf[i + len], b',' | b' ' | b'\n' | b'\r' | b'\t') {
                            break;
                        }
                        i += len + 1;
                        if let Err(e) = sink(&[v]) {
                            stop = Some(Stop::Sink(e));
                            break;
                        }
                    }
                    if stop.is_some() || i == buf.len() {
                        break;
                    }
                }
                let b = buf[i];
                i += 1;
                match b {
                    b'0'..=b'9' => {
                        // 19 digits always fit in a u64: no overflow check per digit.
                        if digits == 19 {
                            stop = Some(Stop::Bad("number too large".into()));
                            break;
                        }
                        acc = acc * 10 + u64::from(b - b'0');
                        digits += 1;
                    }
                    b',' | b' ' | b'\n' | b'\r' | b'\t' | b']' => {
                        if digits > 0 {
                            if let Err(e) = sink(&[acc]) {
                                stop = Some(Stop::Sink(e));
                                break;
                            }
                            acc = 0;
                            digits = 0;
                        }
                        if b == b']' {
                            stop = Some(Stop::End);
                            break;
                        }
                    }
                    _ => {
                        i -= 1;
                        stop = Some(Stop::Bad(format!(
                            "expected a non-negative integer, found '{}'",
                            b.escape_ascii()
                        )));
                        break;
                    }
                }
            }
            self.pos += i;
            match stop {
                None => {}
                Some(Stop::End) => return Ok(Ok(())),
                Some(Stop::Sink(e)) => return Ok(Err(e)),
                Some(Stop::Bad(e)) => return Err(self.bad(e)),
            }
        }
    }

    /// The `strings` array: each string is decoded and kept when the graph needs it.
    fn strings(&mut self, g: &mut Builder) -> Result<(), SnapError> {
        self.expect(b'[')?;
        let mut index: u32 = 0;
        let mut scratch = Vec::new();
        if !self.source.gzip {
            // The array is at most the rest of the file.
            let at = self.consumed + self.pos as u64;
            g.reserve_strings(self.source.file_size.saturating_sub(at));
        }
        if self.peek_token()? == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let keep = g.string_wanted(index);
            if let Some(end) = self.plain_string_end() {
                // Most strings: taken from the chunk as they are.
                if keep {
                    let text = String::from_utf8_lossy(&self.buf[self.pos + 1..end]);
                    g.take_string(index, &text);
                }
                self.pos = end + 1;
            } else {
                scratch.clear();
                self.string_into(&mut scratch, keep)?;
                if keep {
                    let text = decode_json_string(&scratch).map_err(|e| self.bad(e))?;
                    g.take_string(index, &text);
                }
            }
            index = index
                .checked_add(1)
                .ok_or_else(|| self.bad("too many strings"))?;
            // V8 writes `,` and a newline between two strings.
            if self.buf.get(self.pos..self.pos + 2) == Some(b",\n") {
                self.pos += 2;
                continue;
            }
            match self.peek_token()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                b => return Err(self.bad(format!("expected ',' or ']', found '{}'", b as char))),
            }
        }
    }

    /// Where the string at `pos` ends (its closing quote) when it lies wholly in the chunk and
    /// has no escape; `None` sends it to [`Parser::string_into`], which takes any string.
    #[inline]
    fn plain_string_end(&self) -> Option<usize> {
        let buf = self.buf.get(self.pos..)?;
        if buf.first() != Some(&b'"') {
            return None;
        }
        let k = memchr2(b'"', b'\\', &buf[1..])?;
        (buf[1 + k] == b'"').then_some(self.pos + 1 + k)
    }

    /// A JSON string decoded (used for keys).
    fn string(&mut self) -> Result<String, SnapError> {
        let mut raw = Vec::new();
        self.string_into(&mut raw, true)?;
        decode_json_string(&raw)
            .map(Cow::into_owned)
            .map_err(|e| self.bad(e))
    }

    /// Copies the raw (still escaped) body of a JSON string into `out` when `keep`.
    fn string_into(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), SnapError> {
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            if !self.fill()? {
                return Err(self.bad("the file ends inside a string (truncated)"));
            }
            let buf = &self.buf[self.pos..];
            let mut i = 0;
            if escaped {
                // The byte after a backslash never ends the string.
                i = 1;
                escaped = false;
            }
            let end = loop {
                match memchr2(b'"', b'\\', &buf[i..]) {
                    None => break None,
                    Some(k) if buf[i + k] == b'\\' => {
                        if i + k + 1 < buf.len() {
                            i += k + 2;
                        } else {
                            escaped = true;
                            break None;
                        }
                    }
                    Some(k) => break Some(i + k),
                }
            };
            match end {
                Some(e) => {
                    if keep {
                        out.extend_from_slice(&buf[..e]);
                    }
                    self.pos += e + 1;
                    return Ok(());
                }
                None => {
                    if keep {
                        out.extend_from_slice(buf);
                    }
                    self.pos = self.buf.len();
                }
            }
        }
    }

    /// Skips any JSON value without storing it.
    fn skip_value(&mut self) -> Result<(), SnapError> {
        self.value(None)
    }

    /// A JSON value's raw text (for the small `snapshot` object).
    fn raw_value(&mut self) -> Result<Vec<u8>, SnapError> {
        let mut out = Vec::new();
        self.value(Some(&mut out))?;
        Ok(out)
    }

    /// Walks one value, copying its text into `out` when given. Nesting is tracked with a
    /// counter, so deep values need no recursion.
    fn value(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), SnapError> {
        let mut depth: usize = 0;
        loop {
            let b = self.peek_token()?;
            match b {
                b'"' => {
                    let mut s = Vec::new();
                    let keep = out.is_some();
                    self.string_into(&mut s, keep)?;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(b'"');
                        o.extend_from_slice(&s);
                        o.push(b'"');
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(b);
                    }
                    continue;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return Err(self.bad(format!("unexpected '{}'", b as char)));
                    }
                    depth -= 1;
                    self.pos += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(b);
                    }
                }
                b',' | b':' => {
                    if depth == 0 {
                        return Err(self.bad(format!("unexpected '{}'", b as char)));
                    }
                    self.pos += 1;
                    if let Some(o) = out.as_deref_mut() {
                        o.push(b);
                    }
                    continue;
                }
                _ => {
                    // A number or literal: everything up to a delimiter.
                    let mut any = false;
                    loop {
                        if !self.fill()? {
                            break;
                        }
                        let c = self.buf[self.pos];
                        if matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t' | b':') {
                            break;
                        }
                        if !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')) {
                            return Err(self.bad(format!("unexpected '{}'", c.escape_ascii())));
                        }
                        if let Some(o) = out.as_deref_mut() {
                            o.push(c);
                        }
                        self.pos += 1;
                        any = true;
                    }
                    if !any {
                        return Err(self.bad("expected a value"));
                    }
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

/// The numbers that end in the 64-byte window at `b[i..]` (16 more bytes must follow it), when
/// it holds only digits, ',' and '\n' (V8's layout): how many were written to `values`, and
/// the bytes up to the delimiter after the last of them (0: none ends there). `None`: the
/// window holds something else.
#[inline(always)]
fn window_numbers(b: &[u8], i: usize, values: &mut [u64; WINDOW / 2]) -> Option<(usize, usize)> {
    let window = Window::at(&b[i..i + WINDOW])?;
    let (mut n, mut used) = (0, 0);
    for (start, len) in window {
        if len > 15 {
            break;
        }
        let at = i + start;
        used = start + len + 1;
        values[n] = number_of(&b[at..at + 16], len);
        n += 1;
    }
    Some((n, used))
}

/// The [`super::source::Predecode`] of V8's integer arrays, run on the reading thread: the
/// numbers between a chunk's first and last delimiter, decoded as [`Parser::decode`] decodes
/// them (64-byte windows, then byte by byte), when the chunk holds nothing but digits, ',' and
/// '\n'. Anything else (a string, a space, a number of 20 digits) is left to the parser.
fn predecode(b: &[u8], out: &mut Vec<u64>) -> Option<(usize, usize)> {
    out.clear();
    let head = b.iter().position(|c| !c.is_ascii_digit())?;
    if !matches!(b[head], b',' | b'\n') {
        return None;
    }
    let (mut i, mut tail) = (head + 1, head + 1);
    let (mut acc, mut digits) = (0u64, 0u32);
    let mut values = [0u64; WINDOW / 2];
    while i < b.len() {
        if digits == 0 {
            while i + WINDOW + 16 <= b.len() {
                let (n, used) = window_numbers(b, i, &mut values)?;
                out.extend_from_slice(&values[..n]);
                if used == 0 {
                    break;
                }
                i += used;
                tail = i;
            }
        }
        let c = b[i];
        i += 1;
        match c {
            b'0'..=b'9' => {
                if digits == 19 {
                    return None;
                }
                acc = acc * 10 + u64::from(c - b'0');
                digits += 1;
            }
            b',' | b'\n' => {
                if digits > 0 {
                    out.push(acc);
                    (acc, digits) = (0, 0);
                }
                tail = i;
            }
            _ => return None,
        }
    }
    Some((head, tail))
}

/// The run of leading ASCII digits in the 8 bytes `w` (little endian), 0 to 8.
#[inline(always)]
fn digit_run(w: u64) -> usize {
    // A byte is a digit when `b - '0'` is below 10: its high bit stays clear in both
    // `b - '0'` and `b - '0' + 0x76`. Borrows and carries only move upward, so the bytes up to
    // the first non-digit are judged right.
    let x = w.wrapping_sub(0x3030_3030_3030_3030);
    let m = (x | x.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
    (m.trailing_zeros() / 8) as usize
}

/// The 8 bytes of `b` from `k` on, little endian (`b` holds them: the callers look at 16).
#[inline(always)]
fn le_word(b: &[u8], k: usize) -> u64 {
    u64::from_le_bytes(b[k..k + 8].try_into().unwrap_or_default())
}

/// The value of the first `len` (1 to 8) bytes of `w`, all ASCII digits.
#[inline(always)]
fn digits_value(w: u64, len: usize) -> u64 {
    let mut v = (w << (8 * (8 - len))) & 0x0F0F_0F0F_0F0F_0F0F;
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Bytes [`Window`] looks at once.
const WINDOW: usize = 64;

/// [`crate::sys::os::digit_masks`] eight bytes at a time, in plain `u64` arithmetic (for
/// CPUs other than x86_64): bit `k` of the first mask is set where `bytes[k]` is a digit, of
/// the second where it is a digit, ',' or '\n'.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn word_masks(bytes: &[u8; WINDOW]) -> (u64, u64) {
    /// The high bit of each byte of `w` (little endian) that is an ASCII digit. Exact for
    /// every byte: no carry crosses a byte (at most 0x7F + 0x76 is added in one).
    #[inline(always)]
    fn digit_bytes(w: u64) -> u64 {
        let x = w ^ 0x3030_3030_3030_3030;
        let t = (x & 0x7F7F_7F7F_7F7F_7F7F) + 0x7676_7676_7676_7676;
        !(t | x) & 0x8080_8080_8080_8080
    }

    /// The high bit of each byte of `w` that equals `c` (exact, as in `digit_bytes`).
    #[inline(always)]
    fn bytes_equal(w: u64, c: u8) -> u64 {
        let y = w ^ (u64::from(c) * 0x0101_0101_0101_0101);
        let z = ((y & 0x7F7F_7F7F_7F7F_7F7F) + 0x7F7F_7F7F_7F7F_7F7F) | y;
        !z & 0x8080_8080_8080_8080
    }

    /// The high bits of the 8 bytes packed into 8 bits (byte `j` to bit `j`): each lands at
    /// bit 56 + j of the product, and no two partial products meet.
    #[inline(always)]
    fn pack_high_bits(h: u64) -> u64 {
        (h >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    }

    let (mut digits, mut known) = (0u64, 0u64);
    for (k, word) in bytes.chunks_exact(8).enumerate() {
        let w = le_word(word, 0);
        let d = digit_bytes(w);
        digits |= pack_high_bits(d) << (8 * k);
        known |= pack_high_bits(d | bytes_equal(w, b',') | bytes_equal(w, b'\n')) << (8 * k);
    }
    (digits, known)
}

/// The numbers that end inside 64 bytes of an integer array: bit masks of where numbers
/// start and where the delimiter after each is, so that every number is found with a few
/// bit operations instead of a walk from the previous one. The first byte must not continue
/// a number begun before it.
struct Window {
    starts: u64,
    ends: u64,
}

impl Window {
    /// `None` when the bytes hold anything but digits, ',' and '\n' (the end of the array,
    /// spaces, or an error: the byte-by-byte path takes them).
    #[inline(always)]
    fn at(bytes: &[u8]) -> Option<Window> {
        let bytes: &[u8; WINDOW] = bytes.try_into().ok()?;
        // SSE2 on x86_64 (16 bytes an instruction, `sys::os`), u64 words elsewhere.
        #[cfg(target_arch = "x86_64")]
        let (digits, known) = crate::sys::os::digit_masks(bytes);
        #[cfg(not(target_arch = "x86_64"))]
        let (digits, known) = word_masks(bytes);
        (known == u64::MAX).then_some(Window {
            starts: digits & !(digits << 1),
            ends: !digits & (digits << 1),
        })
    }
}

impl Iterator for Window {
    /// Where a number starts in the window, and its length in digits.
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        if self.ends == 0 {
            return None;
        }
        let (start, end) = (self.starts.trailing_zeros(), self.ends.trailing_zeros());
        self.starts &= self.starts - 1;
        self.ends &= self.ends - 1;
        Some((start as usize, (end - start) as usize))
    }
}

/// The value of the `len` (1 to 15) digits at the start of the 16 bytes `b`.
#[inline(always)]
fn number_of(b: &[u8], len: usize) -> u64 {
    let word = |k: usize| le_word(b, k);
    if len <= 8 {
        return digits_value(word(0), len);
    }
    digits_value(word(0), 8) * POW10[len - 8] + digits_value(word(8), len - 8)
}

/// The number at the start of the 16 bytes `b` and its length in digits, when `b` starts with
/// 1 to 15 digits (so that the byte after it is in `b`); `None` otherwise.
#[inline(always)]
fn fast_number(b: &[u8]) -> Option<(u64, usize)> {
    let word = |k: usize| le_word(b, k);
    let len = match digit_run(word(0)) {
        8 => match digit_run(word(8)) {
            8 => return None,
            l1 => 8 + l1,
        },
        l0 => l0,
    };
    (len > 0).then(|| (number_of(b, len), len))
}

/// Decodes the body of a JSON string (escapes included). Lone surrogates, which V8 may write
/// for strings that are not valid UTF-16, become U+FFFD.
pub fn decode_json_string(raw: &[u8]) -> Result<Cow<'_, str>, String> {
    if memchr(b'\\', raw).is_none() {
        return Ok(String::from_utf8_lossy(raw));
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let hex4 = |i: usize| -> Result<u32, String> {
        let h = raw.get(i..i + 4).ok_or("short \\u escape")?;
        let s = std::str::from_utf8(h).map_err(|_| "bad \\u escape")?;
        u32::from_str_radix(s, 16).map_err(|_| "bad \\u escape".to_string())
    };
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1).ok_or("dangling backslash")?;
        i += 2;
        let ch = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&hi)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                {
                    let lo = hex4(i + 2)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            .unwrap_or('\u{fffd}')
                    } else {
                        '\u{fffd}'
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{fffd}')
                }
            }
            other => return Err(format!("bad escape '\\{}'", other as char)),
        };
        let mut tmp = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
    }
    Ok(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::{decode_json_string, predecode};

    #[test]
    fn reads_numbers_eight_bytes_at_a_time() {
        use super::fast_number;
        let mut cases: Vec<String> = Vec::new();
        for len in 1..=17 {
            cases.push("9".repeat(len));
            cases.push(format!("1{}", "0".repeat(len - 1)));
            cases.push("1234567890123456789".chars().take(len).collect());
            cases.push("0".repeat(len));
        }
        for text in cases {
            for tail in [",", "]", "\n", " ", "x", "/"] {
                let mut buf = format!("{text}{tail}").into_bytes();
                buf.resize(buf.len().max(16) + 8, b',');
                let want = (text.len() <= 15).then(|| (text.parse::<u64>().unwrap(), text.len()));
                assert_eq!(fast_number(&buf[..16]), want, "{text}{tail}");
            }
        }
        for junk in [",1", "]", " 7", "-1", "a1", ":"] {
            let mut buf = junk.as_bytes().to_vec();
            buf.resize(16, b'0');
            assert_eq!(fast_number(&buf), None, "{junk}");
        }
    }

    #[test]
    fn word_masks_agree_with_the_bytes() {
        use super::{word_masks, WINDOW};
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..20_000 {
            let mut bytes = [0u8; WINDOW];
            for x in bytes.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly the bytes of V8's arrays, else any byte at all.
                *x = match seed % 8 {
                    0 if round % 2 == 0 => (seed >> 8) as u8,
                    1 => b',',
                    2 => b'\n',
                    _ => b'0' + (seed >> 8) as u8 % 10,
                };
            }
            let want = bytes
                .iter()
                .enumerate()
                .fold((0u64, 0u64), |(d, k), (j, &x)| {
                    let digit = x.is_ascii_digit();
                    let known = digit || x == b',' || x == b'\n';
                    (d | u64::from(digit) << j, k | u64::from(known) << j)
                });
            assert_eq!(word_masks(&bytes), want, "{bytes:?}");
            #[cfg(target_arch = "x86_64")]
            assert_eq!(crate::sys::os::digit_masks(&bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn predecoding_a_chunk_agrees_with_its_digits() {
        // V8's layout (",\n" between rows), numbers of 1 to 15 digits, long enough for windows.
        let mut text = String::new();
        let mut x: u64 = 7;
        for row in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = 1 + (x >> 60) as u32 % 15;
            let v = (x >> 4) % 10u64.pow(len);
            text.push_str(&v.to_string());
            text.push_str(if row % 3 == 2 { "\n," } else { "," });
        }
        let all: Vec<u64> = text
            .split([',', '\n'])
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect();
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        for (from, to) in [
            (0, bytes.len()),
            (1, bytes.len() - 1),
            (3, 500),
            (5, 97),
            (2, 3),
        ] {
            let piece = &bytes[from..to];
            let Some((head, tail)) = predecode(piece, &mut out) else {
                assert!(!piece.iter().any(|c| !c.is_ascii_digit()), "{from}..{to}");
                continue;
            };
            // The head's digits, the values and the tail's digits are the piece's numbers.
            let whole = |t: &[u8]| -> Vec<u64> {
                std::str::from_utf8(t)
                    .unwrap()
                    .split([',', '\n'])
                    .filter(|t| !t.is_empty())
                    .map(|t| t.parse().unwrap())
                    .collect()
            };
            assert_eq!(out, whole(&piece[head..tail]), "{from}..{to}");
            assert!(piece[..head].iter().all(u8::is_ascii_digit));
            assert!(piece[tail..].iter().all(u8::is_ascii_digit));
            assert!(matches!(piece[tail - 1], b',' | b'\n'));
        }
        assert_eq!(
            predecode(bytes, &mut out),
            Some((bytes.iter().position(|&c| c == b',').unwrap(), bytes.len()))
        );
        assert_eq!(out, all[1..]);
        // Anything but digits and the two delimiters is the parser's.
        for bad in [
            "1,2, 3,4",
            "1,2]",
            "12\"a\",3",
            "1,12345678901234567890,2",
            "123",
        ] {
            assert_eq!(predecode(bad.as_bytes(), &mut out), None, "{bad}");
        }
    }

    #[test]
    fn windows_find_every_number_that_ends_in_them() {
        use super::{number_of, Window, WINDOW};
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut random = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for round in 0..20_000 {
            // Numbers of 1 to 18 digits between ',' and '\n', now and then another byte.
            let mut b: Vec<u8> = Vec::new();
            while b.len() < WINDOW + 16 {
                for _ in 0..1 + random(18) {
                    b.push(b'0' + random(10) as u8);
                }
                b.extend_from_slice(if random(3) == 0 { b",\n" } else { b"," });
                if round % 7 == 0 && random(40) == 0 {
                    b.push(b"] x\t"[random(4) as usize]);
                }
            }
            let window = &b[..WINDOW];
            let plain = window
                .iter()
                .all(|c| c.is_ascii_digit() || *c == b',' || *c == b'\n');
            let mut want = Vec::new();
            let mut start = None;
            for (k, c) in window.iter().enumerate() {
                match (c.is_ascii_digit(), start) {
                    (true, None) => start = Some(k),
                    (false, Some(s)) => {
                        want.push((s, k - s));
                        start = None;
                    }
                    _ => {}
                }
            }
            let got = Window::at(window).map(|w| w.collect::<Vec<_>>());
            assert_eq!(
                got,
                plain.then(|| want.clone()),
                "{}",
                String::from_utf8_lossy(window)
            );
            for (s, len) in want.into_iter().filter(|&(_, len)| len <= 15) {
                let text = std::str::from_utf8(&b[s..s + len]).unwrap();
                assert_eq!(number_of(&b[s..s + 16], len), text.parse::<u64>().unwrap());
            }
        }
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        assert_eq!(decode_json_string(br"a\nb\u0041").unwrap(), "a\nbA");
        assert_eq!(decode_json_string(br"\ud83d\ude00").unwrap(), "\u{1F600}");
        assert_eq!(decode_json_string(br"x\ud800y").unwrap(), "x\u{fffd}y");
        assert!(decode_json_string(br"\q").is_err());
    }
}
