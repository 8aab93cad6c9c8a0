'use strict'

// Race: heapsnap's analyzer against Chrome DevTools' own heap snapshot model in Node
// (heap-snapshot-toolkit, the dev dependency the tests use as the oracle), on snapshots of
// about 150 MB, 300 MB, 600 MB and 1 GB; then a Comparison of two ~300 MB snapshots of one
// process; then the > 2 GB synthetic run (bench/analyzer/synthetic.js).
//
//   node bench/analyzer/devtools.js [--sizes 150,300,600,1000] [--runs N] [--no-diff] [--no-synthetic]
//                                   [--no-devtools-above MB] [--out FILE|-] [--json FILE] [--generate-only]
//                                   [--reuse FILE] [--render FILE]
//
// --json keeps the measurements; --render FILE writes the table again from such a file,
// --reuse FILE takes the diff and synthetic rows from one for the sections not run now.
//
// Each measurement is a fresh process, one at a time: first DevTools' model (parse, which
// builds the dominator tree and retained sizes, then `aggregatesWithFilter({})`: the Summary
// rows; bench/analyzer/devtools-child.js), then, back to back, heapsnap's summary() (DevTools'
// rules, the default). The pair is repeated --runs times (default 3), alternating, and each
// tool's run of median wall time is the one reported (with every run's time): the speed of
// this shared machine drifts by tens of percent within minutes, so that one pair alone can
// land on either side of it. Time is the wall time of the whole child process (start-up, import,
// read, analysis); memory is the child's peak RSS (VmHWM). The load average is noted next to
// each row: the machine may be shared. Before every big run (a file of ≥ 600 MB, or
// DevTools on ≥ 300 MB) it waits until MemAvailable is at least --min-free GiB (default 10).
//
// The diff row: heapsnap's diff() (DevTools' Comparison, plus the Summary of the objects
// allocated between the two, with the target's dominators) against the toolkit's
// `diffFromStreams` (the DevTools Comparison, the base parsed and freed before the target).
// memlab (@memlab/core) has no two-snapshot comparison: its leak finder needs three snapshots
// (baseline, target, final), so it is not in this row; its load of both files is reported
// (installed on first use into .cache/memlab, bench/analyzer/memlab.js).
//
// Snapshots are generated once into .cache/analyzer/ (plain .heapsnapshot; the heap of
// compare.js, scaled). Not part of `npm test`: a full run takes ~20 minutes and up to ~8 GB.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync, execFileSync } = require('node:child_process')
const { MAKE_HEAP } = require('./heap-script.js')
const { MEMLAB_DIR, ensureMemlab } = require('./memlab.js')

const ROOT = path.resolve(__dirname, '..', '..')
const DIR = path.join(ROOT, '.cache', 'analyzer')
// Bytes of plain snapshot per unit of MAKE_HEAP's scale (measured: scale 1.233 → 314.6 MB).
const BYTES_PER_SCALE = 255e6

function args(argv) {
  const a = {
    sizes: [150, 300, 600, 1000],
    runs: 3,
    diff: true,
    synthetic: true,
    devtoolsAbove: Infinity,
    minFree: 10,
    out: path.join(ROOT, 'bench', 'ANALYZER.md'),
    json: null,
    generateOnly: false,
    reuse: null,
    render: null,
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    if (k === '--sizes') a.sizes = argv[++i].split(',').map(Number)
    else if (k === '--runs') a.runs = Math.max(1, Number(argv[++i]))
    else if (k === '--no-diff') a.diff = false
    else if (k === '--no-synthetic') a.synthetic = false
    else if (k === '--no-devtools-above') a.devtoolsAbove = Number(argv[++i])
    else if (k === '--min-free') a.minFree = Number(argv[++i])
    else if (k === '--out') a.out = argv[i + 1] === '-' ? (i++, null) : path.resolve(argv[++i])
    else if (k === '--json') a.json = path.resolve(argv[++i])
    else if (k === '--generate-only') a.generateOnly = true
    else if (k === '--reuse') a.reuse = path.resolve(argv[++i])
    else if (k === '--render') a.render = path.resolve(argv[++i])
    else throw new Error(`unknown argument ${k}`)
  }
  return a
}

