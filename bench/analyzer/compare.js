'use strict'

// Cross-check and race: heapsnap's analyzer against memlab (an independent JS reimplementation
// of DevTools' heap analysis) on the same snapshot files.
//
//   node bench/analyzer/compare.js [--mb 300] [--file F ...] [--no-generate] [--out bench/ANALYZER.md]
//
// 1. Installs memlab (@memlab/core, pinned, no browser download, no install scripts) into
//    .cache/memlab when it is missing.
// 2. Generates the snapshots when missing (.cache/analyzer/): a mixed heap whose plain snapshot
//    is about --mb MB (small objects, Maps/Sets, long strings, closures, a Map of Leak objects,
//    a WeakMap), a small one, and one of --mb MB of small records with a string each (a chain
//    of `Item`s). --file adds existing plain snapshots.
// 3. For each file, in fresh processes, one after the other: memlab (load + dominators +
//    per-class aggregation, bench/analyzer/memlab-child.js) and heapsnap's summary(), twice:
//    with devtoolsRules: false (what memlab computes on Node snapshots: its page-owned marking starts
//    from every root edge, so it marks everything and the rule has no effect) and with the
//    default DevTools rule. Reports wall time and peak RSS of each, and whether count, shallow
//    size and retained size agree for the top 50 classes.
//
// Not part of `npm test`: it needs ~2 GB of RAM and a few minutes.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { summaryInChild } = require('./summary-child.js')
const { MAKE_HEAP } = require('./heap-script.js')
const { ensureMemlab } = require('./memlab.js')

const ROOT = path.resolve(__dirname, '..', '..')
const CACHE = path.join(ROOT, '.cache')
const TOP = 50

function args(argv) {
  const a = { mb: 300, files: [], generate: true, out: path.join(ROOT, 'bench', 'ANALYZER.md') }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mb') a.mb = Number(argv[++i])
    else if (argv[i] === '--file') a.files.push(path.resolve(argv[++i]))
    else if (argv[i] === '--no-generate') a.generate = false
    else if (argv[i] === '--out') a.out = path.resolve(argv[++i])
    else throw new Error(`unknown argument ${argv[i]}`)
  }
  return a
}

function run(cmd, argv, opts = {}) {
  const res = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts })
  if (res.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status ?? res.signal}):\n${res.stderr}\n${res.stdout}`)
  }
  return res.stdout
}

// A heap of many small records, each with its own short string: `scale` 1 is about 300 MB.
const MAKE_ITEMS = (scale, file) => `
  const v8 = require('node:v8');
  class Item { constructor(i) { this.id = i; this.name = 'item-' + i; this.next = null } }
  const items = [];
  for (let i = 0; i < 1600000 * ${scale}; i++) { const it = new Item(i); if (i) items[i - 1].next = it; items.push(it) }
  globalThis.items = items;
  v8.writeHeapSnapshot(${JSON.stringify(file)});
