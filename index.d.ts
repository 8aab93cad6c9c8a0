/// <reference types="node" />
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
 *   written gzip-compressed (level 2); any other name is plain JSON that Chrome DevTools loads.
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
  /** gzip level, an integer 1–9. Default 2 (2.5–6.5× smaller than the raw JSON, depending on the heap; fast enough that V8 never waits for it). */
  level?: number
  /** Write `<file>.json` with versions, process, memory figures and timings. Default `true`. */
  sidecar?: boolean
  /**
   * Print progress on stderr when each phase starts and then every ~2 s
   * (`heapsnap: generating 45%`, `heapsnap: written 114.8 MiB (17.4 MiB on disk)`). Default `false`.
   */
  progress?: boolean
  /**
   * Check, before V8 allocates the snapshot, that the dump fits in the memory left (the
   * tightest of the cgroup v2/v1 limit, `MemAvailable` and the rlimits), and stop it while V8
   * builds it if its growth reaches that limit. A refused dump writes nothing, the process
   * goes on, and the promise rejects with `ERR_HEAPSNAP_NO_HEADROOM`. Default `true`;
   * `HEAPSNAP_MEMORY_CHECK=0` turns it off for the whole process.
   */
  memoryCheck?: boolean
  /**
   * Where V8 serializes the snapshot. `'background'` (default where safe): on a Rust thread
   * once V8 has generated it, so the JS thread is blocked for generation alone and the
   * promise still resolves when the file is durable. `'inline'`: on the JS thread. A dump
   * serializes inline anyway while anything else may use V8's heap profiler (an inspector
   * session, the inspector open, `monitor()`'s allocation sampling) or with
   * `HEAPSNAP_SERIALIZE=inline`; `capabilities().serialize` says which and why.
   */
  serialize?: 'background' | 'inline'
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
  /**
   * How long the JS thread was blocked: V8 generating the snapshot (background
   * serialization), or generating and serializing it (inline).
   */
  stallMs: number
  /** From the call until the file was durable (fsynced and renamed into place). */
  totalMs: number
  /** `'api'` for `snapshot()`, `'signal'` or `'threshold'` for dumps those triggers ran. */
  trigger: 'api' | 'signal' | 'threshold'
  /** Path of the sidecar `<path>.json`, or `null` when disabled (or, with a warning, failed). */
  sidecar: string | null
  /** V8's generation of the snapshot, ms (native engine; else `null`). */
  generateMs: number | null
  /** V8's serialization into the writer, ms (native engine; else `null`). */
  serializeMs: number | null
  /** The snapshot's object (node) count (native engine; else `null`). */
  objectCount: number | null
  /**
   * The memory model's prediction of the dump's peak RSS growth before V8 allocated the
   * snapshot (from the object count and this thread's previous dump), bytes.
   */
  predictedPeakBytes: number | null
  /** The dump's measured peak RSS growth, bytes (Linux; else `null`). */
  peakRssBytes: number | null
  /** Where the snapshot was serialized (see `SnapshotOptions.serialize`). */
  serialize: 'background' | 'inline'
}

/**
 * Takes a heap snapshot of this thread's isolate. V8 generates it on the JS thread (that is
 * the stall); serialization (by default, see `SnapshotOptions.serialize`), compression and
 * writing run on Rust threads. Resolves when the
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
/**
 * Writes the snapshot into any `Writable` (a file upload, an S3 multipart upload, a socket)
 * with backpressure. The snapshot is first written by the Rust writer to a 0600 spool file in
 * `dir` (default `HEAPSNAP_DIR`, else `os.tmpdir()`), which is unlinked as soon as it is opened
 * and piped into the stream 64 KiB at a time: memory stays bounded whatever the heap's size.
 * Resolves once the stream has accepted the last byte (`'finish'`). A stream that errors or
 * closes early rejects with `ERR_HEAPSNAP_STREAM` (`cause`, `bytes`), and the spool is removed.
 */
export function snapshot(options: StreamSnapshotOptions): Promise<StreamSnapshotResult>

