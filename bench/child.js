'use strict'

// One measurement in a fresh process. Spawned by bench/run.js as
//   node --expose-gc --max-old-space-size=N bench/child.js '<json config>'
// and prints one line `BENCH_RESULT <json>` on stdout.
//
// Modes (config.mode):
//   method  build a heap, settle it (gc() twice), reset/record VmHWM, run ONE snapshot method
//           while a 1 ms interval timer records the longest gap, record VmHWM after, delete file.
//   spin    for the signal latency: install a signal dumper, print `READY`, spin the JS thread
//           in `while (Date.now() < end) {}`; the parent sends the signal and reads the result.
//   calibrate  print the retained heap bytes per unit of each shape.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { performance } = require('node:perf_hooks')
const { SHAPES, buildHeap } = require('./heaps')

const REPO = path.resolve(__dirname, '..')

function readStatus() {
  const out = {}
  const text = fs.readFileSync('/proc/self/status', 'utf8')
  for (const key of ['VmHWM', 'VmRSS']) {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))
    out[key] = m ? Number(m[1]) * 1024 : null
  }
  return out
}

/** Resets VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs). */
function resetHwm() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

function settle() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc')
  global.gc()
  global.gc()
}

function fsyncFile(file) {
  const fd = fs.openSync(file, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A 1 ms interval timer that records the longest gap between its callbacks. */
function gapMonitor() {
  let last = performance.now()
  let maxGap = 0
  const iv = setInterval(() => {
    const now = performance.now()
    if (now - last > maxGap) maxGap = now - last
    last = now
  }, 1)
  return {
    reset() {
      maxGap = 0
    },
    stop() {
      clearInterval(iv)
      const now = performance.now()
      if (now - last > maxGap) maxGap = now - last
      return maxGap
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Methods. Each returns { file, stallMs?, callMs, durableMs, rawBytes? }: callMs is how long the
// call blocked (sync methods) or until its promise resolved; durableMs runs until the file is
// fsynced (for methods that do not fsync themselves, the harness fsyncs after they return and
// counts that time).

const METHODS = {
  async builtin(file) {
    const t0 = performance.now()
    v8.writeHeapSnapshot(file)
    const t1 = performance.now()
    fsyncFile(file)
    return { callMs: t1 - t0, durableMs: performance.now() - t0 }
  },

  // Diagnostic: the built-in in a process that has loaded heapsnap (same heap as heapsnap's
  // runs, module included), to separate the module's footprint from the mechanism.
  async 'builtin-loaded'(file) {
    return METHODS.builtin(file)
  },

  async 'heapsnap-none'(file) {
    return heapsnapSnapshot(file, { compress: 'none' })
  },
  async 'heapsnap-gzip'(file) {
    // No level: whatever the library's default is (DEFAULT_GZIP_LEVEL, 2).
    return heapsnapSnapshot(file + '.gz', { compress: 'gzip' })
  },
  async 'heapsnap-inline'(file) {
    // The default compression, serialized on the JS thread as before background serialization.
    return heapsnapSnapshot(file + '.gz', { compress: 'gzip', serialize: 'inline' })
  },
  async 'heapsnap-gzip6'(file) {
    return heapsnapSnapshot(file + '.gz', { compress: 'gzip', level: 6 })
  },

  async 'heapsnap-write'(file) {
    const heapsnap = require(REPO)
    let err = null
    const t0 = performance.now()
    heapsnap.writeSnapshot(file, (e) => {
      err = e
    })
    const t1 = performance.now()
    if (err) throw err
    fsyncFile(file) // writeSnapshot fsyncs already; this is then nearly free
    return { callMs: t1 - t0, durableMs: performance.now() - t0 }
  },

  async heapdump(file, config) {
    if (!config.heapdumpDir) throw new Error('heapdump not built')
    const heapdump = require(config.heapdumpDir)
    let err = null
    const t0 = performance.now()
    heapdump.writeSnapshot(file, (e) => {
      err = e
    })
    const t1 = performance.now()
    if (err) throw err
    fsyncFile(file)
    return { callMs: t1 - t0, durableMs: performance.now() - t0 }
  },

  // What @nearform/heap-profiler and Clinic do: an in-thread inspector session whose
  // HeapProfiler.addHeapSnapshotChunk events are appended to a file. Chunks are written with
  // fs.writeSync as they arrive (the lowest-memory variant; heap-profiler queues them in a
  // SonicBoom stream, which buffers them in memory while the synchronous dispatch runs).
  async inspector(file) {
    const inspector = require('node:inspector')
    const session = new inspector.Session()
    session.connect()
    const fd = fs.openSync(file, 'w')
    session.on('HeapProfiler.addHeapSnapshotChunk', (m) => {
      fs.writeSync(fd, m.params.chunk)
    })
    const t0 = performance.now()
    let t1 = 0
    await new Promise((resolve, reject) => {
      session.post('HeapProfiler.takeHeapSnapshot', null, (err) => {
        t1 = performance.now()
        if (err) reject(err)
        else resolve()
      })
    })
    session.disconnect()
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    return { callMs: t1 - t0, durableMs: performance.now() - t0 }
  },
}

async function heapsnapSnapshot(file, opts) {
  const heapsnap = require(REPO)
  const t0 = performance.now()
  const r = await heapsnap.snapshot({ path: file, sidecar: false, ...opts })
  const t1 = performance.now()
  return {
    file: r.path,
    stallMs: r.stallMs,
    totalMs: r.totalMs,
    rawBytes: r.rawBytes,
    callMs: t1 - t0,
    durableMs: t1 - t0,
  }
}

async function runMethod(config) {
  const method = METHODS[config.method]
  if (!method) throw new Error(`unknown method ${config.method}`)
  // Load the method's module before the measurement (so its load cost and memory are not
  // counted), but only that one: the built-in's process never loads heapsnap or heapdump.
  if (config.method.startsWith('heapsnap') || config.method === 'builtin-loaded') require(REPO)
  if (config.method === 'heapdump') require(config.heapdumpDir)

  const tBuild = performance.now()
  const { root, units } = buildHeap(config.shape, config.mb)
  const buildMs = performance.now() - tBuild
  settle()
  const heap = process.memoryUsage()
  const hwmReset = resetHwm()
  const before = readStatus()

  const file = path.join(config.dir, `${config.shape}-${config.method}-${process.pid}.heapsnapshot`)
  const mon = gapMonitor()
  await sleep(100)
  const idleGapMs = mon.stop() // timer jitter with nothing happening (reference)
  const mon2 = gapMonitor()
  await sleep(20)
  const cpu0 = process.cpuUsage()
  const r = await method(file, config)
  const cpu = process.cpuUsage(cpu0)
  await sleep(50)
  const maxGapMs = mon2.stop()
  const after = readStatus()

  const out = r.file || file
  const bytes = fs.statSync(out).size
  const rawBytes = r.rawBytes ?? bytes
  fs.rmSync(out + '.json', { force: true })
  // `keep`: the parent compresses the raw file with reference tools, then deletes it.
  if (!config.keep) fs.rmSync(out, { force: true })
  if (root.length !== units) throw new Error('heap lost') // keeps root alive through the dump

  return {
    mode: 'method',
    method: config.method,
    shape: config.shape,
    targetMb: config.mb,
    units,
    buildMs,
    heapUsed: heap.heapUsed,
    heapTotal: heap.heapTotal,
    rssBefore: before.VmRSS,
    hwmBefore: before.VmHWM,
    hwmAfter: after.VmHWM,
    hwmReset,
    rssGrowth: after.VmHWM - before.VmHWM,
    idleGapMs,
    maxGapMs,
    stallMs: r.stallMs ?? null,
    callMs: r.callMs,
    durableMs: r.durableMs,
    cpuMs: (cpu.user + cpu.system) / 1000, // all threads of the process, call → durable
    bytes,
    rawBytes,
    rawMBps: rawBytes / 1e6 / (r.durableMs / 1000),
    keptFile: config.keep ? out : undefined,
  }
}

// ---------------------------------------------------------------------------------------------
// Signal latency while the JS thread spins.

async function runSpin(config) {
  const { root } = buildHeap(config.shape, config.mb)
  settle()
  if (config.kind === 'heapsnap') {
    const heapsnap = require(REPO)
    heapsnap.installSignalHandler({ dir: config.dir, quiet: true })
  } else if (config.kind === 'heapdump') {
    // heapdump installs its SIGUSR2 handler on require (unless NODE_HEAPDUMP_OPTIONS=nosignal).
    require(config.heapdumpDir)
  } // 'builtin': node was started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=dir
  await sleep(50)
  const end = Date.now() + config.spinMs
  process.stdout.write(`READY ${Date.now()}\n`)
  // eslint-disable-next-line no-empty
  while (Date.now() < end) {}
  const spinEnd = Date.now()
  // A dump the signal queued on the event loop (heapdump, the built-in) runs before this timer
  // fires; heapsnap's writer thread finishes after the dump, so wait for its sidecar.
  await sleep(100)
  if (config.kind === 'heapsnap') {
    const deadline = Date.now() + 120000
    while (!fs.readdirSync(config.dir).some((f) => f.endsWith('.heapsnapshot.gz.json'))) {
      if (Date.now() > deadline) throw new Error('no sidecar after 120 s')
      await sleep(10)
    }
  }
  if (root.length === 0) throw new Error('heap lost')
  return { mode: 'spin', kind: config.kind, spinEnd }
}

// ---------------------------------------------------------------------------------------------

function calibrate() {
  const out = {}
  let heap = null
  for (const shape of Object.keys(SHAPES)) {
    heap = null
    settle()
    const base = process.memoryUsage().heapUsed
    heap = buildHeap(shape, 32)
    settle()
    const used = process.memoryUsage().heapUsed - base
    out[shape] = { units: heap.units, bytesPerUnit: Math.round(used / heap.units), usedMiB: used / 1048576 }
  }
  return { mode: 'calibrate', shapes: out }
}

async function main() {
  let config
  if (process.argv[2] === '--calibrate') config = { mode: 'calibrate' }
  else config = JSON.parse(process.argv[2])
  let result
  if (config.mode === 'method') result = await runMethod(config)
  else if (config.mode === 'spin') result = await runSpin(config)
  else if (config.mode === 'calibrate') result = calibrate()
  else throw new Error(`unknown mode ${config.mode}`)
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`)
}

main().catch((err) => {
  process.stdout.write(`BENCH_ERROR ${JSON.stringify({ message: String((err && err.stack) || err) })}\n`)
  process.exitCode = 1
})
