'use strict'

// Background vs inline serialization (issue 17): the JS thread's stall of one dump, on heaps
// of small objects, against the built-in v8.writeHeapSnapshot. Each method runs in a fresh
// process per repeat; the stall is measured from JavaScript as the longest event-loop block
// (a 1 ms timer's worst lateness) and from the result's stallMs. Not part of the full bench.
//
//   node bench/background.js [--objects 100000,300000] [--repeats 2]

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const SIZES = arg('objects', '100000,300000').split(',').map(Number)
const REPEATS = Number(arg('repeats', '2'))
const METHODS = ['builtin', 'inline', 'background']

function child(method, objects) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-bg-bench-'))
  const code = `
    const heapsnap = require(${JSON.stringify(ROOT)});
    const v8 = require('node:v8');
    globalThis.keep = Array.from({ length: ${objects} }, (_, i) => ({ i, s: 'o' + i, n: null }));
    let worst = 0, last = performance.now();
    const iv = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now }, 1);
    setTimeout(async () => {
      worst = 0; last = performance.now();
      const t0 = performance.now();
      let r = {};
      if (${JSON.stringify(method)} === 'builtin') {
        v8.writeHeapSnapshot(${JSON.stringify(dir)} + '/b.heapsnapshot');
        r.stallMs = performance.now() - t0;
      } else {
        r = await heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, serialize: ${JSON.stringify(method)} });
      }
      const total = performance.now() - t0;
      await new Promise((res) => setTimeout(res, 20));
      clearInterval(iv);
      console.log(JSON.stringify({ stallMs: r.stallMs, generateMs: r.generateMs, serializeMs: r.serializeMs, mode: r.serialize, blockedMs: worst, totalMs: total }));
    }, 200);
  `
  const res = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 600_000 })
  fs.rmSync(dir, { recursive: true, force: true })
  if (res.status !== 0) throw new Error(`${method} ${objects}: ${res.stderr}`)
  return JSON.parse(res.stdout.trim().split('\n').pop())
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rows = []
for (const objects of SIZES) {
  const runs = Object.fromEntries(METHODS.map((m) => [m, []]))
  for (let r = 0; r < REPEATS; r++) for (const m of METHODS) runs[m].push(child(m, objects))
  const builtin = median(runs.builtin.map((x) => x.blockedMs))
  for (const m of METHODS) {
    const blocked = median(runs[m].map((x) => x.blockedMs))
    rows.push({
      objects,
      method: m,
      blockedMs: Math.round(blocked),
      stallMs: Math.round(median(runs[m].map((x) => x.stallMs))),
      generateMs: m === 'builtin' ? '' : Math.round(median(runs[m].map((x) => x.generateMs))),
      serializeMs: m === 'builtin' ? '' : Math.round(median(runs[m].map((x) => x.serializeMs))),
      vsBuiltin: (blocked / builtin).toFixed(2),
    })
  }
}
console.log(
  `node ${process.version}, ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${REPEATS} repeats (median)\n`,
)
console.log('| objects | method | JS blocked (ms) | stallMs | generateMs | serializeMs | blocked vs built-in |')
console.log('|---|---|---|---|---|---|---|')
for (const r of rows) {
  console.log(
    `| ${r.objects} | ${r.method} | ${r.blockedMs} | ${r.stallMs} | ${r.generateMs} | ${r.serializeMs} | ${r.vsBuiltin}× |`,
  )
}
