'use strict'

// monitor() and the three-snapshot leak report, on real processes: a leaking service, a service
// whose Buffers grow, a steady one with heavy churn; then `heapsnap leaks` and `leaks()` on the
// leaking service's three snapshots, and bad input.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { tmpdir, ls, NODE, ROOT } = require('./helpers')
const heapsnap = require('..')

/** Runs `body` as a script file (so that allocation sites have a file name) in a new node. */
function runScript(dir, name, body, { timeout = 90_000 } = {}) {
  const file = path.join(dir, name)
  fs.writeFileSync(file, `const heapsnap = require(${JSON.stringify(ROOT)});\n${body}`)
  const res = spawnSync(NODE, [file], { cwd: dir, encoding: 'utf8', timeout })
  const lines = (res.stdout || '').trim().split('\n')
  let json
  try {
    json = JSON.parse(lines[lines.length - 1])
  } catch {}
  return { ...res, json, file }
}

// The leak: Sessions kept in a Map, allocated on one line (the allocation site the report must
// name), next to short-lived garbage. About 2.5 MiB/s of wall time.
const LEAKY = `class Session { constructor(id, blob) { this.id = id; this.blob = blob; this.at = Date.now() } }
const cache = new Map(); let n = 0;
const t0 = Date.now(); const verdicts = []; let last = t0;
// Five Sessions a millisecond of wall time, however late the timer runs on a busy machine.
setInterval(() => { const now = Date.now(); for (let j = 0, k = (now - last) * 5; j < k; j++) { cache.set(n, new Session(n, 'x'.repeat(400) + n)); n++ } last = now }, 20);
setInterval(() => { const junk = []; for (let i = 0; i < 3000; i++) junk.push({ i, s: 'tmp' + i }); }, 10);
heapsnap.monitor({ intervalMs: 200, windowMs: 4000, dir: process.cwd(),
  onVerdict: (v) => verdicts.push({ at: Date.now() - t0, kind: v.kind, confidence: v.confidence, slopes: v.slopes }),
  onReport: (r) => { console.log(JSON.stringify({ at: Date.now() - t0, verdicts, report: r })); process.exit(0) } });
setTimeout(() => { console.log(JSON.stringify({ timeout: true, verdicts })); process.exit(0) }, 60000);
`

let leaky // the leaking service's report, for the CLI test

test(
  'a leaking service: js-heap verdict, three snapshots, the report names the class, the Map and the line',
  { timeout: 120_000 },
  (t) => {
    const dir = tmpdir('leaky')
    const res = runScript(dir, 'leaky.js', LEAKY)
    assert.equal(res.status, 0, res.stderr)
    const out = res.json
    assert.ok(out && !out.timeout, `no report within 60 s: ${res.stdout}\n${res.stderr}`)
    const first = out.verdicts.find((v) => v.kind === 'js-heap')
    t.diagnostic(
      `js-heap verdict after ${first.at} ms (confidence ${first.confidence}, slopes ${JSON.stringify(first.slopes)} MiB/min); report after ${out.at} ms`,
    )
    const r = out.report
    assert.equal(r.snapshots.length, 3)
    for (const s of r.snapshots) assert.ok(fs.existsSync(s), s)
    assert.ok(r.reportPath.endsWith('.json') && fs.existsSync(r.reportPath))
    assert.ok(fs.existsSync(r.reportPath.replace(/\.json$/, '.txt')))
    const top = r.rows[0]
    t.diagnostic(`top row: ${top.className} ×${top.count}, retained ${top.retainedSize} B, path ${top.path}`)
    t.diagnostic(`sites: ${JSON.stringify(top.allocationSites.slice(0, 3))}`)
    assert.equal(top.className, 'Session')
    assert.match(top.path, /Map table → \(array\) \[\]$/, 'the path goes through the Map, slots collapsed')
    assert.ok(top.count > 100)
    assert.deepEqual(
      top.growth.count.slice().sort((a, b) => a - b),
      top.growth.count,
      'the class keeps growing',
    )
    const site = top.allocationSites[0]
    assert.ok(site.url.endsWith('leaky.js'), `top site in the service's file: ${JSON.stringify(site)}`)
    const leakLine =
      fs
        .readFileSync(res.file, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('new Session(')) + 1
    assert.equal(site.line, leakLine, 'the line of the `new`')
    assert.ok(site.bytes > 0)
    leaky = { dir, report: r }
  },
)

