'use strict'

// Taking snapshots from JavaScript: heapdump's writeSnapshot and the Promise API. Opening the
// file, taking the snapshot, writing it and the sidecar happen in Rust, in one function shared
// by these calls and the triggers; this file validates options and queues calls.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { threadId, isMainThread } = require('node:worker_threads')

const binding = require('./binding')
const { engine } = require('./engine')
const { codedError, fsError, optionsObject, pathString, integer, boolean, oneOf, checkDirectory } = require('./errors')
const { serializeMode } = require('./serialize')
const { version } = require('../package.json')

const SNAPSHOT_OPTION_KEYS = ['path', 'dir', 'compress', 'level', 'sidecar', 'progress', 'memoryCheck', 'serialize']
/** snapshot()'s own options: the shared ones, and `stream` (lib/stream.js). */
const SNAPSHOT_CALL_KEYS = [...SNAPSHOT_OPTION_KEYS, 'stream']

/**
 * Tells the native side about this environment (main thread or worker), once, at load: its
 * sidecars and trigger dumps name it.
 */
function registerEnvironment() {
  binding.registerEnvironment(
    JSON.stringify({
      version,
      node: process.version,
      v8: process.versions.v8,
      hostname: os.hostname(),
      platform: process.platform,
      arch: process.arch,
      threadId,
      isMainThread,
    }),
  )
}

/**
 * An exit while a dump's file is still being written (process.exit(), the end of the main
 * script after a signal dump) waits for the file to become final instead of leaving a
 * half-written .tmp behind; a stuck disk cannot hold the exit for more than 60 s (the bound is
 * the native side's, shared with the near-heap-limit hook).
 */
function waitForWritesAtExit() {
  process.on('exit', () => binding.waitForPendingWrites())
}

/**
 * Validates the options shared by snapshot() and the triggers (`path`, `dir`, `compress`,
 * `level`, `sidecar`, `progress`, `memoryCheck`, `serialize`); returns the native dump options.
 * `serialize` stays what the caller asked for: each dump decides where it serializes when it
 * runs (lib/serialize.js).
 */
function dumpOptions(options) {
  const { path: file, dir, compress, level, sidecar, progress, memoryCheck, serialize } = options
  if (file !== undefined && dir !== undefined) {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', 'heapsnap: give options.path or options.dir, not both')
  }
  if (file !== undefined) pathString(file, 'options.path')
  if (dir !== undefined) pathString(dir, 'options.dir')
  oneOf(compress, 'options.compress', ['gzip', 'none'])
  integer(level, 'options.level', { min: binding.GZIP_LEVEL_MIN, max: binding.GZIP_LEVEL_MAX })
  oneOf(serialize, 'options.serialize', ['background', 'inline'])
  // An exact path names its own format: '.gz' is gzip, anything else plain JSON, unless
  // `compress` says otherwise. Generated names are gzip unless compress is 'none'.
  const gzip = compress !== undefined ? compress === 'gzip' : file !== undefined ? file.endsWith('.gz') : true
  return {
    // Either an exact file, or a directory for a generated name.
    path: file !== undefined ? path.resolve(file) : undefined,
    dir: file !== undefined ? undefined : path.resolve(dir ?? (process.env.HEAPSNAP_DIR || process.cwd())),
    compress: gzip ? 'gzip' : 'none',
    level: gzip ? level : undefined,
    sidecar: boolean(sidecar, 'options.sidecar', true),
    progress: boolean(progress, 'options.progress', false),
    memoryCheck: boolean(memoryCheck, 'options.memoryCheck', true),
    serialize,
  }
}

/**
 * Validates the options a trigger (signal, near-heap-limit, watch) shares with snapshot(), plus
 * `quiet` (no report line on stderr). Dumps that fire later must not fail then for a
 * directory that is wrong now, so it must exist now. Returns the native dump options.
 */
function triggerOptions(options, keys, where) {
  options = optionsObject(options, keys, where)
  // Every shared option but `path` (a trigger writes generated names in `dir`).
  const opts = dumpOptions(
    Object.fromEntries(SNAPSHOT_OPTION_KEYS.filter((k) => k !== 'path').map((k) => [k, options[k]])),
  )
  checkDirectory(opts.dir)
  return { ...opts, quiet: boolean(options.quiet, 'options.quiet', false) }
}

/** What JavaScript can tell the sidecar that Rust cannot read itself. */
function figures() {
  return JSON.stringify({
    memoryUsage: process.memoryUsage(),
    heapStatistics: v8.getHeapStatistics(),
    heapSpaceStatistics: v8.getHeapSpaceStatistics(),
  })
}

/**
 * The engine-specific first step. The native engine takes the snapshot inside the native
 * call. The JS engine (no usable V8 symbols, e.g. Windows, or HEAPSNAP_ENGINE=js) writes it
 * here with v8.writeHeapSnapshot to a raw temporary file beside the target, which the native
 * side then compresses, writes under the final name and removes.
 */
function prepare(opts) {
  if (engine === 'native') return opts
  const t0 = performance.now()
  const { path: target, rawTmp, refused } = binding.dumpPaths(opts)
  if (refused) throw fsError(refused)
  try {
    v8.writeHeapSnapshot(rawTmp)
  } catch (e) {
    fs.rmSync(rawTmp, { force: true })
    throw e
  }
  return { ...opts, path: target, rawFile: rawTmp, stallMs: performance.now() - t0 }
}

