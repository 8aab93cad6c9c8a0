'use strict'

// Signal dumps (`kill -USR2 <pid>`). With the native engine a raw handler and an interrupt
// dump even while JavaScript is stuck; the JS engine dumps from a listener when the event loop
// turns. Both write through the same native dump function, which prints the report line.

const os = require('node:os')
const { isMainThread } = require('node:worker_threads')

const binding = require('./binding')
const { nativeSignals } = require('./engine')
const { codedError, boolean, reportRefusal } = require('./errors')
const { SNAPSHOT_OPTION_KEYS, triggerOptions, enqueue, takeSync } = require('./snapshot')

// Signals a dump may be bound to. The rest are refused: SIGKILL/SIGSTOP cannot be caught;
// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS belong to crash handling (V8's
// WebAssembly trap handler among it); SIGPROF to the CPU profiler; SIGCHLD and SIGPIPE to libuv
// and Node; SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP, SIGALRM, SIGXCPU, SIGXFSZ would lose
// their default action (stop/exit) once a listener exists.
const SIGNALS_ALLOWED = new Set([
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGURG',
  'SIGTTIN',
  'SIGTTOU',
  'SIGVTALRM',
  'SIGPWR',
  'SIGIO',
  'SIGPOLL',
  'SIGINFO',
  'SIGSTKFLT',
  'SIGLOST',
])
const DEFAULT_SIGNAL = 'SIGUSR2'
const SIGNAL_OPTION_KEYS = [...SNAPSHOT_OPTION_KEYS.filter((k) => k !== 'path'), 'signal', 'quiet', 'workers']

function signalNumber(name) {
  if (typeof name !== 'string') {
    throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', "heapsnap: signal must be a signal name such as 'SIGUSR2'")
  }
  const num = os.constants.signals[name]
  if (num === undefined) throw codedError(TypeError, 'ERR_UNKNOWN_SIGNAL', `heapsnap: unknown signal '${name}'`)
  if (name === 'SIGKILL' || name === 'SIGSTOP') {
    throw codedError(RangeError, 'ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED', `heapsnap: ${name} cannot be caught`)
  }
  if (!SIGNALS_ALLOWED.has(name)) {
    const usable = [...SIGNALS_ALLOWED].filter((n) => n in os.constants.signals).join(', ')
    throw codedError(
      RangeError,
      'ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED',
      `heapsnap: ${name} is reserved (crash handling, profiling, child processes or a default exit); use one of ${usable}`,
    )
  }
  return num
}

let active = null // { name, listener }

/** JS engine: the dump a signal triggers, run from the listener when the event loop turns. */
function jsSignalDump(opts) {
  // The native side prints the report line; a dump the memory check refused before V8 ran
  // (the JS engine cannot stop V8 halfway) is reported here.
  const refused = (e) => {
    if (!opts.quiet) reportRefusal(e)
  }
  if (opts.heapdumpNames) {
    // heapdump's naming is synchronous, like heapdump's own handler.
    refused(takeSync({ ...opts, trigger: 'signal' }).error)
    return
  }
  enqueue(opts, 'signal').catch(refused)
}

function activate(name, opts) {
  if (process.platform === 'win32') {
    throw codedError(
      Error,
      'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM',
      'heapsnap: signal dumps are not available on Windows',
    )
  }
  if (!isMainThread) {
    throw codedError(
      Error,
      'ERR_WORKER_UNSUPPORTED_OPERATION',
      'heapsnap: signals are process-wide: install the handler in the main thread (use { workers: true } to dump workers too)',
    )
  }
  const num = signalNumber(name)
  const listener = nativeSignals ? () => binding.signalFromLoop() : () => jsSignalDump(opts)
  // Our own libuv watcher first: libuv's handler then stays installed whatever other
  // listeners come and go, and ours goes on top of it (chaining to it).
  process.on(name, listener)
  if (nativeSignals) {
    try {
      binding.installSignal(num, opts)
    } catch (e) {
      process.removeListener(name, listener)
      throw e
    }
  }
  if (active) process.removeListener(active.name, active.listener)
  active = { name, listener }
}

/**
 * Replaces the signal handler with one that writes modern names with compression.
 * @param {import('../index').SignalHandlerOptions} [options]
 */
function installSignalHandler(options) {
  const opts = triggerOptions(options, SIGNAL_OPTION_KEYS, 'installSignalHandler')
  const name = options?.signal ?? DEFAULT_SIGNAL
  signalNumber(name)
  activate(name, { ...opts, workers: boolean(options?.workers, 'options.workers', false) })
}

/** Removes the signal handler (implicit or installed); `false` if there was none. */
function removeSignalHandler() {
  if (!active) return false
  if (nativeSignals) binding.removeSignal()
  process.removeListener(active.name, active.listener)
  active = null
  return true
}

/** heapdump's NODE_HEAPDUMP_OPTIONS: comma-separated `signal` / `nosignal`. */
function heapdumpOptions(text) {
  let signal = true
  for (const raw of (text ?? '').split(',')) {
    const token = raw.trim()
    if (token === '') continue
    if (token === 'signal') signal = true
    else if (token === 'nosignal') signal = false
    else process.stderr.write(`heapsnap: ignoring unknown NODE_HEAPDUMP_OPTIONS option '${token}'\n`)
  }
  return { signal }
}

/**
 * Like heapdump: on require, a signal handler that writes heapdump-<ms>.<ns>.heapsnapshot
 * (plain JSON, no sidecar) in the working directory. Main thread only; not on Windows;
 * NODE_HEAPDUMP_OPTIONS=nosignal turns it off and HEAPSNAP_SIGNAL picks another signal.
 */
function armDefaultSignal() {
  if (!isMainThread || process.platform === 'win32' || !heapdumpOptions(process.env.NODE_HEAPDUMP_OPTIONS).signal)
    return
  try {
    activate(process.env.HEAPSNAP_SIGNAL || DEFAULT_SIGNAL, {
      heapdumpNames: true,
      compress: 'none',
      sidecar: false,
      quiet: false,
      progress: false,
    })
  } catch (e) {
    process.stderr.write(`heapsnap: no signal handler installed: ${e.message}\n`)
  }
}

module.exports = { installSignalHandler, removeSignalHandler, armDefaultSignal }
