'use strict'

// What a dump would need against the memory left: `estimate()`. The
// model and the limits (cgroup v2/v1, MemAvailable, rlimits) live in Rust (src/core/memory.rs);
// every dump checks them itself unless `memoryCheck: false` or HEAPSNAP_MEMORY_CHECK=0.

const binding = require('./binding')
const { engine } = require('./engine')
const { codedError, optionsObject, boolean } = require('./errors')
const { serialized } = require('./snapshot')

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

module.exports = { estimate }
