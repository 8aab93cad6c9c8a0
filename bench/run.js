#!/usr/bin/env node
'use strict'

// Benchmark: heapsnap-native against v8.writeHeapSnapshot, heapdump 0.3.15 and an in-thread
// inspector session. Every measurement runs in its own fresh process (bench/child.js); methods
// alternate A B C … A B C … on the same heap. See bench/README.md.
//
//   npm run bench                         full run (~30 min on 2 cores), writes bench/RESULTS.md
//   npm run bench -- --quick              smoke run: tiny heaps, 1 repeat (~1–2 min)
//   npm run bench -- --heaps strings,small-objects-200 --repeats 2 --methods builtin,heapsnap-gzip
//   options: --out FILE, --no-signal, --no-reference, --rebuild-heapdump, --render RUNS.json, --help

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..')
const CHILD = path.join(__dirname, 'child.js')
const HEAPDUMP_VERSION = '0.3.15'

const METHODS = [
  { id: 'builtin', label: '`v8.writeHeapSnapshot` (built-in)' },
  // Diagnostic, 50 MB heaps only by default: the module's own heap footprint matters there.
  { id: 'builtin-loaded', label: '`v8.writeHeapSnapshot`, heapsnap loaded (diagnostic)', maxMb: 50 },
  { id: 'heapsnap-none', label: "heapsnap `snapshot({ compress: 'none' })`" },
  {
    id: 'heapsnap-gzip',
    label: "heapsnap `snapshot({ compress: 'gzip' })` (default level, 2; background serialization, the default)",
  },
  { id: 'heapsnap-inline', label: "heapsnap `snapshot({ compress: 'gzip', serialize: 'inline' })`" },
  { id: 'heapsnap-gzip6', label: "heapsnap `snapshot({ compress: 'gzip', level: 6 })`" },
  { id: 'heapsnap-write', label: 'heapsnap `writeSnapshot()` (heapdump API)' },
  { id: 'heapdump', label: `heapdump ${HEAPDUMP_VERSION} \`writeSnapshot()\`` },
  { id: 'inspector', label: 'in-thread `inspector.Session` → file' },
]

const FULL_HEAPS = [
  { name: 'small-objects-50', shape: 'small-objects', mb: 50, repeats: 4 },
  { name: 'strings-50', shape: 'strings', mb: 50, repeats: 5 },
  { name: 'number-arrays-50', shape: 'number-arrays', mb: 50, repeats: 5 },
  { name: 'maps-sets-50', shape: 'maps-sets', mb: 50, repeats: 4 },
  { name: 'small-objects-200', shape: 'small-objects', mb: 200, repeats: 2 },
  { name: 'small-objects-500', shape: 'small-objects', mb: 500, repeats: 1 },
]
const QUICK_HEAPS = [
  { name: 'small-objects-4', shape: 'small-objects', mb: 4, repeats: 1 },
  { name: 'strings-4', shape: 'strings', mb: 4, repeats: 1 },
  { name: 'number-arrays-4', shape: 'number-arrays', mb: 4, repeats: 1 },
  { name: 'maps-sets-4', shape: 'maps-sets', mb: 4, repeats: 1 },
]

