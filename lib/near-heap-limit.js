'use strict'

// A snapshot just before the process runs out of heap: V8's near-heap-limit callback, served
// in Rust without JavaScript. The file is durable before V8 continues.

const binding = require('./binding')
const { reason, nativeNearHeapLimit } = require('./engine')
const { codedError, integer } = require('./errors')
const { SNAPSHOT_OPTION_KEYS, triggerOptions } = require('./snapshot')

const NEAR_LIMIT_OPTION_KEYS = [
  ...SNAPSHOT_OPTION_KEYS.filter((k) => k !== 'path' && k !== 'serialize'),
  'maxSnapshots',
  'quiet',
]

/**
 * Writes a snapshot (synchronously, durable before V8 continues) when the heap nears its limit.
 * @param {import('../index').NearHeapLimitOptions} [options]
 */
function onNearHeapLimit(options) {
  const opts = triggerOptions(options, NEAR_LIMIT_OPTION_KEYS, 'onNearHeapLimit')
  const maxSnapshots = integer(options?.maxSnapshots, 'options.maxSnapshots', { dflt: 1 })
  if (!nativeNearHeapLimit) {
    throw codedError(
      Error,
      'ERR_HEAPSNAP_FEATURE_UNAVAILABLE',
      `heapsnap: the near-heap-limit hook needs the native engine (${reason})`,
    )
  }
  binding.onNearHeapLimit({ ...opts, maxSnapshots })
}

/** Removes this isolate's near-heap-limit hook; `false` if none was installed. */
function offNearHeapLimit() {
  return nativeNearHeapLimit ? binding.offNearHeapLimit() : false
}

module.exports = { onNearHeapLimit, offNearHeapLimit }