export interface StreamSnapshotOptions extends Omit<SnapshotOptions, 'path' | 'sidecar' | 'dir'> {
  /** Where the snapshot goes. */
  stream: NodeJS.WritableStream
  /** The spool directory. Default: env `HEAPSNAP_DIR`, else `os.tmpdir()` (a tmpfs there is memory). */
  dir?: string
  /** A streamed snapshot has no sidecar: only `false` is accepted. */
  sidecar?: false
}

export interface StreamSnapshotResult extends Omit<SnapshotResult, 'path' | 'sidecar'> {
  /** Always `null`: the snapshot went into the stream. `bytes` is what the stream accepted. */
  path: null
  sidecar: null
}

// ---------------------------------------------------------------------------------------------
// Over HTTP

export interface HandlerOptions {
  /** The bearer token (`Authorization: Bearer <token>`), at least 16 characters, no white space. */
  token?: string
  /** Instead of `token`: only `true` (or a promise of it) lets the request in; false or a throw is 403. */
  verify?: (req: import('node:http').IncomingMessage) => boolean | Promise<boolean>
  /** No authentication at all (a warning on every request). Default `false`. */
  unsafeNoAuth?: boolean
  /** Accept peers other than loopback (127.0.0.0/8, ::1). Default `false` (403 for them). */
  allowRemote?: boolean
  /** The spool directory, which must exist. Default: env `HEAPSNAP_DIR`, else `os.tmpdir()`. */
  dir?: string
  /** gzip level 1–9. Default 2. */
  level?: number
  /** The memory preflight (503 when it refuses). Default `true`. */
  memoryCheck?: boolean
  /** Serve `?summary[=top]`: the analyzer's Summary of a fresh snapshot, as JSON. Default `false`. */
  summary?: boolean
  /** Receives each request's audit entry instead of the default line on stderr. */
  audit?: (entry: AuditEntry) => void
}

/** One request, as audited. */
export interface AuditEntry {
  /** ISO 8601, when the request arrived. */
  time: string
  /** The peer's address (`req.socket.remoteAddress`). */
  remote: string
  method: string
  /** The status sent (0 when the client left before any). */
  status: number
  /**
   * `ok`, `summary`, `aborted` (the client left mid-body), `client-gone` (left during the dump),
   * `url-too-long`, `remote-refused`, `no-token`, `bad-token`, `verify-refused`, `verify-error`,
   * `method`, `bad-query`, `no-summary`, `busy`, `no-headroom`, `failed`, `error`.
   */
  outcome: string
  /** Body bytes sent. */
  bytes: number
  /** From arrival to the end of the response. */
  ms: number
}

/**
 * A handler for node:http and frameworks that pass Node's req/res (Express; Fastify:
 * `reply.hijack()` then `reply.raw`; Koa: `ctx.respond = false` then `ctx.req`/`ctx.res`).
 * `GET` gets a fresh snapshot (gzip; `?compress=none` for plain JSON). Exactly one of `token`,
 * `verify`, `unsafeNoAuth` is required (else `ERR_MISSING_ARGS`). The promise never rejects.
 */
export function createHandler(
  options: HandlerOptions,
): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<void>

export interface ListenOptions extends HandlerOptions {
  /** The port; `0` picks a free one (`server.address().port`). */
  port: number
  /** Default `'127.0.0.1'`; a non-loopback host needs `allowRemote: true`. */
  host?: string
}

/**
 * A small dedicated server serving `createHandler(options)` on every path. `unref()`ed (it
 * never keeps the process alive); `close()` stops it. Headers over 8 KiB get 431.
 */
export function listen(options: ListenOptions): Promise<import('node:http').Server>