const TARGETS = { stallRatio: 1.05, bytesRatio: 6, rssDeltaMiB: 64 }

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const a = {
    quick: false,
    heaps: null,
    methods: null,
    repeats: null,
    out: null,
    signal: true,
    reference: true,
    rebuildHeapdump: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const val = () => {
      if (arg.includes('=')) return arg.slice(arg.indexOf('=') + 1)
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`)
      return argv[++i]
    }
    const name = arg.split('=')[0]
    if (name === '--quick') a.quick = true
    else if (name === '--heaps') a.heaps = val().split(',').filter(Boolean)
    else if (name === '--methods') a.methods = val().split(',').filter(Boolean)
    else if (name === '--repeats') a.repeats = Number(val())
    else if (name === '--out') a.out = path.resolve(val())
    else if (name === '--no-signal') a.signal = false
    else if (name === '--no-reference') a.reference = false
    else if (name === '--rebuild-heapdump') a.rebuildHeapdump = true
    else if (name === '--render') a.render = path.resolve(val())
    else if (name === '--help' || name === '-h') a.help = true
    else throw new Error(`unknown argument ${arg}`)
  }
  if (a.repeats !== null && !(Number.isInteger(a.repeats) && a.repeats > 0))
    throw new Error('--repeats must be a positive integer')
  return a
}

// ---------------------------------------------------------------------------------------------
// heapdump 0.3.15, built from source once and cached under .cache/heapdump/

function ensureHeapdump(rebuild) {
  const key = `${HEAPDUMP_VERSION}-node${process.versions.modules}-${process.platform}-${process.arch}`
  const cacheDir = path.join(REPO, '.cache', 'heapdump', key)
  const pkgDir = path.join(cacheDir, 'package')
  const failFile = path.join(cacheDir, 'FAILED.txt')
  const loads = () => {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkgDir)})`], {
      env: { ...process.env, NODE_HEAPDUMP_OPTIONS: 'nosignal' },
      encoding: 'utf8',
    })
    return r.status === 0 ? null : (r.stderr || '').trim().split('\n').slice(-3).join(' ')
  }
  if (!rebuild && fs.existsSync(path.join(pkgDir, 'build', 'Release', 'addon.node')) && !loads()) {
    return { ok: true, dir: pkgDir, note: `built from source, cached in .cache/heapdump/${key}` }
  }
  if (!rebuild && fs.existsSync(failFile)) {
    return { ok: false, reason: fs.readFileSync(failFile, 'utf8').trim() + ' (cached; --rebuild-heapdump retries)' }
  }
  log(`building heapdump ${HEAPDUMP_VERSION} from source (npm pack + npm install → node-gyp rebuild)…`)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-bench-heapdump-'))
  const fail = (step, r) => {
    const out = `${r.error ? r.error.message : ''}\n${r.stdout || ''}\n${r.stderr || ''}`
    const lines = out.split('\n').filter((l) => /err|fail|not found|cannot/i.test(l) && !/nodedir/.test(l))
    const reason = `${step} failed (exit ${r.status}): ${(lines.slice(-4).join(' | ') || out.trim().split('\n').slice(-3).join(' | ')).slice(0, 600)}`
    fs.rmSync(cacheDir, { recursive: true, force: true })
    fs.mkdirSync(cacheDir, { recursive: true })
    fs.writeFileSync(failFile, reason + '\n')
    fs.rmSync(tmp, { recursive: true, force: true })
    log(`heapdump: ${reason}`)
    return { ok: false, reason }
  }
  const run = (cmd, args, cwd) => spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 600000, maxBuffer: 64 << 20 })
  try {
    let r = run('npm', ['pack', `heapdump@${HEAPDUMP_VERSION}`, '--silent'], tmp)
    if (r.status !== 0) return fail('npm pack', r)
    const tgz = r.stdout.trim().split('\n').pop()
    r = run('tar', ['xzf', tgz], tmp)
    if (r.status !== 0) return fail('tar', r)
    const src = path.join(tmp, 'package')
    // npm runs `node-gyp rebuild` for a package with a binding.gyp and no install script.
    r = run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--no-package-lock'], src)
    if (r.status !== 0) return fail('npm install (node-gyp rebuild)', r)
    if (!fs.existsSync(path.join(src, 'build', 'Release', 'addon.node'))) {
      return fail('node-gyp rebuild', {
        status: 0,
        stdout: r.stdout,
        stderr: r.stderr + '\nbuild/Release/addon.node not found',
      })
    }
    fs.rmSync(cacheDir, { recursive: true, force: true })
    fs.mkdirSync(cacheDir, { recursive: true })
    fs.cpSync(src, pkgDir, { recursive: true })
    fs.rmSync(tmp, { recursive: true, force: true })
    const err = loads()
    if (err) return fail('require() of the built addon', { status: 1, stderr: err })
    return { ok: true, dir: pkgDir, note: `built from source here (node-gyp), cached in .cache/heapdump/${key}` }
  } catch (e) {
    return fail('build', { status: null, error: e })
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

let currentChild = null

function log(msg) {
  process.stderr.write(`[bench ${fmtDuration(Date.now() - START)}] ${msg}\n`)
}

function maxOldSpace(mb) {
  return Math.max(512, mb * 4)
}

/** Runs bench/child.js with `config`; resolves with its BENCH_RESULT object or an error. */
function runChild(config, { nodeArgs = [], env = {}, cwd, timeoutMs = 30 * 60000, onLine } = {}) {
  return new Promise((resolve) => {
    const args = [
      '--expose-gc',
      `--max-old-space-size=${maxOldSpace(config.mb || 16)}`,
      ...nodeArgs,
      CHILD,
      JSON.stringify(config),
    ]
    const child = spawn(process.execPath, args, {
      cwd: cwd || REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    currentChild = child
    let out = ''
    let err = ''
    let pending = ''
    child.stdout.on('data', (d) => {
      out += d
      pending += d
      let i
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i)
        pending = pending.slice(i + 1)
        if (onLine) onLine(line, child)
      }
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs / 1000} s)`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      currentChild = null
      const res = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (res) return resolve({ ok: true, result: JSON.parse(res.slice('BENCH_RESULT '.length)) })
      const e = out.split('\n').find((l) => l.startsWith('BENCH_ERROR '))
      let message = e
        ? JSON.parse(e.slice('BENCH_ERROR '.length)).message.split('\n')[0]
        : `exit ${code}${signal ? ' ' + signal : ''}`
      const tail = err.trim().split('\n').filter(Boolean).slice(-2).join(' | ')
      if (!e && tail) message += `: ${tail}`
      resolve({ ok: false, error: message.slice(0, 300) })
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Signal latency while the JS thread spins

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * One spin run: the child prints READY and spins `spinMs`; `delayMs` later the parent sends
 * SIGUSR2 and polls the directory every ~2 ms for the dump's file to appear (every method
 * creates its file before generating the snapshot).
 */
async function spinOnce(kind, dir, { spinMs, delayMs, heapdumpDir }) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  let killAt = 0
  let appearedAt = 0
  let poller = null
  const env = {}
  const nodeArgs = []
  if (kind === 'heapsnap') env.NODE_HEAPDUMP_OPTIONS = 'nosignal' // installSignalHandler replaces it anyway
  if (kind === 'heapdump') env.NODE_HEAPDUMP_OPTIONS = 'signal'
  if (kind === 'builtin') nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`)
  const config = { mode: 'spin', kind, shape: 'small-objects', mb: 5, dir, spinMs, heapdumpDir }
  const res = await runChild(config, {
    nodeArgs,
    env,
    cwd: dir,
    timeoutMs: 180000,
    onLine(line, child) {
      if (!line.startsWith('READY')) return
      setTimeout(() => {
        killAt = Date.now()
        child.kill('SIGUSR2')
        poller = setInterval(() => {
          if (appearedAt) return
          if (fs.readdirSync(dir).some((f) => f.includes('heapsnapshot'))) {
            appearedAt = Date.now()
            clearInterval(poller)
          }
        }, 2)
      }, delayMs)
    },
  })
  if (poller) clearInterval(poller)
  if (!res.ok) return { kind, ok: false, error: res.error }
  const out = {
    kind,
    ok: true,
    appearMs: appearedAt ? appearedAt - killAt : null,
    spinEndAfterKillMs: res.result.spinEnd - killAt,
  }
  if (kind === 'heapsnap') {
    const side = fs.readdirSync(dir).find((f) => f.endsWith('.heapsnapshot.gz.json'))
    if (!side) return { kind, ok: false, error: 'no sidecar' }
    const j = JSON.parse(fs.readFileSync(path.join(dir, side), 'utf8'))
    out.signalLatencyMs = j.signalLatencyMs
    out.startedBeforeSpinEnd = Date.parse(j.startTime) <= res.result.spinEnd
    out.stallMs = j.stallMs
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return out
}

// ---------------------------------------------------------------------------------------------
// Reference compressors on the built-in's raw file (what other deflate/zstd builds get)

const REFERENCE_TOOLS = [
  { id: 'gzip -1', cmd: 'gzip', args: ['-1', '-c'] },
  { id: 'gzip -6', cmd: 'gzip', args: ['-6', '-c'] },
  { id: 'zstd -1', cmd: 'zstd', args: ['-1', '-q', '-c'] },
]

function haveTool(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0
}

/** Compresses `file` with each available tool (single-threaded, output counted, not stored). */
function referenceCompress(file) {
  const out = {}
  for (const t of REFERENCE_TOOLS) {
    if (!haveTool(t.cmd)) continue
    const t0 = Date.now()
    const r = spawnSync('sh', ['-c', `"$0" "$@" | wc -c`, t.cmd, ...t.args, file], { encoding: 'utf8' })
    if (r.status === 0) out[t.id] = { bytes: Number(r.stdout.trim()), ms: Date.now() - t0 }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const m = v.length >> 1
  return v.length & 1 ? v[m] : (v[m - 1] + v[m]) / 2
}

function fmtMs(x) {
  if (x == null) return '—'
  return x >= 100 ? x.toFixed(0) : x.toFixed(1)
}
function fmtNum(x, d = 2) {
  return x == null ? '—' : x.toFixed(d)
}
function fmtMB(bytes) {
  if (bytes == null) return '—'
  const mb = bytes / 1e6
  return mb >= 100 ? mb.toFixed(0) : mb >= 10 ? mb.toFixed(1) : mb.toFixed(2)
}
function fmtMiB(bytes, signed = false) {
  if (bytes == null) return '—'
  const v = bytes / 1048576
  const s = Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)
  return signed && v >= 0 ? `+${s}` : s
}
function heapName(h) {
  return `${h.shape} ${h.mb} MB`
}
function fmtDuration(ms) {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

function machineInfo() {
  let cpu = os.cpus()[0]?.model || 'unknown'
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (m) cpu = m[1].trim()
  } catch {}
  let heapsnap = {}
  try {
    const c = spawnSync(process.execPath, ['-p', `JSON.stringify(require(${JSON.stringify(REPO)}).capabilities())`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_HEAPDUMP_OPTIONS: 'nosignal' },
    })
    heapsnap = JSON.parse(c.stdout)
  } catch {}
  let commit = ''
  try {
    commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim()
  } catch {}
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    heapsnapVersion: heapsnap.version,
    engine: heapsnap.engine,
    commit,
  }
}

// ---------------------------------------------------------------------------------------------
// Aggregation

function aggregate(heap, runs, methods) {
  const by = (m) => runs.filter((r) => r.method === m)
  const base = by('builtin')
  const baseOk = base.filter((r) => r.ok)
  const baseByRep = new Map(baseOk.map((r) => [r.rep, r.result]))
  const rows = []
  for (const m of methods) {
    const rs = by(m.id)
    if (!rs.length && m.maxMb) continue // not run on this heap (size-limited diagnostic)
    const ok = rs.filter((r) => r.ok).map((r) => r.result)
    const row = {
      method: m.id,
      label: m.label,
      n: ok.length,
      attempts: rs.length,
      errors: rs.filter((r) => !r.ok).map((r) => r.error),
    }
    if (ok.length) {
      const med = (k) => median(ok.map((x) => x[k]))
      Object.assign(row, {
        maxGapMs: med('maxGapMs'),
        stallMs: med('stallMs'),
        durableMs: med('durableMs'),
        bytes: med('bytes'),
        rawBytes: med('rawBytes'),
        rssGrowth: med('rssGrowth'),
        rawMBps: med('rawMBps'),
        cpuMs: med('cpuMs'),
        heapUsed: med('heapUsed'),
        units: ok[0].units,
      })
      // Ratios against the built-in: paired by repeat (the two ran back to back, so they saw
      // similar contention), then the median over repeats.
      const paired = rs.filter((r) => r.ok && baseByRep.has(r.rep))
      row.stallRatio = median(paired.map((r) => r.result.maxGapMs / baseByRep.get(r.rep).maxGapMs))
      row.bytesRatio = median(paired.map((r) => baseByRep.get(r.rep).bytes / r.result.bytes))
      row.ownCompression = median(ok.map((x) => x.rawBytes / x.bytes))
      // heapsnap's own stallMs against the built-in's blocking call time (both exclude timer jitter)
      row.reportedRatio = median(
        paired.filter((r) => r.result.stallMs != null).map((r) => r.result.stallMs / baseByRep.get(r.rep).callMs),
      )
      row.rssDelta = median(paired.map((r) => r.result.rssGrowth - baseByRep.get(r.rep).rssGrowth))
    }
    rows.push(row)
  }
  return { heap, rows, runs }
}

/** gzip (default level)'s max-gap stall ÷ the built-in's in a process with heapsnap loaded, paired by repeat. */
function loadedRatio(agg) {
  const runs = agg.runs || []
  const base = new Map(runs.filter((r) => r.method === 'builtin-loaded' && r.ok).map((r) => [r.rep, r.result]))
  if (!base.size) return null
  return median(
    runs
      .filter((r) => r.method === 'heapsnap-gzip' && r.ok && base.has(r.rep))
      .map((r) => r.result.maxGapMs / base.get(r.rep).maxGapMs),
  )
}

function verdicts(agg) {
  const b = agg.rows.find((r) => r.method === 'builtin')
  const g = agg.rows.find((r) => r.method === 'heapsnap-gzip')
  if (!b || !b.n || !g || !g.n) return null
  const v = {
    stall: { value: g.stallRatio, reported: g.reportedRatio, pass: g.stallRatio <= TARGETS.stallRatio },
    bytes: { value: g.ownCompression, vsBuiltin: g.bytesRatio, pass: g.ownCompression >= TARGETS.bytesRatio },
    rss: { value: g.rssDelta / 1048576, pass: g.rssDelta / 1048576 <= TARGETS.rssDeltaMiB },
  }
  v.line =
    `${heapName(agg.heap)}: ` +
    `stall gzip/built-in ${fmtNum(v.stall.value)} (≤ ${TARGETS.stallRatio}) ${v.stall.pass ? 'PASS' : 'FAIL'}; ` +
    `raw/written ${fmtNum(v.bytes.value, 1)} (≥ ${TARGETS.bytesRatio}) ${v.bytes.pass ? 'PASS' : 'FAIL'}; ` +
    `RSS growth vs built-in ${fmtMiB(g.rssDelta, true)} MiB (≤ +${TARGETS.rssDeltaMiB}) ${v.rss.pass ? 'PASS' : 'FAIL'}`
  return v
}

// ---------------------------------------------------------------------------------------------
// Report

function renderReport(ctx) {
  const { machine, aggs, heapdump, signal, args, elapsedMs, load, plan } = ctx
  const L = []
  L.push('# heapsnap-native benchmark results')
  L.push('')
  L.push(
    `Generated by \`npm run bench${args.quick ? ' -- --quick' : ''}\` (bench/run.js), started ${ctx.date || new Date(START).toISOString()}.`,
  )
  L.push('')
  L.push('| | |')
  L.push('|---|---|')
  L.push(`| machine | ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB.toFixed(1)} GiB RAM, ${machine.os} |`)
  L.push(`| Node | ${machine.node} (V8 ${machine.v8}) |`)
  L.push(
    `| heapsnap-native | ${machine.heapsnapVersion || '?'} (engine \`${machine.engine || '?'}\`${machine.commit ? `, commit ${machine.commit}` : ''}) |`,
  )
  L.push(
    `| heapdump | ${heapdump.ok ? `${HEAPDUMP_VERSION}, ${heapdump.note}` : `**not measured**: ${heapdump.reason}`} |`,
  )
  L.push(
    `| run | ${fmtDuration(elapsedMs)} total; repeats per heap: ${plan.map((h) => `${h.name} ×${h.repeats}`).join(', ')} |`,
  )
  L.push(
    `| load average (1 min) at each child start | min ${fmtNum(load.min)}, median ${fmtNum(load.median)}, max ${fmtNum(load.max)} |`,
  )
  L.push('')
  L.push(
    '**Contention caveat.** This machine has 2 cores and another engineer may have been running ' +
      'tests on them during the run (see the load average above). Absolute times are therefore ' +
      'noisy; the methods alternate (A B C … A B C …) on the same heap, each in a fresh process, ' +
      'and every ratio is paired with the built-in run of the same repeat, so the ratios are the ' +
      'figures to read.',
  )
  L.push('')
  L.push('## Heaps')
  L.push('')
  L.push(
    '| heap | shape | heapUsed after building (MiB, built-in run) | units | raw snapshot (MB): built-in process | heapsnap process | repeats |',
  )
  L.push('|---|---|---|---|---|---|---|')
  for (const agg of aggs) {
    const b = agg.rows.find((r) => r.method === 'builtin')
    const desc =
      {
        'small-objects': 'many small objects `{ id, kind, parent, label }`',
        strings: 'long strings: log-like text, 256 B – 8 KiB each',
        'number-arrays': 'arrays of numbers: doubles / small integers, 64–1024 each',
        'maps-sets': 'Maps (string keys → small objects) and Sets of integers, 8–64 entries',
      }[agg.heap.shape] || agg.heap.shape
    const hn = agg.rows.find((r) => r.method === 'heapsnap-none')
    L.push(
      `| ${heapName(agg.heap)} | ${desc} | ${b && b.n ? fmtMiB(b.heapUsed) : '—'} | ${b && b.n ? b.units : '—'} | ${b && b.n ? fmtMB(b.bytes) : '—'} | ${hn && hn.n ? fmtMB(hn.rawBytes) : '—'} | ${agg.heap.repeats} |`,
    )
  }
  L.push('')
  L.push(
    "The heapsnap process's snapshot is a little larger: its own module (index.js, the napi-rs loader) is in the heap.",
  )
  L.push('')
  L.push('## Results (medians)')
  L.push('')
  L.push(
    '| heap | method | n | JS stall: max 1 ms-timer gap (ms) | stallMs reported | until durable (ms) | on disk (MB) | raw/written | peak RSS growth (MiB) | raw MB/s | stall ratio vs built-in | RSS Δ vs built-in (MiB) |',
  )
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const agg of aggs) {
    const heapCell = heapName(agg.heap)
    for (const r of agg.rows) {
      if (!r.n) {
        const why =
          r.method === 'heapdump' && !heapdump.ok
            ? `not built: ${heapdump.reason}`
            : `failed: ${r.errors[0] || 'not run'}`
        L.push(`| ${heapCell} | ${r.label} | 0 | ${why.replace(/\|/g, '/')} | | | | | | | | |`)
        continue
      }
      const isBase = r.method === 'builtin'
      const n = r.n === r.attempts ? String(r.n) : `${r.n}/${r.attempts}`
      L.push(
        `| ${heapCell} | ${r.label} | ${n} | ${fmtMs(r.maxGapMs)} | ${fmtMs(r.stallMs)} | ${fmtMs(r.durableMs)} | ${fmtMB(r.bytes)} | ` +
          `${fmtNum(r.ownCompression)} | ${fmtMiB(r.rssGrowth)} | ${fmtNum(r.rawMBps, 1)} | ${isBase ? '1 (baseline)' : fmtNum(r.stallRatio)} | ` +
          `${isBase ? '0 (baseline)' : fmtMiB(r.rssDelta, true)} |`,
      )
    }
  }
  L.push('')
  L.push(
    'Columns: see bench/README.md. In short: *JS stall* is the longest gap between two callbacks of a ' +
      '`setInterval(…, 1)` timer around the dump (the event loop was blocked that long); *stallMs reported* is ' +
      "heapsnap's own figure; *until durable* runs from the call until the file is fsynced (the harness fsyncs " +
      "after methods that do not, and counts it); *raw/written* is the method's raw snapshot JSON ÷ its bytes on disk " +
      '(the compression ratio; the built-in-raw ÷ written ratio is in the targets table); *peak RSS growth* is VmHWM after the dump minus VmHWM before it (VmHWM reset to the ' +
      'current RSS just before, via /proc/self/clear_refs); *raw MB/s* is raw snapshot bytes ÷ time until durable; ' +
      'ratios and deltas are paired with the built-in run of the same repeat, then the median is taken. MB = 10^6 bytes, MiB = 2^20.',
  )
  L.push('')
  L.push("## Targets (heapsnap `snapshot({ compress: 'gzip' })`, default level 2, against the built-in)")
  L.push('')
  L.push(
    `Stall ≤ ${TARGETS.stallRatio} × the built-in's; raw bytes / written bytes ≥ ${TARGETS.bytesRatio}; peak RSS growth ≤ the built-in's + ${TARGETS.rssDeltaMiB} MiB.`,
  )
  L.push(
    "The verdict uses the max-gap stall ratio (the same measure for both methods), gzip's own raw ÷ written bytes (the " +
      "built-in's raw file is a little smaller, since heapsnap's own module is not in its heap: shown for reference), and the " +
      'median of the paired RSS-growth differences.',
  )
  L.push('')
  L.push(
    '| heap | stall ratio (max-gap) | stallMs ÷ built-in call time | | raw/written | built-in raw ÷ written | | RSS growth Δ (MiB) | | stall ratio vs the built-in with heapsnap loaded (diagnostic) |',
  )
  L.push('|---|---|---|---|---|---|---|---|---|---|')
  for (const agg of aggs) {
    const v = verdicts(agg)
    if (!v) {
      L.push(`| ${heapName(agg.heap)} | n/a | | | n/a | | | n/a | | |`)
      continue
    }
    const pf = (x) => (x.pass ? 'PASS' : '**FAIL**')
    L.push(
      `| ${heapName(agg.heap)} | ${fmtNum(v.stall.value)} | ${fmtNum(v.stall.reported)} | ${pf(v.stall)} | ${fmtNum(v.bytes.value, 2)} | ${fmtNum(v.bytes.vsBuiltin, 2)} | ${pf(v.bytes)} | ${v.rss.value >= 0 ? '+' : ''}${fmtNum(v.rss.value, 1)} | ${pf(v.rss)} | ${fmtNum(loadedRatio(agg))} |`,
    )
  }
  L.push('')
  // The same raw snapshot through other compressors: is the ratio the data or the implementation?
  const refRows = []
  for (const agg of aggs) {
    const run = ctx.allRuns.find(
      (r) =>
        r.heap === agg.heap.name && r.method === 'builtin' && r.ok && r.reference && Object.keys(r.reference).length,
    )
    if (run) refRows.push({ agg, run })
  }
  if (refRows.length) {
    const tools = REFERENCE_TOOLS.map((t) => t.id).filter((id) => refRows.some((x) => x.run.reference[id]))
    L.push('### The same raw snapshot through other compressors')
    L.push('')
    L.push(
      "The built-in's raw file of the first repeat, compressed by the system's tools (single-threaded; ratio, and time " +
        "in ms). heapsnap uses flate2's default deflate backend (miniz_oxide); its figures are the medians above.",
    )
    L.push('')
    L.push(`| heap | heapsnap gzip (default, 2) | heapsnap gzip 6 | ${tools.join(' | ')} |`)
    L.push(`|---|---|---|${tools.map(() => '---|').join('')}`)
    for (const { agg, run } of refRows) {
      const own = (id) => {
        const r = agg.rows.find((x) => x.method === id)
        return r && r.n ? `${fmtNum(r.ownCompression)}×` : '—'
      }
      const cells = tools.map((id) => {
        const t = run.reference[id]
        return t ? `${fmtNum(run.result.bytes / t.bytes)}× (${t.ms} ms)` : '—'
      })
      L.push(`| ${heapName(agg.heap)} | ${own('heapsnap-gzip')} | ${own('heapsnap-gzip6')} | ${cells.join(' | ')} |`)
    }
    L.push('')
  }
  // Stall with and without compression: does the writer thread slow the serializer?
  L.push("### heapsnap's reported stall with and without compression")
  L.push('')
  L.push(
    "Same heap, medians of `stallMs`; the bounded channel (8 MiB in flight) makes V8's serializer wait when the writer thread falls behind, so a slower compressor shows up here.",
  )
  L.push('')
  L.push(
    "*CPU ms* is the process's user + system CPU time (all threads) from the call until the file is durable: with " +
      "fewer free cores than busy threads, the writer thread's compression competes with the JS thread for a core.",
  )
  L.push('')
  L.push(
    "| heap | stallMs `compress: 'none'` | gzip default (2) | gzip level 6 | gzip 2 / none | gzip 6 / none | CPU ms: built-in | none | gzip 2 | gzip 6 |",
  )
  L.push('|---|---|---|---|---|---|---|---|---|---|')
  for (const agg of aggs) {
    const g = (id) => agg.rows.find((r) => r.method === id)
    const n = g('heapsnap-none')
    const g1 = g('heapsnap-gzip')
    const g6 = g('heapsnap-gzip6')
    if (!n || !n.n) continue
    const ratio = (x) => (x && x.n ? fmtNum(x.stallMs / n.stallMs) : '—')
    const cpu = (x) => (x && x.n ? fmtMs(x.cpuMs) : '—')
    L.push(
      `| ${heapName(agg.heap)} | ${fmtMs(n.stallMs)} | ${g1 && g1.n ? fmtMs(g1.stallMs) : '—'} | ${g6 && g6.n ? fmtMs(g6.stallMs) : '—'} | ${ratio(g1)} | ${ratio(g6)} | ${cpu(g('builtin'))} | ${cpu(n)} | ${cpu(g1)} | ${cpu(g6)} |`,
    )
  }
  L.push('')
  if (signal) {
    L.push('## Signal → dump start while JS spins')
    L.push('')
    L.push(
      `A child with a ~5 MB heap spins in \`while (Date.now() < end) {}\` for ${signal.spinMs} ms; ${signal.delayMs} ms after it says READY, ` +
        'the parent sends SIGUSR2. For heapsnap (`installSignalHandler({ dir, quiet: true })`) the figure is the ' +
        "sidecar's `signalLatencyMs`. For contrast, heapdump's own SIGUSR2 handler and Node's `--heapsnapshot-signal=SIGUSR2`: " +
        'these have no such figure, so the parent polls the directory every ~2 ms and reports when the file appears ' +
        '(both create it before generating the snapshot). The same poll is shown for heapsnap.',
    )
    L.push('')
    L.push(
      '| handler | n | signal → dump start (ms): median | min | max | signal → file appears (ms), median | dump started before the spin ended |',
    )
    L.push('|---|---|---|---|---|---|---|')
    for (const kind of ['heapsnap', 'heapdump', 'builtin']) {
      const rs = signal.runs.filter((r) => r.kind === kind)
      if (!rs.length) continue
      const ok = rs.filter((r) => r.ok)
      const name = {
        heapsnap: 'heapsnap `installSignalHandler()`',
        heapdump: `heapdump ${HEAPDUMP_VERSION} (SIGUSR2 on require)`,
        builtin: 'node `--heapsnapshot-signal=SIGUSR2`',
      }[kind]
      if (!ok.length) {
        L.push(`| ${name} | 0 | failed: ${(rs[0].error || '').replace(/\|/g, '/')} | | | | |`)
        continue
      }
      const lat = ok.map((r) => r.signalLatencyMs).filter((x) => x != null)
      const app = median(ok.map((r) => r.appearMs))
      let before
      if (kind === 'heapsnap') before = `${ok.filter((r) => r.startedBeforeSpinEnd).length}/${ok.length}`
      else
        before = `${ok.filter((r) => r.appearMs != null && r.appearMs < r.spinEndAfterKillMs).length}/${ok.length} (spin ended ${fmtMs(median(ok.map((r) => r.spinEndAfterKillMs)))} ms after the signal)`
      L.push(
        `| ${name} | ${ok.length}${ok.length < rs.length ? `/${rs.length}` : ''} | ${lat.length ? fmtNum(median(lat)) : '—'} | ${lat.length ? fmtNum(Math.min(...lat)) : '—'} | ${lat.length ? fmtNum(Math.max(...lat)) : '—'} | ${fmtMs(app)} | ${before} |`,
      )
    }
    L.push('')
  }
  L.push('## Method notes')
  L.push('')
  L.push(
    "- Each measurement is a fresh `node --expose-gc --max-old-space-size=…` process: build the heap (deterministic: seeded PRNG, fixed counts), `gc()` twice, reset VmHWM, start the 1 ms timer, wait 20 ms, run the one method, wait 50 ms, stop the timer, read VmHWM, stat and delete the file. Only the measured method's module is loaded (after a first `require`, before the heap is built).",
  )
  L.push(
    "- `v8.writeHeapSnapshot`, heapdump, heapsnap `writeSnapshot()` and the inspector session are synchronous; they do not fsync (heapsnap's do), so the harness fsyncs the file after they return and counts that in *until durable*.",
  )
  L.push(
    '- The inspector method is an in-thread `inspector.Session`: `HeapProfiler.addHeapSnapshotChunk` events appended to a file with `fs.writeSync` as they arrive, then `HeapProfiler.takeHeapSnapshot` (what Clinic / @nearform/heap-profiler do; heap-profiler queues the chunks in a SonicBoom stream instead, which can hold them in memory until the synchronous dispatch returns; that variant is not measured here).',
  )
  L.push('- heapsnap `writeSnapshot()` writes plain JSON (no `.gz` suffix), like heapdump.')
  L.push(
    "- *`v8.writeHeapSnapshot`, heapsnap loaded* (diagnostic, 50 MB heaps): the built-in in a process that has `require`d heapsnap, so its heap holds heapsnap's module (0.2–0.5 MB more snapshot) exactly like heapsnap's own runs: comparing against it separates that footprint from the snapshot mechanism, which matters when the whole snapshot is a few MB.",
  )
  L.push(
    '- Repeats: fewer for the big heaps (a 500 MB heap of small objects takes about 1.5 min per snapshot and ~12 GiB of peak RSS here), so their figures are single runs (500 MB) or medians of two (200 MB); every method still runs on them.',
  )
  L.push(`- Files are written to a temporary directory under \`${os.tmpdir()}\` and deleted after each measurement.`)
  const errs = []
  for (const agg of aggs)
    for (const r of agg.rows) for (const e of r.errors) errs.push(`${agg.heap.name} ${r.method}: ${e}`)
  if (errs.length) {
    L.push('')
    L.push('## Failed runs')
    L.push('')
    for (const e of errs) L.push(`- ${e.replace(/\n/g, ' ')}`)
  }
  L.push('')
  L.push('<details><summary>Every run (raw figures)</summary>')
  L.push('')
  L.push(
    '| heap | repeat | method | heapUsed (MiB) | max gap (ms) | stallMs | durable (ms) | CPU (ms) | on disk (bytes) | raw (bytes) | RSS growth (MiB) | load avg |',
  )
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const run of ctx.allRuns) {
    if (!run.ok) {
      L.push(
        `| ${run.heap} | ${run.rep} | ${run.method} | failed: ${String(run.error).replace(/\|/g, '/')} | | | | | | | | ${fmtNum(run.load)} |`,
      )
      continue
    }
    const x = run.result
    L.push(
      `| ${run.heap} | ${run.rep} | ${run.method} | ${fmtMiB(x.heapUsed)} | ${fmtMs(x.maxGapMs)} | ${fmtMs(x.stallMs)} | ${fmtMs(x.durableMs)} | ${fmtMs(x.cpuMs)} | ${x.bytes} | ${x.rawBytes} | ${fmtMiB(x.rssGrowth)} | ${fmtNum(run.load)} |`,
    )
  }
  L.push('')
  L.push('</details>')
  L.push('')
  return L.join('\n')
}

