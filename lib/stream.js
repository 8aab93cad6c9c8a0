'use strict'

// snapshot({ stream }): a snapshot into any Writable (a file upload, an S3 multipart upload, a
// socket, an HTTP response), with backpressure and bounded memory.
//
// V8 generates and serializes the snapshot on the JS thread, so no JS stream can be fed while
// it runs. The snapshot is therefore written first, through the same Rust writer as every
// other dump (gzip on a Rust thread, mode 0600, `.tmp` name until complete), to a spool file
// in `dir`; the spool is opened and at once unlinked (on Windows: removed when done), then read
// into the Writable with `stream.pipeline`, 64 KiB at a time, as fast as the Writable accepts.
// Memory stays bounded whatever the heap's size (the writer's 32 MiB queue while V8 serializes,
// one read buffer while piping); disk holds the compressed snapshot for as long as the pipe
// runs. The queue of dumps is free again as soon as the spool is written: a slow consumer does
// not hold back other dumps.

const fs = require('node:fs')
const os = require('node:os')
const { pipeline } = require('node:stream/promises')

const { codedError, typeError, valueError } = require('./errors')
const { dumpOptions, enqueue } = require('./snapshot')

/** The bytes read from the spool per chunk: the memory a pipe holds besides the Writable's own buffer. */
const READ_CHUNK_BYTES = 64 * 1024

/**
 * The spool directory: `dir`, else env `HEAPSNAP_DIR`, else the OS temporary directory (a
 * tmpfs there is memory: point `dir` at a disk in containers whose /tmp is tmpfs).
 */
function spoolDir(dir) {
  return dir ?? (process.env.HEAPSNAP_DIR || os.tmpdir())
}

/**
 * The native dump options of a spool: a generated name in the spool directory, no sidecar.
 * @param {{ dir?: string, compress?: string, level?: number, progress?: boolean, memoryCheck?: boolean }} options
 */
function spoolOptions({ dir, compress, level, progress, memoryCheck }) {
  return dumpOptions({ dir: spoolDir(dir), compress, level, sidecar: false, progress, memoryCheck })
}

/** Whether `value` looks like a Node Writable (duck-typed: streams from other libraries count). */
function isWritable(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.write === 'function' &&
    typeof value.end === 'function' &&
    typeof value.on === 'function'
  )
}

/** A Writable that can no longer take the snapshot. */
function isGone(writable) {
  return Boolean(writable.destroyed || writable.writableEnded || writable.writableFinished)
}

/** ERR_HEAPSNAP_STREAM: the Writable failed or closed before it accepted the whole snapshot. */
function streamError(cause, sent, size) {
  const why = cause ? `: ${cause.message}` : ''
  const err = codedError(
    Error,
    'ERR_HEAPSNAP_STREAM',
    `heapsnap: the stream did not accept the snapshot (${sent} of ${size ?? '?'} bytes sent)${why}`,
  )
  if (cause) err.cause = cause
  err.bytes = sent
  return err
}

/**
 * Takes one snapshot into a spool file (queued behind this isolate's other dumps); resolves
 * with the dump's public result, whose `path` is the spool.
 */
function takeSpool(opts, trigger, extra) {
  return enqueue(opts, trigger, extra)
}

/**
 * Pipes a spool file into `writable`, then removes it whatever happens. The file is unlinked
 * as soon as it is open, so a crash while piping leaves nothing behind. `onOpen(size)` runs
 * before the first byte (HTTP headers). Resolves with the bytes the Writable accepted; rejects
 * with ERR_HEAPSNAP_STREAM (`bytes`: how many were sent) when it fails or closes early.
 * @param {string} file
 * @param {import('node:stream').Writable} writable
 * @param {{ onOpen?: (size: number) => void }} [how]
 */
async function sendSpool(file, writable, { onOpen } = {}) {
  let fd
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0))
    if (process.platform !== 'win32') fs.unlinkSync(file)
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd)
    fs.rmSync(file, { force: true })
    throw e
  }
  let source
  let size
  let sent = 0
  try {
    size = fs.fstatSync(fd).size
    if (isGone(writable)) throw streamError(null, 0, size)
    onOpen?.(size)
    source = fs.createReadStream(null, { fd, autoClose: true, highWaterMark: READ_CHUNK_BYTES })
    fd = undefined // the read stream closes it
    source.on('data', (chunk) => (sent += chunk.length))
    await pipeline(source, writable)
    return size
  } catch (e) {
    if (e.code === 'ERR_HEAPSNAP_STREAM') throw e
    // Every byte was handed to the Writable and none is left in its buffer, then it closed
    // before the pipeline ended it: an HTTP client that read the whole Content-Length and hung
    // up at once, seen on a busy event loop. The Writable accepted the whole snapshot.
    if (e.code === 'ERR_STREAM_PREMATURE_CLOSE' && sent === size && writable.writableLength === 0) return size
    throw streamError(e, sent, size)
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
    if (process.platform === 'win32') await removeWhenClosed(source, file)
  }
}

/** Windows cannot always remove an open file: remove the spool once the read stream has closed. */
async function removeWhenClosed(source, file) {
  if (source && !source.closed) await new Promise((resolve) => source.once('close', resolve))
  fs.rmSync(file, { force: true })
}

/**
 * snapshot({ stream, ... }): validated here; resolves once the Writable accepted the last byte.
 * @param {object} options snapshot()'s options, already checked for unknown names
 */
async function snapshotToStream(options) {
  const { stream, path: file, sidecar, ...rest } = options
  if (!isWritable(stream)) throw typeError('options.stream must be a Writable stream')
  if (file !== undefined) throw valueError('give options.path or options.stream, not both')
  if (sidecar === true) throw valueError('a snapshot written to options.stream has no sidecar')
  const opts = spoolOptions(rest)
  const t0 = performance.now()
  if (isGone(stream)) throw streamError(null, 0, null)
  const result = await takeSpool(opts, 'api')
  await sendSpool(result.path, stream)
  return { ...result, path: null, sidecar: null, totalMs: performance.now() - t0 }
}

module.exports = { spoolDir, spoolOptions, takeSpool, sendSpool, snapshotToStream, isGone }
