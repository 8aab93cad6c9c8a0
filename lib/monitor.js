'use strict'

// monitor(): is the process growing, and where? It samples memory, classifies the growth over a
// sliding window (JS heap, external/ArrayBuffer memory, native memory, stable), and on a JS-heap
// verdict takes three snapshots with the sampling heap profiler on, then writes the leak report
// (lib/leaks.js): which classes leak, through which retainer path, allocated where.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { PerformanceObserver, constants: perfConstants } = require('node:perf_hooks')

const { optionsObject, integer, boolean, func } = require('./errors')
const { SNAPSHOT_OPTION_KEYS, triggerOptions, enqueue } = require('./snapshot')
const { leakReport, formatLeakReport } = require('./leaks')
const { startSampling } = require('./allocation-sites')

const MONITOR_OPTION_KEYS = [
  ...SNAPSHOT_OPTION_KEYS.filter((k) => k !== 'path'),
  'intervalMs',
  'windowMs',
  'snapshots',
  'allocationSites',
  'maxSnapshots',
  'onVerdict',
  'onReport',
]
const DEFAULTS = { intervalMs: 5_000, windowMs: 5 * 60_000, maxSnapshots: 3 }
/** Fewest samples in the window for a verdict. */
const MIN_SAMPLES = 5
/** A metric grows when it gains this much over the window (bytes, or share of its level)… */
const MIN_GROWTH = { bytes: 2 << 20, share: 0.05 }
/** …and its samples line up this well (R² of the least-squares line). */
const MIN_FIT = 0.6
/** A new verdict holds only after the samples have said so for this share of the window. */
const SETTLE = 0.5
const MiB = 2 ** 20
/** Rows a monitor's report keeps. */
const REPORT_ROWS = 20
const GC_MAJOR = perfConstants.NODE_PERFORMANCE_GC_MAJOR

const ADVICE = {
  'js-heap': 'the JS heap keeps more after each full GC: a snapshot shows what and why',
  external:
    'Buffers/ArrayBuffers grow while the JS heap does not: a heap snapshot shows their owners only partly ' +
    '(the JS wrappers, not the bytes); look at who keeps Buffers (caches, streams that are never drained)',
  native:
    'RSS grows while the JS heap and external memory stay flat: native memory (a native addon, or glibc ' +
    'arena fragmentation: try MALLOC_ARENA_MAX=2 or jemalloc); a heap snapshot will not show it',
  stable: 'no growth',
  unknown: 'not enough samples yet',
}

/** Least squares over `points` ({ t, v }): slope per ms and R². */
function fit(points) {
  const n = points.length
  if (n < 2) return { slope: 0, r2: 0 }
  let st = 0
  let sv = 0
  for (const p of points) {
    st += p.t
    sv += p.v
  }
  const mt = st / n
  const mv = sv / n
  let stt = 0
  let stv = 0
  let svv = 0
  for (const p of points) {
    stt += (p.t - mt) ** 2
    stv += (p.t - mt) * (p.v - mv)
    svv += (p.v - mv) ** 2
  }
  if (stt === 0) return { slope: 0, r2: 0 }
  const slope = stv / stt
  return { slope, r2: svv === 0 ? 0 : (stv * stv) / (stt * svv), mean: mv }
}

/** The heap's floor: the heap after major GCs when there were two or more, else the lowest heapUsed per fifth of the window. */
function floorPoints(samples, gcs) {
  if (gcs.length >= 2) return gcs
  const buckets = 5
  const t0 = samples[0].t
  const span = samples[samples.length - 1].t - t0 || 1
  const mins = []
  for (const s of samples) {
    const b = Math.min(buckets - 1, Math.floor(((s.t - t0) / span) * buckets))
    if (!mins[b] || s.heapUsed < mins[b].v) mins[b] = { t: s.t, v: s.heapUsed }
  }
  return mins.filter(Boolean)
}

/** The verdict over the samples of one window. */
function classify(samples, gcs, windowMs) {
  const span = samples.length ? samples[samples.length - 1].t - samples[0].t : 0
  const base = { windowMs, samples: samples.length, majorGcs: gcs.length, slopes: null }
  if (samples.length < MIN_SAMPLES || span < windowMs * 0.9) {
    return { kind: 'unknown', confidence: 0, ...base, message: ADVICE.unknown }
  }
  const series = {
    heapFloor: floorPoints(samples, gcs),
    heapUsed: samples.map((s) => ({ t: s.t, v: s.heapUsed })),
    external: samples.map((s) => ({ t: s.t, v: s.external })),
    rss: samples.map((s) => ({ t: s.t, v: s.rss })),
  }
  const fits = {}
  const slopes = {}
  for (const [name, pts] of Object.entries(series)) {
    fits[name] = fit(pts)
    slopes[name] = Math.round((fits[name].slope * 60_000 * 1000) / MiB) / 1000 // MiB/min
  }
  const grows = (name, minBytes = MIN_GROWTH.bytes) => {
    const f = fits[name]
    const gained = f.slope * span
    return f.r2 >= MIN_FIT && gained > Math.max(minBytes, MIN_GROWTH.share * (f.mean ?? 0))
  }
  let kind = 'stable'
  let confidence
  if (grows('heapFloor')) {
    kind = 'js-heap'
    confidence = fits.heapFloor.r2
  } else if (grows('external')) {
    kind = 'external'
    confidence = fits.external.r2
  } else if (grows('rss', 4 * MIN_GROWTH.bytes)) {
    kind = 'native'
    confidence = fits.rss.r2
  } else {
    confidence = Math.min(1, samples.length / (4 * MIN_SAMPLES))
  }
  return { kind, confidence: Math.round(confidence * 100) / 100, ...base, slopes, message: ADVICE[kind] }
}

