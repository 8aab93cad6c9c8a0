'use strict'

// What a dump would need against the memory left: `estimate()`. The
// model and the limits (cgroup v2/v1, MemAvailable, rlimits) live in Rust (src/core/memory.rs);
// every dump checks them itself unless `memoryCheck: false` or HEAPSNAP_MEMORY_CHECK=0.
// What a dump leaves behind: `releaseObjectIds()`.

const binding = require('./binding')
const { engine } = require('./engine')
const { codedError, optionsObject, boolean } = require('./errors')
const { serialized } = require('./snapshot')
const { objectIdUser } = require('./serialize')

/**
 * What a dump now would need, against what is available.
 * @param {import('../index').EstimateOptions} [options]
 * @returns {Promise<import('../index').Estimate>}
 */
function estimate(options) {
  let count
  try {
    count = boolean(optionsObject(options, ['count'], 'estimate').count, 'options.count', false)
    if (count && engine !== 'native') {
      throw codedError(
        Error,
        'ERR_HEAPSNAP_FEATURE_UNAVAILABLE',
        'heapsnap: estimate({ count: true }) needs the native engine',
      )
    }
  } catch (e) {
    return Promise.reject(e)
  }
  // Counting walks the heap on the JS thread: it waits for dumps queued before it.
  return serialized(() => {
    const e = binding.estimateDump(count)
    return {
      predictedPeakBytes: e.predictedPeakBytes,
      availableBytes: e.availableBytes ?? null,
      limitSource: e.limitSource ?? null,
      fits: e.fits,
      objectCount: e.objectCount ?? null,
    }
  })
}

/**
 * Drops V8's object-id map, which the first snapshot creates (~60 bytes per live object) and
 * V8 keeps so that ids match across snapshots, and gives the memory back to the OS. Snapshots
 * taken afterwards number the objects afresh: compare them with each other, not with earlier
 * ones.
 * @returns {number} the RSS freed, in bytes
 */
function releaseObjectIds() {
  if (engine !== 'native') {
    throw codedError(
      Error,
      'ERR_HEAPSNAP_FEATURE_UNAVAILABLE',
      `heapsnap: releaseObjectIds() needs the native engine (this process uses the ${engine} engine)`,
    )
  }
  const user = objectIdUser()
  if (user) {
    throw codedError(Error, 'ERR_HEAPSNAP_IDS_IN_USE', `heapsnap: the object ids stay: ${user}`)
  }
  return binding.releaseObjectIds()
}

module.exports = { estimate, releaseObjectIds }