/** An error from a failed snapshot. */
export interface SnapshotError extends Error {
  code: string
  errno?: number
  path?: string
  syscall?: string
  /**
   * `ERR_HEAPSNAP_NO_HEADROOM`: the bytes the dump would have needed: the prediction before
   * the dump, or, for a dump stopped on the way, the live estimate (or the growth so far).
   */
  needed?: number
  /** `ERR_HEAPSNAP_NO_HEADROOM`: the bytes the tightest limit left. */
  available?: number
  /** `ERR_HEAPSNAP_NO_HEADROOM`: which limit that is. */
  limitSource?: LimitSource
  /** `ERR_HEAPSNAP_STREAM`: the bytes handed to the stream before it failed. */
  bytes?: number
  /** `ERR_HEAPSNAP_STREAM`: the stream's own error, if any. */
  cause?: unknown
}

/** Where a memory limit comes from: cgroup v2 or v1, /proc/meminfo's MemAvailable, RLIMIT_AS/DATA. */
export type LimitSource = 'cgroup2' | 'cgroup1' | 'meminfo' | 'rlimit'

export interface EstimateOptions {
  /**
   * Let V8 count the heap's objects first (a GC and a heap walk on the JS thread, no snapshot):
   * a far better prediction than the heap's size. Default `false`. Native engine only.
   */
  count?: boolean
}

export interface Estimate {
  /** The predicted peak RSS growth of a dump now, bytes. */
  predictedPeakBytes: number
  /** What the tightest limit leaves, bytes; `null` where no limit is known. */
  availableBytes: number | null
  limitSource: LimitSource | null
  /** Whether a dump would be taken (the prediction plus a margin fits). */
  fits: boolean
  /** V8's object count with `count: true`, else `null`. */
  objectCount: number | null
}

/** What a dump now would need, against the memory left; asks before dumping. */
export function estimate(options?: EstimateOptions): Promise<Estimate>

/**
 * Drops V8's object-id map and gives its memory back to the OS. The first snapshot of a
 * process creates the map (~60 bytes per live object: +250 MiB RSS for a 200 MB heap of small
 * objects) and V8 keeps it so that ids match across snapshots. Snapshots taken afterwards
 * number the objects afresh: compare them with each other, not with earlier ones (`# New`,
 * `# Deleted` and the leak finder match objects by id). Waits for a background serialization
 * first. Returns the RSS freed, in bytes. Throws `ERR_HEAPSNAP_IDS_IN_USE` while something
 * else may use the ids (heap-object tracking, an inspector session, the inspector open) and
 * `ERR_HEAPSNAP_FEATURE_UNAVAILABLE` on the JS engine.
 */
export function releaseObjectIds(): number

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
  /** The tightest memory limit now, or `null` where none is known (not Linux). */
  memory: { availableBytes: number; limitSource: LimitSource } | null
  /** Where a dump started now would serialize its snapshot, and why (see `SnapshotOptions.serialize`). */
  serialize: { mode: 'background' | 'inline'; reason: string }
}

/** Which engine is active, what the V8 bridge found, and the Node/V8 versions. */
export function capabilities(): Capabilities

/** Options shared by the triggers' dumps. */
export interface TriggerDumpOptions {
  /** Directory for generated names; must exist when the trigger is installed. Default `$HEAPSNAP_DIR`, else cwd. */
  dir?: string
  /** Default `'gzip'`. */
  compress?: 'gzip' | 'none'
  /** gzip level 1–9, default 2. */
  level?: number
  /** Write `<file>.json`. Default `true`. */
  sidecar?: boolean
  /** No `heapsnap: wrote …` / `heapsnap: snapshot failed: …` line on stderr. Default `false`. */
  quiet?: boolean
  /** Progress lines on stderr (see `SnapshotOptions.progress`). Default `false`. */
  progress?: boolean
  /**
   * The memory check (see `SnapshotOptions.memoryCheck`). A refused dump prints one line,
   * `heapsnap: not enough memory for a heap snapshot: it needs about N MiB, M MiB is available
   * (<source> limit); nothing was written`, and the process goes on. Default `true`.
   */
  memoryCheck?: boolean
}