const MiB = (b) => (b / 1048576).toFixed(0)
const sec = (ms) => (ms / 1000).toFixed(2)
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

function memAvailable() {
  const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))
  return m ? Number(m[1]) * 1024 : Infinity
}

/** Waits (polling every 30 s) until MemAvailable is at least `gib` GiB. */
function waitForMemory(gib) {
  for (;;) {
    const free = memAvailable()
    if (free >= gib * 2 ** 30) return
    console.error(`  waiting: MemAvailable ${(free / 2 ** 30).toFixed(1)} GiB < ${gib} GiB …`)
    execFileSync('sleep', ['30'])
  }
}

// Set on some machines (this one among them) for other tools' TLS; with it every Node process
// parses the CA bundle as it starts (~50 ms here), which neither tool uses. The children run
// without it, both tools alike, and the table says so.
const CHILD_ENV = { ...process.env, NODE_HEAPDUMP_OPTIONS: 'nosignal' }
const UNSET_ENV = ['NODE_EXTRA_CA_CERTS'].filter((k) => k in CHILD_ENV)
for (const k of UNSET_ENV) delete CHILD_ENV[k]

function runChild(argv, opts = {}) {
  const t = process.hrtime.bigint()
  const res = spawnSync(process.execPath, argv, {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: CHILD_ENV,
    ...opts,
  })
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6
  if (res.status !== 0) {
    return { ok: false, wallMs, error: `${res.status ?? res.signal}: ${(res.stderr || '').trim().split('\n').pop()}` }
  }
  const r = JSON.parse(res.stdout.trim().split('\n').pop())
  return { ok: true, wallMs, peakRss: r.peakRssBytes, r }
}

/**
 * `n` rounds of `measures` (functions returning a runChild result, or null when not run), one
 * after the other in each round. Per measure: its run of median wall time (the lower middle
 * of an even count), with `runsMs` (every run's wall time) and the highest peak RSS of all;
 * a failed run is returned as it is.
 */
function alternate(n, measures) {
  const runs = measures.map(() => [])
  for (let i = 0; i < n; i++) {
    measures.forEach((measure, k) => {
      const m = measure()
      if (m) runs[k].push(m)
    })
  }
  return runs.map((list) => {
    if (list.length === 0) return null
    const failed = list.find((m) => !m.ok)
    if (failed) return failed
    const sorted = [...list].sort((x, y) => x.wallMs - y.wallMs)
    const median = sorted[(sorted.length - 1) >> 1]
    return { ...median, peakRss: Math.max(...list.map((m) => m.peakRss)), runsMs: list.map((m) => m.wallMs) }
  })
}

/** One measurement's line on stderr: `label: 1.23 s, 456 MiB <detail>`, or its error. */
function logRun(label, m, detail = '') {
  console.error(`  ${label}: ${m.ok ? `${sec(m.wallMs)} s, ${MiB(m.peakRss)} MiB ${detail}` : m.error}`)
}

/** A heapsnap measurement, which must succeed, logged. */
function heapsnapRun(mode, files, detail) {
  const m = heapsnap(mode, files)
  if (!m.ok) throw new Error(`heapsnap ${mode} failed: ${m.error}`)
  logRun('heapsnap', m, JSON.stringify(detail(m.r)))
  return m
}