test('Buffers that grow: external verdict and no snapshot', { timeout: 60_000 }, () => {
  const dir = tmpdir('external')
  const res = runScript(
    dir,
    'external.js',
    `const keep = []; const verdicts = [];
    setInterval(() => keep.push(Buffer.alloc(256 * 1024, 1)), 40);
    heapsnap.monitor({ intervalMs: 200, windowMs: 3000, dir: process.cwd(), onVerdict: (v) => verdicts.push(v.kind) });
    setTimeout(() => { console.log(JSON.stringify({ verdicts })); process.exit(0) }, 8000);`,
  )
  assert.equal(res.status, 0, res.stderr)
  assert.ok(res.json.verdicts.includes('external'), JSON.stringify(res.json))
  assert.ok(!res.json.verdicts.includes('js-heap'), JSON.stringify(res.json))
  assert.deepEqual(
    ls(dir).filter((f) => f.includes('heapsnapshot')),
    [],
    'no snapshot',
  )
})

test('a steady service with heavy churn: no js-heap verdict', { timeout: 60_000 }, () => {
  const dir = tmpdir('steady')
  const res = runScript(
    dir,
    'steady.js',
    `const verdicts = []; const live = new Map();
    setInterval(() => { for (let i = 0; i < 5000; i++) live.set(i % 2000, { i, s: 'v' + i, a: [i, i + 1] }); const junk = []; for (let i = 0; i < 5000; i++) junk.push('t' + i); }, 10);
    // Watched after a 3 s warm-up: before its first mark-compact a heap still filling up looks
    // like a leak to the heap-floor trend (seen once on Node 18: js-heap with 0 major GCs in
    // the window; a known limit of monitor(), in the README).
    setTimeout(() => {
      const m = heapsnap.monitor({ intervalMs: 200, windowMs: 3000, dir: process.cwd(), onVerdict: (v) => verdicts.push(v.kind) });
      setTimeout(() => { console.log(JSON.stringify({ verdicts, last: m.verdict() })); process.exit(0) }, 10000);
    }, 3000);`,
  )
  assert.equal(res.status, 0, res.stderr)
  assert.ok(!res.json.verdicts.includes('js-heap'), JSON.stringify(res.json))
  assert.equal(res.json.last.kind, 'stable', JSON.stringify(res.json.last))
  assert.deepEqual(
    ls(dir).filter((f) => f.includes('heapsnapshot')),
    [],
  )
})

test('heapsnap leaks and leaks() on the three files give the monitor’s top row', { timeout: 120_000 }, async (t) => {
  if (!leaky) return t.skip('the leaking-service test did not produce a report')
  const [a, b, c] = leaky.report.snapshots
  const api = await heapsnap.leaks(a, b, c)
  assert.equal(api.rows[0].className, leaky.report.rows[0].className)
  assert.equal(api.rows[0].path, leaky.report.rows[0].path)
  assert.equal(api.rows[0].count, leaky.report.rows[0].count)
  const cli = spawnSync(NODE, [path.join(ROOT, 'bin', 'heapsnap.js'), 'leaks', a, b, c, '--json'], { encoding: 'utf8' })
  assert.equal(cli.status, 0, cli.stderr)
  const j = JSON.parse(cli.stdout)
  assert.equal(j.rows[0].className, 'Session')
  assert.equal(j.rows[0].path, api.rows[0].path)
  const text = spawnSync(NODE, [path.join(ROOT, 'bin', 'heapsnap.js'), 'leaks', a, b, c], { encoding: 'utf8' })
  assert.match(text.stdout, /^#1 Session: [\d,]+ objects, retained/m)
})

test(
  'leaks(): wrong order, other processes, missing files and bad options give coded errors',
  { timeout: 120_000 },
  async (t) => {
    if (!leaky) return t.skip('the leaking-service test did not produce a report')
    const [a, b, c] = leaky.report.snapshots
    await assert.rejects(heapsnap.leaks(b, a, c), { code: 'ERR_HEAPSNAP_SNAPSHOT_ORDER' })
    const other = tmpdir('other')
    const o = runScript(
      other,
      'other.js',
      `class Other {}; globalThis.keep = Array.from({ length: 5000 }, () => new Other());
    heapsnap.snapshot({ dir: process.cwd(), sidecar: false }).then((r) => console.log(JSON.stringify(r.path)));`,
    )
    assert.equal(o.status, 0, o.stderr)
    await assert.rejects(
      heapsnap.leaks(o.json, b, c),
      (e) => e.code === 'ERR_HEAPSNAP_NOT_SAME_PROCESS' && /object ids/.test(e.message),
    )
    await assert.rejects(heapsnap.leaks(a, b, path.join(other, 'missing.heapsnapshot')), { code: 'ENOENT' })
    await assert.rejects(heapsnap.leaks(a, b), TypeError)
    assert.throws(() => heapsnap.monitor({ intervalMs: 0 }), RangeError)
    assert.throws(() => heapsnap.monitor({ onReport: 1 }), TypeError)
    assert.throws(() => heapsnap.monitor({ bogus: true }), TypeError)
  },
)
