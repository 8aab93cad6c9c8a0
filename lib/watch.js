'use strict'

// Threshold dumps: a snapshot when a memory metric crosses a threshold, then each time it
// crosses the last threshold plus `stepMB`. MB here means MiB (2^20 bytes).

const v8 = require('node:v8')

const { optionsObject, positiveNumber, integer, func, typeError, reportRefusal } = require('./errors')
const { SNAPSHOT_OPTION_KEYS, triggerOptions, enqueue } = require('./snapshot')

const WATCH_OPTION_KEYS = [
  ...SNAPSHOT_OPTION_KEYS.filter((k) => k !== 'path'),
  'heapUsedMB',
  'rssMB',
  'stepMB',
  'intervalMs',
  'maxSnapshots',
  'onSnapshot',
  'onError',
]
const DEFAULT_INTERVAL_MS = 10_000
const MiB = 2 ** 20

/**
 * @param {import('../index').WatchOptions} options
 * @returns {{ stop(): void }}
 */
function watch(options) {
  optionsObject(options, WATCH_OPTION_KEYS, 'watch', { required: true })
  // Threshold dumps report through onSnapshot/onError, not on stderr.
  const opts = { ...triggerOptions(options, WATCH_OPTION_KEYS, 'watch'), quiet: true }
  const { heapUsedMB, rssMB, onSnapshot, onError } = options
  const metrics = []
  if (positiveNumber(heapUsedMB, 'options.heapUsedMB') !== undefined) {
    metrics.push({ name: 'heapUsed', next: heapUsedMB, read: () => v8.getHeapStatistics().used_heap_size })
  }
  if (positiveNumber(rssMB, 'options.rssMB') !== undefined) {
    metrics.push({ name: 'rss', next: rssMB, read: () => process.memoryUsage.rss() })
  }
  if (metrics.length === 0) throw typeError('watch needs heapUsedMB or rssMB', 'ERR_MISSING_ARGS')
  const step = positiveNumber(options.stepMB, 'options.stepMB')
  const intervalMs = integer(options.intervalMs, 'options.intervalMs', { dflt: DEFAULT_INTERVAL_MS })
  const maxSnapshots = integer(options.maxSnapshots, 'options.maxSnapshots', { dflt: Infinity })
  func(onSnapshot, 'options.onSnapshot')
  func(onError, 'options.onError')
  let taken = 0
  let busy = false
  let timer = null

  const sample = () => {
    if (busy) return
    for (const m of metrics) {
      const valueMB = m.read() / MiB
      if (valueMB < m.next) continue
      const thresholdMB = m.next
      // The next threshold is the first step above the current value: a jump over several
      // steps gives one dump, not a burst of identical ones.
      if (step === undefined) m.next = Infinity
      else while (m.next <= valueMB) m.next += step
      busy = true
      enqueue(opts, 'threshold', { metric: m.name, thresholdMB, valueMB })
        .then(
          (r) => onSnapshot?.(r),
          (err) => {
            if (onError) onError(err)
            else if (!reportRefusal(err)) process.emitWarning(`heapsnap: threshold snapshot failed: ${err.message}`)
          },
        )
        .finally(() => {
          busy = false
          taken++
          if (taken >= maxSnapshots) stop()
        })
      return
    }
  }
  const stop = () => {
    if (timer) clearInterval(timer)
    timer = null
  }
  timer = setInterval(sample, intervalMs)
  timer.unref()
  return { stop }
}

module.exports = { watch }
