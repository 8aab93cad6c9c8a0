'use strict'

// Which engine takes snapshots: 'native' (the V8 bridge) when V8's heap profiler symbols
// resolved in this node binary, else 'js' (v8.writeHeapSnapshot feeding the same Rust writer).
// HEAPSNAP_ENGINE=js forces the JS engine.

const binding = require('./binding')
const { version } = require('../package.json')

const nativeCaps = binding.nativeCapabilities()

function choose() {
  const forced = process.env.HEAPSNAP_ENGINE
  if (forced === 'js') return { name: 'js', reason: 'forced by HEAPSNAP_ENGINE=js' }
  if (forced !== undefined && forced !== 'native' && forced !== '') {
    process.emitWarning(`heapsnap: ignoring HEAPSNAP_ENGINE=${forced} (expected 'native' or 'js')`)
  }
  return nativeCaps.native
    ? { name: 'native', reason: 'V8 heap profiler symbols resolved' }
    : { name: 'js', reason: 'V8 heap profiler symbols not found in this node binary; using v8.writeHeapSnapshot' }
}

const { name: engine, reason } = choose()

/** Signal dumps that run without JavaScript (interrupts), even while JS is stuck. */
const nativeSignals = engine === 'native' && nativeCaps.interrupts
/** The near-heap-limit hook. */
const nativeNearHeapLimit = engine === 'native' && nativeCaps.nearHeapLimit

/**
 * Which engine is active and what the V8 bridge found.
 * @returns {import('../index').Capabilities}
 */
function capabilities() {
  const symbols = {}
  for (const s of nativeCaps.symbols) symbols[s.purpose] = s.resolved ?? null
  return {
    engine,
    reason,
    takeSnapshot: nativeCaps.takeVariant ?? null,
    interrupts: nativeCaps.interrupts,
    nearHeapLimit: nativeCaps.nearHeapLimit,
    symbols,
    version,
    node: process.version,
    v8: process.versions.v8,
    napi: process.versions.napi,
    platform: process.platform,
    arch: process.arch,
    // Where a dump started now would serialize, and why (lib/serialize.js).
    serialize: require('./serialize').serializeMode(undefined),
    // The tightest memory limit now (every dump checks it; see estimate()).
    memory: binding.memoryHeadroom() ?? null,
  }
}

module.exports = { engine, reason, nativeSignals, nativeNearHeapLimit, capabilities }