export interface SignalHandlerOptions extends TriggerDumpOptions {
  /**
   * Default `'SIGUSR2'`. Allowed: SIGUSR1, SIGUSR2, SIGWINCH, SIGURG, SIGTTIN, SIGTTOU,
   * SIGVTALRM, SIGPWR, SIGIO/SIGPOLL, SIGINFO, SIGSTKFLT, SIGLOST (where the platform has them).
   * Unknown names throw a `TypeError` (`ERR_UNKNOWN_SIGNAL`); SIGKILL/SIGSTOP and signals that
   * crash handling, profiling, libuv or a default exit depend on throw a `RangeError`
   * (`ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED`).
   */
  signal?: string
  /**
   * Signals are process-wide and dump the main thread's heap. With `workers: true` every worker
   * thread that has loaded this module dumps its own heap too (one file per thread).
   */
  workers?: boolean
  /**
   * Where the snapshot is serialized (see `SnapshotOptions.serialize`). Applies to the dumps
   * JavaScript runs; a dump served while JavaScript is stuck (an interrupt) serializes inline.
   */
  serialize?: 'background' | 'inline'
}

/**
 * Replaces the implicit handler (installed on `require`, heapdump-style) with one that writes
 * `heapsnap-…` names with compression and a sidecar. The dump happens even while JS is stuck
 * in a busy loop (a V8 interrupt) and promptly when the loop is idle; compression and writing
 * run on a Rust thread. Signals arriving during a dump coalesce into at most one more dump.
 * `process.on(signal)` listeners keep firing. Main thread only (throws
 * `ERR_WORKER_UNSUPPORTED_OPERATION` in a worker); not on Windows
 * (`ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`).
 */
export function installSignalHandler(options?: SignalHandlerOptions): void

/**
 * Removes the signal handler (implicit or installed) and restores the signal's previous
 * disposition. `false` if none was installed.
 */
export function removeSignalHandler(): boolean

export interface NearHeapLimitOptions extends TriggerDumpOptions {
  /** Dumps before the hook removes itself. Default 1. */
  maxSnapshots?: number
}

/**
 * Writes a snapshot of this thread's heap when V8 is about to run out of heap (V8's
 * near-heap-limit callback), before the process dies. The dump runs synchronously inside the
 * callback and the file is durable before V8 continues. The limit is raised by 192 MiB for the
 * dump's own garbage collections and restored when the heap shrinks. The dump is skipped (with
 * a line on stderr) when the memory available to the process (cgroup-aware) is smaller than
 * the heap. Replaces an earlier `onNearHeapLimit` of this thread. Throws
 * `ERR_HEAPSNAP_FEATURE_UNAVAILABLE` on the JS engine.
 *
 * Only the most recently added near-heap-limit callback runs: while installed, ours shadows
 * Node's `--heapsnapshot-near-heap-limit` and, in a worker, the callback that turns a worker OOM
 * into `ERR_WORKER_OUT_OF_MEMORY`; it removes itself after `maxSnapshots` dumps or on
 * `offNearHeapLimit()`, and Node's behaviour is back.
 */
export function onNearHeapLimit(options?: NearHeapLimitOptions): void

/** Removes this thread's near-heap-limit hook. `false` if none was installed. */
export function offNearHeapLimit(): boolean

export interface WatchOptions extends Omit<SnapshotOptions, 'path'> {
  /** Dump when `v8.getHeapStatistics().used_heap_size` reaches this many MiB (2^20 bytes). */
  heapUsedMB?: number
  /** Dump when the resident set size reaches this many MiB. */
  rssMB?: number
  /**
   * After a dump at threshold T, the next comes at T + stepMB, then T + 2·stepMB … (a jump over
   * several steps gives one dump; the next threshold is the first step above the value).
   * Without it, each metric dumps once.
   */
  stepMB?: number
  /** Sampling period, default 10000 ms. The timer never keeps the process alive. */
  intervalMs?: number
  /** Stop after this many dumps. Default: no limit. */
  maxSnapshots?: number
  onSnapshot?: (result: Omit<SnapshotResult, 'trigger'> & { trigger: 'threshold' }) => void
  /** Default: a process warning. */
  onError?: (err: SnapshotError) => void
}