/** `heapsnap-leaks-<YYYYMMDD>T<HHMMSS>` in UTC, like the snapshots' names. */
function reportBase(dir) {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
  return path.join(dir, `heapsnap-leaks-${stamp}`)
}

/**
 * Watches this process's memory; on a JS-heap verdict, finds the leak.
 * @param {import('../index').MonitorOptions} [options]
 * @returns {import('../index').Monitor}
 */
function monitor(options) {
  options = optionsObject(options, MONITOR_OPTION_KEYS, 'monitor')
  const intervalMs = integer(options.intervalMs, 'options.intervalMs', { dflt: DEFAULTS.intervalMs })
  const windowMs = integer(options.windowMs, 'options.windowMs', { dflt: DEFAULTS.windowMs })
  const maxSnapshots = integer(options.maxSnapshots, 'options.maxSnapshots', { dflt: DEFAULTS.maxSnapshots })
  const takeSnapshots = boolean(options.snapshots, 'options.snapshots', true)
  const allocationSites = boolean(options.allocationSites, 'options.allocationSites', true)
  const onVerdict = func(options.onVerdict, 'options.onVerdict')
  const onReport = func(options.onReport, 'options.onReport')
  // The leak report's snapshots report through onReport, not on stderr.
  const dumpOpts = { ...triggerOptions(options, MONITOR_OPTION_KEYS, 'monitor'), quiet: true }

  const samples = []
  const gcs = []
  let current = classify([], [], windowMs)
  // The raw classification and since when it has said so: a verdict changes only once the new
  // kind has held for SETTLE × windowMs (start-up growth and GC sawtooth come and go).
  let pending = { kind: current.kind, since: Date.now() }
  let taken = 0
  let attempt = null
  let stopped = false

  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail?.kind ?? e.kind
      if (kind === GC_MAJOR) gcs.push({ t: Date.now(), v: v8.getHeapStatistics().used_heap_size })
    }
  })
  observer.observe({ entryTypes: ['gc'] })

  const trim = (list) => {
    const from = Date.now() - windowMs
    while (list.length && list[0].t < from) list.shift()
  }

  const tick = () => {
    const m = process.memoryUsage()
    samples.push({ t: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external })
    trim(samples)
    trim(gcs)
    const v = classify(samples, gcs, windowMs)
    const now = Date.now()
    if (v.kind !== pending.kind) pending = { kind: v.kind, since: now }
    const settled = v.kind === current.kind || now - pending.since >= SETTLE * windowMs
    if (!settled) return
    const changed = v.kind !== current.kind
    current = v
    if (changed && onVerdict) onVerdict(v)
    if (v.kind === 'js-heap' && takeSnapshots && !attempt && taken + 3 <= maxSnapshots) {
      attempt = findLeak().finally(() => {
        attempt = null
      })
    }
  }

  /** Resolves once the heap has grown by `bytes` over `from`, or after the window. */
  const growth = (from, bytes) =>
    new Promise((resolve) => {
      const end = Date.now() + windowMs
      const poll = setInterval(() => {
        const recent = samples.slice(-3).map((s) => s.heapUsed)
        if (stopped || Date.now() >= end || (recent.length && Math.min(...recent) >= from + bytes)) {
          clearInterval(poll)
          resolve()
        }
      }, intervalMs)
      poll.unref()
    })

  async function findLeak() {
    const dir = dumpOpts.dir
    const files = []
    let stopSampling = null
    let report
    try {
      if (allocationSites) stopSampling = await startSampling()
      const step = Math.max(MIN_GROWTH.bytes, (current.slopes.heapFloor * MiB * windowMs) / 60_000 / 3)
      for (let i = 1; i <= 3; i++) {
        if (i > 1) await growth(process.memoryUsage().heapUsed, step)
        if (stopped)
          throw Object.assign(new Error('heapsnap: the monitor was stopped'), { code: 'ERR_HEAPSNAP_STOPPED' })
        const r = await enqueue(dumpOpts, 'leak', { leakStep: i })
        taken++
        files.push(r.path)
      }
      const sites = stopSampling ? await stopSampling() : []
      stopSampling = null
      report = await leakReport(files, { allocationSites: sites, top: REPORT_ROWS })
    } catch (e) {
      process.stderr.write(`heapsnap: the leak report was not made: ${e.message}\n`)
      report = {
        snapshots: files,
        maxJsIds: [],
        rows: [],
        allocationSites: [],
        error: { code: e.code, message: e.message },
      }
    } finally {
      if (stopSampling) await stopSampling().catch(() => {})
    }
    const base = reportBase(dir)
    report.reportPath = `${base}.json`
    fs.writeFileSync(report.reportPath, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o600 })
    fs.writeFileSync(`${base}.txt`, formatLeakReport(report), { mode: 0o600 })
    if (onReport) onReport(report)
    return report
  }

  const timer = setInterval(tick, intervalMs)
  timer.unref()
  tick()
  return {
    /** The latest verdict. */
    verdict: () => current,
    /** Stops sampling (a leak report under way ends early). */
    stop() {
      stopped = true
      clearInterval(timer)
      observer.disconnect()
    },
  }
}

module.exports = { monitor, classify }
