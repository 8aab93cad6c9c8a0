/**
 * heapsnap-native: V8 heap snapshots for Node.js without node-gyp. A drop-in replacement for
 * `heapdump` whose files are streamed, gzip-compressed and written off the JS thread.
 */

/**
 * heapdump 0.3.15's API, exactly. Writes a heap snapshot of this thread's isolate
 * **synchronously**: the callback runs once, before `writeSnapshot` returns.
 *
 * - `filename`: a string, or anything else for the default `heapdump-<ms>.<ns>.heapsnapshot`
 *   (monotonic clock, unique per call), relative to `process.cwd()`. A name ending in `.gz` is
 *   written gzip-compressed (level 1); any other name is plain JSON that Chrome DevTools loads.
 * - The callback gets `(null, filename)` — the name as given, or the relative default name —
 *   or `(err)`, where `err.message` is `heapdump write error <CODE>` (e.g.
 *   `heapdump write error ENOENT`) and `err.code`, `err.path`, `err.syscall` say what failed.
 * - Never throws for I/O errors and writes no sidecar. A failed dump leaves no file under the
 *   final name.
 *
 * @returns `true` on success, `false` on failure.
 */
export function writeSnapshot(filename?: string, callback?: WriteSnapshotCallback): boolean
export function writeSnapshot(callback: WriteSnapshotCallback): boolean

export type WriteSnapshotCallback = (err: SnapshotError | null, filename?: string) => void

export interface SnapshotOptions {
  /** The exact file to write (resolved against `process.cwd()` at call time). Not with `dir`. */
  path?: string
  /**
   * Directory for a generated name `heapsnap-<YYYYMMDD>T<HHMMSS>-<pid>-<seq>.heapsnapshot[.gz]`
   * (UTC time; `seq` counts this process's snapshots). Default: env `HEAPSNAP_DIR`, else
   * `process.cwd()`. Not with `path`.
   */
  dir?: string
  /**
   * Default `'gzip'`, except with `path`, where the extension decides: `.gz` is gzip, any other
   * name plain JSON.
   */
  compress?: 'gzip' | 'none'
  /** gzip level, an integer 1–9. Default 1 (fast; 4–7× smaller than the raw JSON). */
  level?: number
  /** Write `<file>.json` with versions, process, memory figures and timings. Default `true`. */
  sidecar?: boolean
  /**
   * Print progress on stderr when each phase starts and then every ~2 s
   * (`heapsnap: generating 45%`, `heapsnap: written 120.4 MB (18.2 MB on disk)`). Default `false`.
   */
  progress?: boolean
}

export interface SnapshotResult {
  /** Absolute path of the durable snapshot file. */
  path: string
  /** Bytes on disk. */
  bytes: number
  /** Bytes of snapshot JSON before compression. */
  rawBytes: number
  compression: 'gzip' | 'none'
  /** gzip level, or `null` without compression. */
  level: number | null
  /** How long the JS thread was blocked (V8 generating and serializing the snapshot). */
  stallMs: number
  /** From the call until the file was durable (fsynced and renamed into place). */
  totalMs: number
  trigger: 'api'
  /** Path of the sidecar `<path>.json`, or `null` when disabled (or, with a warning, failed). */
  sidecar: string | null
}

/**
 * Takes a heap snapshot of this thread's isolate. V8 generates and serializes it on the JS
 * thread (that is the stall); compression and writing run on a Rust thread. Resolves when the
 * file is durable under its final name: written to `<file>.<pid>-<random>.tmp` (mode 0600),
 * fsynced, renamed, directory fsynced.
 *
 * Never throws: invalid options reject with a `TypeError` (`code` `ERR_INVALID_ARG_TYPE` /
 * `ERR_INVALID_ARG_VALUE`) or `RangeError` (`ERR_OUT_OF_RANGE`); I/O failures reject with an
 * `Error` carrying `code`, `errno`, `path`, `syscall` (e.g. `ENOENT`, `EISDIR`, `ENOTDIR`,
 * `EFBIG`, `ENOSPC`; `ELOOP` for a symlink at the final name, which is never written through).
 *
 * One snapshot at a time per isolate: calls made while one runs wait their turn (FIFO).
 */
export function snapshot(options?: SnapshotOptions): Promise<SnapshotResult>

/** An error from a failed snapshot. */
export interface SnapshotError extends Error {
  code: string
  errno?: number
  path?: string
  syscall?: string
}

export interface Capabilities {
  /**
   * `'native'`: snapshots go through the V8 bridge (symbols resolved from the running node).
   * `'js'`: through `v8.writeHeapSnapshot`, still compressed and written by the Rust writer
   * (Windows, a node without the symbols, or `HEAPSNAP_ENGINE=js`).
   */
  engine: 'native' | 'js'
  /** Why this engine is active. */
  reason: string
  /** Which `HeapProfiler::TakeHeapSnapshot` form is used (`'legacy'` four-argument or `'options'`). */
  takeSnapshot: 'legacy' | 'options' | null
  /** A dump can be requested from another thread (`node::RequestInterrupt`). */
  interrupts: boolean
  /** V8's near-heap-limit callback can be installed. */
  nearHeapLimit: boolean
  /** Every V8/Node entry point looked up, and the mangled name it resolved under (or `null`). */
  symbols: Record<string, string | null>
  /** This module's version. */
  version: string
  node: string
  v8: string
  napi: string | undefined
  platform: NodeJS.Platform
  arch: string
}

/** Which engine is active, what the V8 bridge found, and the Node/V8 versions. */
export function capabilities(): Capabilities