/**
 * Dumps when a memory metric crosses a threshold (sidecar trigger `threshold`, with `metric`,
 * `thresholdMB`, `valueMB`). Invalid options throw `TypeError`/`RangeError` synchronously.
 */
export function watch(options: WatchOptions): { stop(): void }

/** What the monitor concluded about the process's memory over its window. */
export interface Verdict {
  /**
   * `'js-heap'`: the heap left after full GCs ratchets up (a snapshot shows what and why);
   * `'external'`: Buffers/ArrayBuffers grow (a snapshot shows their owners only partly);
   * `'native'`: RSS grows while heap and external memory stay flat (an addon, or glibc arenas:
   * try `MALLOC_ARENA_MAX=2` or jemalloc); `'stable'`; `'unknown'`: not enough samples yet.
   */
  kind: 'stable' | 'js-heap' | 'external' | 'native' | 'unknown'
  /** 0–1: how well the samples line up (R² of the growing metric's fit). */
  confidence: number
  /** Slopes over the window, MiB/min: `heapFloor` (after GCs), `heapUsed`, `external`, `rss`. */
  slopes: { heapFloor: number; heapUsed: number; external: number; rss: number } | null
  windowMs: number
  /** Samples in the window. */
  samples: number
  /** Full GCs seen in the window (their heap sizes are the floor when there are two or more). */
  majorGcs: number
  /** What the kind means and what to do. */
  message: string
}

export interface AllocationSite {
  /** The function that allocated (V8 inlines small functions: then their caller). */
  functionName: string
  url: string
  /** 1-based line and column where the function starts. */
  line: number
  column: number
  /** Sampled bytes allocated there and still alive at the end of the window. */
  bytes: number
}

export interface LeakRow {
  className: string
  /** Objects allocated between snapshots 1 and 2 and still alive in 3. */
  count: number
  shallowSize: number
  /** Bytes freed if these objects went away (what they hold included, once). */
  retainedSize: number
  /** The class's count and shallow size in snapshots 1, 2 and 3. */
  growth: { count: number[]; shallowSize: number[] }
  /**
   * The retainer path from the roots to these objects, as `heapsnap retainers` writes it, with
   * array indices and table slots written `[]` (10,000 entries of one Map are one row).
   */
  path: string
  /** Where the surviving sampled bytes of the window were allocated, biggest first (monitor only). */
  allocationSites: AllocationSite[]
}

export interface LeakReport {
  /** The three snapshot files, in the order taken. */
  snapshots: string[]
  /** The largest JS object id in each. */
  maxJsIds: number[]
  /** Biggest retained size first. */
  rows: LeakRow[]
  allocationSites: AllocationSite[]
  /** The monitor's report file (`<dir>/heapsnap-leaks-<time>.json`, a `.txt` beside it). */
  reportPath?: string
  /** Set when the attempt ended early (a dump refused for lack of memory, the monitor stopped). */
  error?: { code?: string; message: string }
}

export interface MonitorOptions extends Omit<SnapshotOptions, 'path'> {
  /** Sampling period. Default 5000. */
  intervalMs?: number
  /** The sliding window verdicts are made over; a new verdict must hold for half of it. Default 300000. */
  windowMs?: number
  /** Take three snapshots and write a leak report on a `'js-heap'` verdict. Default `true`. */
  snapshots?: boolean
  /** Keep V8's sampling heap profiler on while the snapshots are taken. Default `true`. */
  allocationSites?: boolean
  /** Snapshots at most (three per report). Default 3. */
  maxSnapshots?: number
  onVerdict?: (verdict: Verdict) => void
  onReport?: (report: LeakReport) => void
}

export interface Monitor {
  /** The latest verdict. */
  verdict(): Verdict
  /** Stops sampling; the timer never keeps the process alive anyway. */
  stop(): void
}

/**
 * Watches this process's memory and says what grows; on a `'js-heap'` verdict takes three
 * snapshots (each through the memory check) with the sampling heap profiler on, and writes the
 * leak report. Invalid options throw `TypeError`/`RangeError` synchronously.
 */