/** The public result of a durable dump. */
function publicResult(ok, trigger) {
  if (ok.sidecarError) {
    process.emitWarning(`heapsnap: the snapshot is complete but its sidecar failed: ${ok.sidecarError.message}`)
  }
  return {
    path: ok.path,
    bytes: ok.bytes,
    rawBytes: ok.rawBytes,
    compression: ok.compression,
    level: ok.level ?? null,
    stallMs: ok.stallMs,
    totalMs: ok.totalMs,
    trigger,
    sidecar: ok.sidecar ?? null,
    generateMs: ok.generateMs ?? null,
    serializeMs: ok.serializeMs ?? null,
    objectCount: ok.objectCount ?? null,
    predictedPeakBytes: ok.predictedPeakBytes ?? null,
    peakRssBytes: ok.peakRssBytes ?? null,
  }
}

/**
 * Takes one snapshot now, synchronously; returns `{ ok }` or `{ error }` (never throws for
 * I/O).
 */
function takeSync(opts) {
  let res
  try {
    res = binding.dumpSync(prepare({ ...opts, serialize: 'inline' }))
  } catch (e) {
    return { error: e }
  }
  return res.error ? { error: fsError(res.error) } : { ok: res.ok }
}

/** Takes one snapshot; resolves when the file is durable. */
async function takeAsync(opts) {
  const res = await binding.dump(prepare(opts))
  if (res.error) throw fsError(res.error)
  return res.ok
}

// ---------------------------------------------------------------------------------------------
// writeSnapshot: heapdump 0.3.15's API, exactly

/**
 * heapdump-compatible: writes a snapshot synchronously; the callback runs before this returns.
 * @param {string} [filename]
 * @param {(err: Error | null, filename?: string) => void} [cb]
 * @returns {boolean}
 */
function writeSnapshot(filename, cb) {
  if (typeof filename === 'function') {
    cb = filename
    filename = undefined
  }
  if (typeof filename !== 'string') filename = binding.heapdumpFileName()
  let result
  if (filename.includes('\0')) {
    const err = codedError(TypeError, 'ERR_INVALID_ARG_VALUE', 'heapdump write error ERR_INVALID_ARG_VALUE')
    err.path = filename
    result = { error: err }
  } else {
    result = takeSync({
      path: filename,
      compress: filename.endsWith('.gz') ? 'gzip' : 'none',
      sidecar: false,
      quiet: true,
      trigger: 'api',
    })
  }
  if (result.error) {
    const e = result.error
    // heapdump's message names an errno: a dump refused for lack of memory is ENOMEM.
    const errno = e.code === 'ERR_HEAPSNAP_NO_HEADROOM' ? 'ENOMEM' : (e.code ?? 'EIO')
    const err = new Error(`heapdump write error ${errno}`)
    err.code = e.code
    if (e.errno !== undefined) err.errno = e.errno
    err.syscall = e.syscall
    err.path = e.path ?? filename
    if (e.limitSource !== undefined)
      Object.assign(err, { needed: e.needed, available: e.available, limitSource: e.limitSource })
    if (typeof cb === 'function') cb(err)
    return false
  }
  if (typeof cb === 'function') cb(null, filename)
  return true
}

// ---------------------------------------------------------------------------------------------
// snapshot(): the Promise API

// One snapshot at a time per isolate: calls queue behind each other (FIFO). Each worker thread
// loads its own copy of this module, so each isolate has its own queue.
let queue = Promise.resolve()
/** Jobs queued or running. */
let pending = 0

/**
 * Queues one snapshot of this isolate with validated dump options.
 * @param {object} opts from `dumpOptions`
 * @param {string} trigger the sidecar's `trigger`
 * @param {object} [extra] more sidecar fields
 */
function enqueue(opts, trigger, extra) {
  return serialized(async () => {
    // Decided now, when the dump runs: background only while nothing else may use the heap
    // profiler (lib/serialize.js).
    const { mode } = serializeMode(opts.serialize)
    const ok = await takeAsync({
      quiet: true, // the caller gets the result; triggers pass quiet: false for the report line
      ...opts,
      serialize: mode,
      trigger,
      extra: extra ? JSON.stringify(extra) : undefined,
      figures: opts.sidecar ? figures() : undefined,
    })
    return { ...publicResult(ok, trigger), serialize: mode }
  })
}

/** Runs `job` (sync or async) after everything queued before it on this isolate. */
function serialized(job) {
  pending++
  const run = async () => {
    try {
      return await job()
    } finally {
      pending--
    }
  }
  const result = queue.then(run, run)
  queue = result.catch(() => {})
  return result
}

/** How many snapshot() / trigger jobs are queued or running on this isolate. */
function pendingDumps() {
  return pending
}

/**
 * Takes a heap snapshot; resolves once the file is durable.
 * @param {import('../index').SnapshotOptions} [options]
 * @returns {Promise<import('../index').SnapshotResult>}
 */
function snapshot(options) {
  let opts
  try {
    options = optionsObject(options, SNAPSHOT_CALL_KEYS, 'snapshot')
    // Required here, not at the top: lib/stream.js builds on this file.
    if (options.stream !== undefined) return require('./stream').snapshotToStream(options)
    opts = dumpOptions(options)
  } catch (e) {
    return Promise.reject(e)
  }
  return enqueue(opts, 'api')
}

module.exports = {
  SNAPSHOT_OPTION_KEYS,
  registerEnvironment,
  waitForWritesAtExit,
  dumpOptions,
  triggerOptions,
  takeSync,
  enqueue,
  serialized,
  pendingDumps,
  writeSnapshot,
  snapshot,
}