`

function ensureSnapshots(a) {
  const dir = path.join(CACHE, 'analyzer')
  fs.mkdirSync(dir, { recursive: true })
  const files = []
  if (a.generate) {
    const made = [
      ['mixed-small', MAKE_HEAP, 0.1],
      [`mixed-${a.mb}mb`, MAKE_HEAP, a.mb / 300],
      [`items-${a.mb}mb`, MAKE_ITEMS, a.mb / 300],
    ]
    for (const [name, make, scale] of made) {
      const file = path.join(dir, `${name}.heapsnapshot`)
      if (!fs.existsSync(file)) {
        console.error(`generating ${file} …`)
        run(process.execPath, ['--max-old-space-size=8192', '-e', make(scale, file)], {
          stdio: ['ignore', 'ignore', 'inherit'],
        })
      }
      files.push(file)
    }
  }
  return files.concat(a.files)
}

function memlab(file) {
  const mb = fs.statSync(file).size / 1e6
  const heap = Math.max(4096, Math.ceil(3 * mb))
  const t = process.hrtime.bigint()
  const out = run(process.execPath, [`--max-old-space-size=${heap}`, path.join(__dirname, 'memlab-child.js'), file])
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6
  const r = JSON.parse(out.trim().split('\n').pop())
  return {
    wallMs,
    peakRss: r.peakRssBytes,
    classes: r.classes.map((c) => ({ name: c.name, count: c.count, shallowSize: c.shallow, retainedSize: c.retained })),
  }
}

function heapsnap(file, devtoolsRules) {
  const { wallMs, peakRss, result: r } = summaryInChild(file, { devtoolsRules })
  return { wallMs, peakRss, classes: r.classes, file: r.file, timings: r.timings }
}

/** Rows of `ours`' top classes that differ from `theirs` (by count, shallow or retained size). */
function disagreements(ours, theirs) {
  const byName = new Map(theirs.map((c) => [c.name, c]))
  const out = []
  for (const c of ours.slice(0, TOP)) {
    const t = byName.get(c.name)
    if (!t || t.count !== c.count || t.shallowSize !== c.shallowSize || t.retainedSize !== c.retainedSize) {
      out.push({ name: c.name, ours: c, memlab: t ?? null })
    }
  }
  return out
}

const mb = (b) => (b / 1048576).toFixed(0)
const s = (ms) => (ms / 1000).toFixed(2)

function main() {
  const a = args(process.argv.slice(2))
  const version = ensureMemlab()
  const files = ensureSnapshots(a)
  const lines = [
    '# Analyzer: heapsnap against memlab',
    '',
    `Made by \`node bench/analyzer/compare.js\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${require('node:os').cpus().length} cores; memlab = @memlab/core ${version}. Each run is a fresh process; ` +
      'time is wall time of the whole process (start-up, read, dominators, per-class aggregation); RSS is the peak.',
    '',
    '| file | nodes / edges | memlab time | memlab peak RSS | heapsnap time | heapsnap peak RSS | speed-up | memory | top-50 agreement (devtoolsRules: false) | top-50 rows that differ with the DevTools page-owned rule |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ]
  const details = []
  for (const file of files) {
    console.error(`\n${file}`)
    const m = memlab(file)
    console.error(`  memlab: ${s(m.wallMs)} s, ${mb(m.peakRss)} MiB`)
    const plain = heapsnap(file, false)
    console.error(`  heapsnap (devtoolsRules false): ${s(plain.wallMs)} s, ${mb(plain.peakRss)} MiB`)
    const devtools = heapsnap(file, true)
    console.error(`  heapsnap (DevTools rule): ${s(devtools.wallMs)} s, ${mb(devtools.peakRss)} MiB`)
    const bad = disagreements(plain.classes, m.classes)
    const diffRule = disagreements(devtools.classes, m.classes)
    const f = plain.file
    lines.push(
      `| ${path.basename(file)} (${mb(f.fileSize)} MiB) | ${f.nodeCount.toLocaleString('en-US')} / ${f.edgeCount.toLocaleString('en-US')} | ` +
        `${s(m.wallMs)} s | ${mb(m.peakRss)} MiB | ${s(plain.wallMs)} s | ${mb(plain.peakRss)} MiB | ` +
        `${(m.wallMs / plain.wallMs).toFixed(1)}× faster | ${((100 * plain.peakRss) / m.peakRss).toFixed(0)}% of memlab's | ` +
        `${bad.length === 0 ? `all ${Math.min(TOP, plain.classes.length)} agree exactly` : `${bad.length} differ`} | ` +
        `${diffRule.length}: ${diffRule
          .slice(0, 6)
          .map((d) => d.name)
          .join(', ')}${diffRule.length > 6 ? ', …' : ''} |`,
    )
    console.error(`  top-${TOP} disagreements (devtoolsRules false): ${bad.length}`)
    for (const d of bad) console.error(`    ${JSON.stringify(d)}`)
    details.push({ file, bad, diffRule })
  }
  lines.push('')
  for (const d of details) {
    if (d.bad.length === 0 && d.diffRule.length === 0) continue
    lines.push(`## ${path.basename(d.file)}: rows that differ`, '')
    lines.push(
      '| class | rule | heapsnap count / shallow / retained | memlab count / shallow / retained |',
      '|---|---|---|---|',
    )
    const fmt = (c) => (c ? `${c.count} / ${c.shallowSize} / ${c.retainedSize}` : 'absent')
    for (const x of d.bad) lines.push(`| ${x.name} | devtoolsRules: false | ${fmt(x.ours)} | ${fmt(x.memlab)} |`)
    for (const x of d.diffRule.slice(0, 12))
      lines.push(`| ${x.name} | DevTools rule | ${fmt(x.ours)} | ${fmt(x.memlab)} |`)
    lines.push('')
  }
  lines.push(
    'With `devtoolsRules: false` both tools compute the same graph (weak edges and shortcut edges ' +
      "not retaining, unreachable nodes hung off the root). With the DevTools page-owned rule (heapsnap's " +
      'default), objects reachable from the global object are credited to it rather than to the root, so ' +
      '`global` and the classes on the way to it retain more, as in Chrome DevTools; memlab does not apply ' +
      'the rule on Node.js snapshots.',
    '',
  )
  fs.writeFileSync(a.out, lines.join('\n'))
  console.log(lines.join('\n'))
}

main()