export function monitor(options?: MonitorOptions): Monitor

/**
 * The three-snapshot leak report of three snapshot files of one process, in the order taken.
 * Rejects with `ERR_HEAPSNAP_SNAPSHOT_ORDER` for files out of order and
 * `ERR_HEAPSNAP_NOT_SAME_PROCESS` for files of different processes (object ids only compare
 * within one process).
 */
export function leaks(
  first: string | URL,
  second: string | URL,
  third: string | URL,
  options?: AnalyzeOptions & { top?: number },
): Promise<LeakReport>

// ---------------------------------------------------------------------------------------------
// Analysis (also the `heapsnap` command): DevTools' Summary, Comparison and Retainers views, its
// Statistics and its Duplicated strings filter for
// plain or gzip snapshots of any size. Computed in Rust off the JS thread; bad arguments reject
// with TypeError/RangeError, unreadable or malformed files with an Error carrying `code`
// (`ENOENT`, `ERR_HEAPSNAP_BAD_SNAPSHOT`, …), `path` and `syscall`.

// The result types are the native binding's own (generated from the Rust structs in
// src/binding/analyze.rs, which carry their documentation).
import type {
  ClassSummary,
  DiffResult as NativeDiffResult,
  InflateResult,
  RetainersResult as NativeRetainersResult,
  RetainerTree,
  StatsResult,
  StringsResult,
  SummaryResult,
} from './binding'
export type {
  ClassLocation,
  ClassDiff,
  ClassSummary,
  DuplicatedString,
  InflateResult,
  PathStep,
  RetainerNode,
  RetainerPath,
  RetainerTree,
  RetainerTreeNode,
  SnapshotFileInfo,
  Statistics,
  StatsResult,
  StringsResult,
  SummaryResult,
  Timings,
} from './binding'

export interface AnalyzeOptions {
  /** Draw a progress bar on stderr (only worth it when stderr is a terminal). Default false. */
  progress?: boolean
  /**
   * DevTools' rules (default true): its dominator tree (page-owned and WeakMap rules), its
   * shallow sizes (internal arrays counted in their single owner), its class names (`{a, b}`,
   * `Function`, `RegExp`, classes keyed by constructor location) and distances. `false` gives
   * V8's own self sizes, the older names and the dominator tree memlab computes: weak and
   * non-root shortcut edges still do not retain.
   */
  devtoolsRules?: boolean
}

/** DevTools' Comparison view; `allocatedBetween` is `null` unless both files come from one process. */
export interface DiffResult extends Omit<NativeDiffResult, 'allocatedBetween'> {
  allocatedBetween: ClassSummary[] | null
}

/** DevTools' Summary view: per class count, shallow size and retained size. */
export function summary(file: string | URL, options?: AnalyzeOptions & { top?: number }): Promise<SummaryResult>

/**
 * DevTools' Comparison view of `target` against `base` (plain or gzip), plus the objects
 * allocated between the two when they come from one process.
 */
export function diff(
  base: string | URL,
  target: string | URL,
  options?: AnalyzeOptions & { top?: number; sameProcess?: boolean },
): Promise<DiffResult>

export interface RetainersOptions extends AnalyzeOptions {
  /**
   * Levels of the retainer tree below the object (default 3): 1 lists the object's retainers,
   * 2 also theirs, and so on, up to 100. 0 builds no tree (`tree` is `null`).
   */
  depth?: number
  /** Retainers listed under each node of the tree, first in DevTools' order (default 10). */
  limit?: number
  /** How many of the biggest instances get a shortest path from the roots (default 3). */
  paths?: number
  /** The longest shortest path, in steps (default 100). */
  maxDepth?: number
}

/** `retainers()`'s result: `tree` is `null` when the class has no instances or `depth` is 0. */
export interface RetainersResult extends Omit<NativeRetainersResult, 'tree'> {
  tree: RetainerTree | null
}

