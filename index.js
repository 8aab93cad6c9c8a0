'use strict'

// heapsnap-native's public API. Each feature lives in its own file under lib/; this file only
// gathers the exports and performs the documented load-time side effects (README, "What
// require() does").

const { capabilities } = require('./lib/engine')
const snapshots = require('./lib/snapshot')
const signals = require('./lib/signals')
const { onNearHeapLimit, offNearHeapLimit } = require('./lib/near-heap-limit')
const { watch } = require('./lib/watch')
const { estimate, releaseObjectIds } = require('./lib/memory')
const { summary, diff, retainers, inflate, stats, strings } = require('./lib/analyze')
const { leaks } = require('./lib/leaks')
// The report, the monitor and the HTTP endpoint load on their first call: they bring in
// node:http, node:crypto and perf_hooks, which a process that never uses them (or a one-shot
// `summary()`) should not pay for in require(). Each `require` names its file, so that
// bundlers still see it.
function report(file, options) {
  return require('./lib/report').report(file, options)
}
function monitor(options) {
  return require('./lib/monitor').monitor(options)
}
function createHandler(options) {
  return require('./lib/http').createHandler(options)
}
function listen(options) {
  return require('./lib/http').listen(options)
}

// Load-time side effects:
// 1. this environment (main thread or worker) is registered for sidecars and trigger dumps;
snapshots.registerEnvironment()
// 2. process exit waits (at most 60 s) for snapshot files still being written;
snapshots.waitForWritesAtExit()
require('./lib/serialize').installGuards()
// 3. like heapdump, SIGUSR2 writes a snapshot (main thread, not on Windows; see
//    NODE_HEAPDUMP_OPTIONS=nosignal and HEAPSNAP_SIGNAL).
signals.armDefaultSignal()

module.exports = {
  writeSnapshot: snapshots.writeSnapshot,
  snapshot: snapshots.snapshot,
  capabilities,
  estimate,
  releaseObjectIds,
  installSignalHandler: signals.installSignalHandler,
  removeSignalHandler: signals.removeSignalHandler,
  onNearHeapLimit,
  offNearHeapLimit,
  watch,
  monitor,
  summary,
  diff,
  retainers,
  inflate,
  stats,
  strings,
  leaks,
  report,
  createHandler,
  listen,
}