// ---------------------------------------------------------------------------------------------

const START = Date.now()

async function main() {
  const args = parseArgs(process.argv.slice(2))
  if (args.help) {
    process.stdout.write(
      fs
        .readFileSync(__filename, 'utf8')
        .split('\n')
        .slice(3, 11)
        .map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n') + '\n',
    )
    return
  }
  if (args.render) {
    // Re-render a report from the raw runs a previous run saved (no measurement).
    const state = JSON.parse(fs.readFileSync(args.render, 'utf8'))
    finish(state, args.out || path.join(os.tmpdir(), 'heapsnap-bench-RESULTS-rendered.md'))
    return
  }
  let plan = (args.quick ? QUICK_HEAPS : FULL_HEAPS).map((h) => ({ ...h }))
  if (args.heaps) {
    const all = [...FULL_HEAPS, ...QUICK_HEAPS]
    const picked = []
    for (const tok of args.heaps) {
      const m = /^(.+)-(\d+)$/.exec(tok)
      let hs = plan.filter((h) => h.name === tok || h.shape === tok)
      if (!hs.length) hs = all.filter((h) => h.name === tok)
      if (!hs.length && m)
        hs = [
          { name: tok, shape: m[1], mb: Number(m[2]), repeats: Number(m[2]) >= 500 ? 1 : Number(m[2]) >= 200 ? 2 : 5 },
        ]
      if (!hs.length)
        throw new Error(
          `unknown heap ${tok} (e.g. small-objects, strings, number-arrays, maps-sets, or small-objects-200)`,
        )
      for (const h of hs) if (!picked.some((p) => p.name === h.name)) picked.push({ ...h })
    }
    plan = picked
  }
  if (args.repeats) for (const h of plan) h.repeats = args.repeats
  let methods = METHODS
  if (args.methods) {
    for (const m of args.methods)
      if (!METHODS.some((x) => x.id === m))
        throw new Error(`unknown method ${m} (${METHODS.map((x) => x.id).join(', ')})`)
    methods = METHODS.filter((m) => m.id === 'builtin' || args.methods.includes(m.id))
  }
  const defaultRun = !args.quick && !args.heaps && !args.methods && !args.repeats
  const outFile =
    args.out ||
    (defaultRun
      ? path.join(__dirname, 'RESULTS.md')
      : path.join(os.tmpdir(), `heapsnap-bench-RESULTS${args.quick ? '-quick' : ''}.md`))

  // The addon must load (another engineer may be rebuilding it: retry for a few minutes).
  for (let i = 0; ; i++) {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(REPO)})`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_HEAPDUMP_OPTIONS: 'nosignal' },
    })
    if (r.status === 0) break
    if (i >= 5) throw new Error(`require('heapsnap-native') fails: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`)
    log('require of the addon failed (being rebuilt?); retrying in 60 s')
    await sleep(60000)
  }

  const machine = machineInfo()
  const heapdump =
    methods.some((m) => m.id === 'heapdump') || args.signal
      ? ensureHeapdump(args.rebuildHeapdump)
      : { ok: false, reason: 'not selected' }
  log(heapdump.ok ? `heapdump: ${heapdump.note}` : `heapdump: not available: ${heapdump.reason}`)

  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-bench-'))
  const cleanup = () => fs.rmSync(tmpRoot, { recursive: true, force: true })
  process.on('SIGINT', () => {
    if (currentChild) currentChild.kill('SIGKILL')
    cleanup()
    process.exit(130)
  })

  // A method with maxMb runs only on heaps up to that size, unless --methods names it.
  const appliesTo = (m, heap) => !m.maxMb || heap.mb <= m.maxMb || (args.methods && args.methods.includes(m.id))
  const total = plan.reduce((s, h) => s + h.repeats * methods.filter((m) => appliesTo(m, h)).length, 0)
  log(
    `plan: ${plan.map((h) => `${h.name}×${h.repeats}`).join(', ')}; methods: ${methods.map((m) => m.id).join(', ')}; ${total} runs; results → ${outFile}`,
  )
  const allRuns = []
  const loads = []
  const aggs = []
  // Raw runs are saved as they come, so a report can be re-rendered (--render) or a crash
  // still leaves the figures.
  const stateFile = path.join(os.tmpdir(), `heapsnap-bench-runs${args.quick ? '-quick' : ''}.json`)
  const state = {
    date: new Date(START).toISOString(),
    machine,
    heapdump,
    args,
    plan,
    methodIds: methods.map((m) => m.id),
    allRuns,
    signal: null,
    elapsedMs: 0,
  }
  const saveState = () => {
    state.elapsedMs = Date.now() - START
    fs.writeFileSync(stateFile, JSON.stringify(state, null, 1))
  }
  log(`raw runs saved to ${stateFile} (re-render with: node bench/run.js --render ${stateFile} --out FILE)`)
  let done = 0
  for (const heap of plan) {
    const dir = path.join(tmpRoot, heap.name)
    fs.mkdirSync(dir, { recursive: true })
    try {
      const st = fs.statfsSync(tmpRoot)
      const free = st.bavail * st.bsize
      if (free < heap.mb * 4 * 1e6 + 1e9) log(`warning: only ${fmtMB(free)} MB free in ${tmpRoot}`)
    } catch {}
    const runs = []
    for (let rep = 1; rep <= heap.repeats; rep++) {
      for (const m of methods.filter((x) => appliesTo(x, heap))) {
        done++
        const load = os.loadavg()[0]
        loads.push(load)
        let res
        if (m.id === 'heapdump' && !heapdump.ok) res = { ok: false, error: `not built: ${heapdump.reason}` }
        else {
          const keep = m.id === 'builtin' && rep === 1 && args.reference
          res = await runChild(
            {
              mode: 'method',
              method: m.id,
              shape: heap.shape,
              mb: heap.mb,
              dir,
              heapdumpDir: heapdump.ok ? heapdump.dir : null,
              keep,
            },
            { env: { NODE_HEAPDUMP_OPTIONS: 'nosignal' } },
          )
          if (res.ok && res.result.keptFile) {
            res.reference = referenceCompress(res.result.keptFile)
            log(
              `reference compressors on the built-in's raw file: ${
                Object.entries(res.reference)
                  .map(([k, v]) => `${k} ${fmtNum(res.result.bytes / v.bytes)}× in ${v.ms} ms`)
                  .join(', ') || 'none available'
              }`,
            )
          }
        }
        const run = { heap: heap.name, rep, method: m.id, load, ...res }
        runs.push(run)
        allRuns.push(run)
        saveState()
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true }) // leftovers of a failed run
        if (res.ok) {
          const x = res.result
          log(
            `[${done}/${total}] ${heap.name} r${rep} ${m.id}: gap ${fmtMs(x.maxGapMs)} ms${x.stallMs != null ? ` (stallMs ${fmtMs(x.stallMs)})` : ''}, durable ${fmtMs(x.durableMs)} ms, ${fmtMB(x.bytes)} MB, RSS +${fmtMiB(x.rssGrowth)} MiB, load ${load.toFixed(2)}`,
          )
        } else log(`[${done}/${total}] ${heap.name} r${rep} ${m.id}: FAILED ${res.error}`)
      }
    }
    const agg = aggregate(heap, runs, methods)
    aggs.push(agg)
    const v = verdicts(agg)
    if (v) log(`verdict ${v.line}`)
  }

  let signal = null
  if (args.signal) {
    signal = { spinMs: args.quick ? 1500 : 3000, delayMs: args.quick ? 300 : 500, runs: [] }
    const reps = { heapsnap: args.quick ? 2 : 5, heapdump: args.quick ? 1 : 3, builtin: args.quick ? 1 : 3 }
    for (const kind of ['heapsnap', 'heapdump', 'builtin']) {
      if (kind === 'heapdump' && !heapdump.ok) {
        signal.runs.push({ kind, ok: false, error: `not built: ${heapdump.reason}` })
        continue
      }
      for (let i = 0; i < reps[kind]; i++) {
        const r = await spinOnce(kind, path.join(tmpRoot, `spin-${kind}`), {
          spinMs: signal.spinMs,
          delayMs: signal.delayMs,
          heapdumpDir: heapdump.dir,
        })
        signal.runs.push(r)
        log(
          `signal ${kind} #${i + 1}: ${r.ok ? `${r.signalLatencyMs != null ? `signalLatencyMs ${r.signalLatencyMs}, ` : ''}file after ${r.appearMs} ms (spin ended ${r.spinEndAfterKillMs} ms after the signal)` : `FAILED ${r.error}`}`,
        )
      }
    }
  }
  cleanup()
  state.signal = signal
  state.elapsedMs = Date.now() - START
  saveState()
  finish(state, outFile)
}