/**
 * DevTools' Retainers pane as a tree, for the biggest instance of `className` by retained size,
 * or for one object given as `@<id>` (its snapshot id, as DevTools shows it): every edge that
 * points at it (not weak, not invisible, not from the root), then each retainer's retainers, to
 * `depth` levels, each level sorted as DevTools sorts it by default (distance ascending, then
 * name); a node already on the path to the object is marked `cycle` and not expanded. Also the
 * shortest retainer paths from the GC roots to the `paths` biggest instances (to the object,
 * for `@<id>`). A class without instances resolves with `count` 0; an id the snapshot does not
 * have rejects with `ERR_HEAPSNAP_NO_SUCH_OBJECT`.
 */
export function retainers(file: string | URL, className: string, options?: RetainersOptions): Promise<RetainersResult>

/**
 * DevTools' Statistics (the Summary view's pie chart: code, strings, JS arrays, typed arrays,
 * system, native, total), as DevTools computes them.
 */
export function stats(file: string | URL, options?: AnalyzeOptions): Promise<StatsResult>

export interface StringsOptions extends AnalyzeOptions {
  /** How many groups to return (most wasted bytes first), each with its retainer path. Default: all. */
  top?: number
  /** The longest retainer path, in retainers. Default 100. */
  maxDepth?: number
}

/**
 * Duplicated strings (DevTools' "Duplicated strings" filter of the Summary view): heap strings
 * with identical text, grouped, with their count, total size and wasted bytes (`totalSize` less
 * the largest copy), most wasted first, each with the retainer path of its copy nearest the
 * roots. As in DevTools, `string` nodes count by their text and concatenated strings by the text
 * rebuilt from their parts (flattened ones are left out: their flat copy counts); sliced strings
 * are left out. V8 writes at most 1024 characters of a string (`--heap_snapshot_string_limit`),
 * so texts that agree in those characters are grouped together.
 */
export function strings(file: string | URL, options?: StringsOptions): Promise<StringsResult>

/**
 * Writes the plain `.heapsnapshot` inside a gzip one, for DevTools: atomically (temporary file,
 * fsync, rename), never over an existing file unless `force`. `output` defaults to the input
 * name without `.gz`. A file that is not gzip rejects with `ERR_HEAPSNAP_NOT_GZIP`.
 */
export function inflate(
  input: string | URL,
  output?: string | URL | null,
  options?: { force?: boolean; progress?: boolean },
): Promise<InflateResult>
export function inflate(input: string | URL, options?: { force?: boolean; progress?: boolean }): Promise<InflateResult>

// ---------------------------------------------------------------------------------------------
// The HTML report (also `heapsnap report`).

export interface ReportOptions extends AnalyzeOptions {
  /** A snapshot to compare against: adds the Comparison and its chart of size deltas. */
  baseline?: string | URL
  /** A leak report JSON (`heapsnap leaks --json`, or the monitor's report file): shown first. */
  leaks?: string | URL
  /** The page to write. Default: `<file without .heapsnapshot[.gz]>.report.html` beside it. */
  output?: string | URL
  /**
   * Classes (biggest retained size first) whose biggest instances, retainer paths and what
   * those retain are embedded (one more read of the snapshot for all of them). Default 10; 0–100.
   */
  instances?: number
  /** Instances (with their retainer path) per such class. Default 5; 1–50. */
  paths?: number
  /** Dominator-tree children (what an instance alone keeps alive) per instance. Default 5; 1–50. */
  children?: number
}

export interface ReportResult {
  /** The HTML file written. */
  output: string
  /** Its size in bytes. */
  bytes: number
}

/**
 * Writes one self-contained HTML page (inline CSS and JS, no network access, opens from
 * `file://`): the file and its sidecar, DevTools' Statistics, a retained-size treemap, the
 * Summary with the biggest instances' retainer paths, the Comparison with `baseline`, the leak
 * report first with `leaks`. It embeds aggregates only, never the graph.
 */
export function report(file: string | URL, options?: ReportOptions): Promise<ReportResult>