function generate(file, scale, second) {
  if (fs.existsSync(file) && (!second || fs.existsSync(second))) return
  waitForMemory(scale > 2 ? 10 : 4)
  console.error(`generating ${path.basename(file)}${second ? ` and ${path.basename(second)}` : ''} …`)
  execFileSync(process.execPath, ['--max-old-space-size=16384', '-e', MAKE_HEAP(scale, file, second)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

/** Bytes of the `strings` section (DevTools parses it as one JS string: ≤ 2^29 - 24 chars). */
function stringsBytes(file) {
  try {
    const out = execFileSync('grep', ['-b', '-o', '-m1', '"strings":\\[', file], { encoding: 'utf8' })
    return fs.statSync(file).size - Number(out.split(':')[0])
  } catch {
    return null
  }
}

function devtools(mode, files) {
  const mb = Math.max(...files.map((f) => fs.statSync(f).size)) / 1e6
  const heap = Math.max(4096, Math.ceil(6 * mb))
  return runChild([`--max-old-space-size=${heap}`, path.join(__dirname, 'devtools-child.js'), mode, ...files])
}

function heapsnap(mode, files) {
  const code = `
    const fs = require('node:fs');
    const h = require(${JSON.stringify(ROOT)});
    const files = ${JSON.stringify(files)};
    const peak = () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024 };
    const p = ${JSON.stringify(mode)} === 'summary' ? h.summary(files[0]) : h.diff(files[0], files[1]);
    p.then((r) => {
      const cpu = process.cpuUsage();
      const out = { tool: 'heapsnap', timings: r.timings, rows: (r.classes || []).length, peakRssBytes: peak(), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
      if (r.file) Object.assign(out, { nodeCount: r.file.nodeCount, edgeCount: r.file.edgeCount });
      if (r.sameProcess !== undefined) Object.assign(out, { sameProcess: r.sameProcess, allocatedBetween: (r.allocatedBetween || []).length });
      process.stdout.write(JSON.stringify(out) + '\\n');
    }, (e) => { console.error(e); process.exit(1) });`
  return runChild(['-e', code])
}

function memlabLoad(files) {
  try {
    ensureMemlab()
  } catch (e) {
    console.error(`memlab's load is not measured: ${e.message}`)
    return null
  }
  const code = `
    const fs = require('node:fs');
    const { createRequire } = require('node:module');
    const memlab = createRequire(${JSON.stringify(path.join(MEMLAB_DIR, 'package.json'))})('@memlab/core');
    memlab.config.muteConsole = true;
    memlab.config.errorHandling = memlab.ErrorHandling.Throw;
    (async () => {
      for (const f of ${JSON.stringify(files)}) {
        let heap = await memlab.utils.getSnapshotFromFile(f, { buildNodeIdIndex: true });
        new memlab.TraceFinder().calculateAllNodesRetainedSizes(heap);
        heap = null;
      }
      const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      process.stdout.write(JSON.stringify({ peakRssBytes: Number(m[1]) * 1024 }) + '\\n');
    })().catch((e) => { console.error(e); process.exit(1) });`
  const mb = Math.max(...files.map((f) => fs.statSync(f).size)) / 1e6
  return runChild([`--max-old-space-size=${Math.max(4096, Math.ceil(3 * mb))}`, '-e', code])
}

const cell = (m) =>
  m && m.ok ? `${sec(m.wallMs)} s | ${MiB(m.peakRss)} MiB` : `${m ? `failed (${m.error})` : '—'} | —`
/** Every run's wall time in seconds, as `1.2, 1.3, 1.1` (the median run is the one shown). */
const runList = (m) => (m && m.ok && m.runsMs ? m.runsMs.map((ms) => sec(ms)).join(', ') : '—')
const ratio = (dt, hs) =>
  dt && dt.ok && hs.ok
    ? `${(dt.wallMs / hs.wallMs).toFixed(1)}× | ${((100 * hs.peakRss) / dt.peakRss).toFixed(0)}%`
    : '— | —'

// CPU time (user + system, all threads) of each child: less sensitive than wall time to other
// jobs on a shared machine.
const cpu = (dt, hs) =>
  dt && dt.ok && hs.ok && dt.r.cpuMs && hs.r.cpuMs
    ? `${sec(dt.r.cpuMs)} s / ${sec(hs.r.cpuMs)} s (${(dt.r.cpuMs / hs.r.cpuMs).toFixed(1)}×)`
    : '—'

function main() {
  const a = args(process.argv.slice(2))
  fs.mkdirSync(DIR, { recursive: true })
  const toolkit = require(path.join(ROOT, 'node_modules', 'heap-snapshot-toolkit', 'package.json')).version
  if (a.render) return write(a, JSON.parse(fs.readFileSync(a.render, 'utf8')), toolkit)
  const results = {
    summary: [],
    diff: null,
    synthetic: null,
    runs: a.runs,
    date: new Date().toISOString().slice(0, 10),
    unsetEnv: UNSET_ENV,
  }

  for (const size of a.sizes) {
    const file = path.join(DIR, `dt-mixed-${size}mb.heapsnapshot`)
    generate(file, size / (BYTES_PER_SCALE / 1e6))
    if (a.generateOnly) continue
    const bytes = fs.statSync(file).size
    const strings = stringsBytes(file)
    console.error(
      `\n${path.basename(file)}: ${MiB(bytes)} MiB (strings section ${strings === null ? '?' : MiB(strings)} MiB)`,
    )
    const dtLoad = loadavg()
    let hsLoad = null
    const [dt, hs] = alternate(a.runs, [
      () => {
        if (size > a.devtoolsAbove) return null
        if (bytes >= 300e6) waitForMemory(a.minFree)
        const m = devtools('summary', [file])
        logRun('DevTools model', m, JSON.stringify(m.r))
        return m
      },
      () => {
        if (bytes >= 600e6) waitForMemory(a.minFree)
        hsLoad ??= loadavg()
        return heapsnapRun('summary', [file], (r) => r.timings)
      },
    ])
    results.summary.push({ file, bytes, strings, dt, hs, dtLoad, hsLoad })
  }

  if (a.diff) {
    const base = path.join(DIR, 'dt-pair-300mb-a.heapsnapshot')
    const target = path.join(DIR, 'dt-pair-300mb-b.heapsnapshot')
    generate(base, 300 / (BYTES_PER_SCALE / 1e6), target)
  }
  if (a.generateOnly) return
  if (a.diff) {
    const base = path.join(DIR, 'dt-pair-300mb-a.heapsnapshot')
    const target = path.join(DIR, 'dt-pair-300mb-b.heapsnapshot')
    console.error(`\ndiff ${path.basename(base)} ${path.basename(target)}`)
    const dtLoad = loadavg()
    let hsLoad = null
    let mlLoad = null
    const [dt, hs, ml] = alternate(a.runs, [
      () => {
        waitForMemory(a.minFree)
        const m = devtools('diff', [base, target])
        logRun('DevTools model', m, JSON.stringify(m.r))
        return m
      },
      () => {
        hsLoad ??= loadavg()
        return heapsnapRun('diff', [base, target], (r) => r)
      },
      () => {
        waitForMemory(a.minFree)
        mlLoad ??= loadavg()
        const m = memlabLoad([base, target])
        if (m) logRun('memlab load of both', m)
        return m
      },
    ])
    results.diff = {
      files: [base, target].map((f) => ({ file: f, bytes: fs.statSync(f).size })),
      dt,
      hs,
      ml,
      dtLoad,
      hsLoad,
      mlLoad,
    }
  }

  if (a.synthetic) {
    waitForMemory(a.minFree)
    console.error('\nsynthetic (bench/analyzer/synthetic.js)')
    const load = loadavg()
    const out = execFileSync(process.execPath, [path.join(__dirname, 'synthetic.js')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    console.error(out.trim())
    results.synthetic = { out: out.trim(), load }
  }

  if (a.reuse) {
    // The diff and synthetic rows of an earlier run (its --json), for those not run now.
    const old = JSON.parse(fs.readFileSync(a.reuse, 'utf8'))
    results.diff ??= old.diff
    results.synthetic ??= old.synthetic
  }
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(results, null, 2))
  write(a, results, toolkit)
}

function write(a, results, toolkit) {
  const md = table(results, toolkit)
  console.log(md)
  if (a.out) {
    // The section from its heading to END_MARKER is replaced; the notes after it stay.
    const marker = '## Speed and memory against the DevTools model'
    const old = fs.existsSync(a.out) ? fs.readFileSync(a.out, 'utf8') : ''
    const at = old.indexOf(`\n${marker}`)
    const end = at >= 0 ? old.indexOf(END_MARKER, at) : -1
    const keep = at >= 0 ? old.slice(0, at) : old
    const notes = end >= 0 ? old.slice(end + END_MARKER.length) : ''
    fs.writeFileSync(a.out, `${keep.replace(/\n+$/, '')}\n\n${md}${notes}`)
  }
}

/** Ends the generated section of bench/ANALYZER.md (the notes after it are kept). */
const END_MARKER = '<!-- end of the generated section -->'

function table(results, toolkit) {
  const lines = [
    '## Speed and memory against the DevTools model',
    '',
    `Made by \`node bench/analyzer/devtools.js\` on ${results.date ?? new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${os.cpus().length} cores (${os.cpus()[0].model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `DevTools model = heap-snapshot-toolkit ${toolkit}. Each run is a fresh process, DevTools then heapsnap back to back, ` +
      `${results.runs ?? 1} time(s) in turn; time is the wall time of the whole process, that of each tool's median run ` +
      '(every run in the last column), memory its highest peak RSS (VmHWM). Load = the 1/5/15-minute load average ' +
      "before each tool's first run (the machine is shared)." +
      (results.unsetEnv?.length
        ? ` The children ran without ${results.unsetEnv.map((k) => `\`${k}\``).join(', ')} (set on this machine; Node reads the CA bundle it names at every start).`
        : ''),
    '',
    '| file | nodes / edges | DevTools model time | DevTools peak RSS | heapsnap time | heapsnap peak RSS | speed-up | memory fraction | CPU time DevTools / heapsnap (ratio) | load (DevTools; heapsnap) | runs, s (DevTools; heapsnap) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const s of results.summary) {
    const r = s.hs.r
    lines.push(
      `| ${path.basename(s.file)} (${MiB(s.bytes)} MiB) | ${r.nodeCount.toLocaleString('en-US')} / ${r.edgeCount.toLocaleString('en-US')} | ` +
        `${cell(s.dt)} | ${cell(s.hs)} | ${ratio(s.dt, s.hs)} | ${cpu(s.dt, s.hs)} | ${s.dt ? s.dtLoad : '—'}; ${s.hsLoad} | ` +
        `${runList(s.dt)}; ${runList(s.hs)} |`,
    )
  }
  if (results.diff) {
    const d = results.diff
    lines.push(
      `| diff ${d.files.map((f) => `${path.basename(f.file)} (${MiB(f.bytes)} MiB)`).join(' → ')} | — | ` +
        `${cell(d.dt)} | ${cell(d.hs)} | ${ratio(d.dt, d.hs)} | ${cpu(d.dt, d.hs)} | ${d.dtLoad}; ${d.hsLoad} | ` +
        `${runList(d.dt)}; ${runList(d.hs)} |`,
    )
    if (d.ml && d.ml.ok) {
      lines.push(
        '',
        `memlab (@memlab/core) has no two-snapshot comparison (its leak finder needs three snapshots), so the diff ` +
          `row compares against DevTools' own Comparison. memlab's load of both files alone (parse + dominators ` +
          `+ retained sizes, one after the other in one process) took ${sec(d.ml.wallMs)} s at ${MiB(d.ml.peakRss)} MiB ` +
          `peak RSS (load ${d.mlLoad}; runs ${runList(d.ml)} s): ${(d.ml.wallMs / d.hs.wallMs).toFixed(1)}× heapsnap's whole diff.`,
      )
    }
  }
  if (results.synthetic) {
    const y = JSON.parse(results.synthetic.out)
    lines.push(
      '',
      '| synthetic run (bench/analyzer/synthetic.js) | nodes / edges | heapsnap time (read + dominators) | heapsnap peak RSS | peak RSS / file size | answer | load |',
      '|---|---|---|---|---|---|---|',
      `| ${path.basename(y.file)} (${(y.fileBytes / 1e9).toFixed(2)} GB) | ${y.nodes.toLocaleString('en-US')} / ${y.edges.toLocaleString('en-US')} | ` +
        `${y.wallSeconds.toFixed(2)} s (${y.readSeconds.toFixed(2)} + ${y.dominatorSeconds.toFixed(2)}) | ${MiB(y.peakRssBytes)} MiB | ` +
        `${y.rssOverFile} | ${y.answer} | ${results.synthetic.load} |`,
    )
  }
  lines.push('', END_MARKER)
  return lines.join('\n')
}

main()