/** Aggregates the runs in `state`, writes the report to `outFile` and prints it. */
function finish(state, outFile) {
  const methods = METHODS.filter((m) => state.methodIds.includes(m.id))
  const aggs = state.plan.map((heap) =>
    aggregate(
      heap,
      state.allRuns.filter((r) => r.heap === heap.name),
      methods,
    ),
  )
  const loads = state.allRuns.map((r) => r.load)
  const load = { min: Math.min(...loads), median: median(loads), max: Math.max(...loads) }
  const report = renderReport({ ...state, aggs, load })
  fs.writeFileSync(outFile, report + '\n')
  process.stdout.write(report + '\n\n')
  process.stdout.write("Verdicts (heapsnap snapshot({ compress: 'gzip' }) default level 2 vs v8.writeHeapSnapshot):\n")
  for (const agg of aggs) {
    const v = verdicts(agg)
    process.stdout.write(v ? `  ${v.line}\n` : `  ${heapName(agg.heap)}: n/a (built-in or gzip run missing)\n`)
  }
  process.stdout.write(`\nWrote ${outFile} (run took ${fmtDuration(state.elapsedMs)}).\n`)
}

main().catch((err) => {
  if (currentChild) currentChild.kill('SIGKILL')
  process.stderr.write(`bench: ${err && err.stack ? err.stack : err}\n`)
  process.exitCode = 1
})
