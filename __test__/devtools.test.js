'use strict'

// The analyzer against DevTools' own code: every Summary row, every Comparison row and the
// Statistics equal what the Chrome DevTools frontend's heap snapshot worker computes for the
// same files (heap-snapshot-toolkit, which bundles front_end/entrypoints/heap_snapshot_worker for
// Node: `aggregatesWithFilter({})`, `diff(a, b)`, `getStatistics()`). The snapshots are Node's
// own (`v8.writeHeapSnapshot` in a child process), holding plain objects of several shapes,
// classes, closures, Maps, Sets, WeakMaps, strings, typed arrays and regexps.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, gzipCopy, once, runNodeOk } = require('./helpers')
const heapsnap = require('..')

// Two snapshots of one process; between them objects come and go.
function makeSnapshots(dir) {
  const a = path.join(dir, 'a.heapsnapshot')
  const b = path.join(dir, 'b.heapsnapshot')
  runNodeOk(`
    const v8 = require('node:v8');
    class Point { constructor(x, y) { this.x = x; this.y = y } }
    class Node3 { constructor(v) { this.value = v; this.next = null } }
    const make = () => { class Point { constructor() { this.z = 1 } } return new Point() };
    const keep = [];
    // Property values are strings: V8 writes no edge for a small integer held in an object.
    const t = (i) => 'v' + i;
    for (let i = 0; i < 300; i++) keep.push({ a: t(i), b: String(i) });
    for (let i = 0; i < 200; i++) keep.push({ name: 'n' + i, age: i, email: 'e' + i });
    for (let i = 0; i < 40; i++) keep.push({ 'a,b': t(i), "q'uote": t(i), ['{' + 'x}']: t(i) });
    for (let i = 0; i < 30; i++) keep.push({ long_property_name_number_one: t(i), long_property_name_number_two: t(i),
      long_property_name_number_three: t(i), long_property_name_number_four: t(i),
      long_property_name_number_five: t(i) });
    for (let i = 0; i < 100; i++) keep.push(new Point(i, i), make());
    for (let i = 0; i < 50; i++) keep.push(() => i, function named() { return i });
    const m = new Map(); for (let i = 0; i < 100; i++) m.set('k' + i, { v: i });
    const s = new Set(); for (let i = 0; i < 100; i++) s.add({ w: i });
    const wm = new WeakMap(); const key = {}; wm.set(key, { held: 1 });
    keep.push(m, s, wm, key, new Float64Array(1000), new Uint8Array(50000), /ab+c/g, /x(y)z/i,
      'x'.repeat(10000), ['a', 'b'].join('-').repeat(50), [1, 2, 3], new Array(500).fill(0));
    globalThis.keep = keep;
    v8.writeHeapSnapshot(${JSON.stringify(a)});
    for (let i = 0; i < 150; i++) keep.push({ a: t(i), b: 'later' + i }, new Node3(i), /r/g);
    keep.splice(0, 120);
    m.clear();
    v8.writeHeapSnapshot(${JSON.stringify(b)});
    console.log('{}');
  `)
  return { a, b, gz: gzipCopy(b) }
}

const snapshots = once(() => makeSnapshots(tmpdir('devtools')))

// heap-snapshot-toolkit is an ES module.
let toolkit
async function devtools() {
  toolkit ??= await import('heap-snapshot-toolkit')
  return toolkit
}

const parsed = new Map()
async function parse(file) {
  if (!parsed.has(file)) {
    const dt = await devtools()
    parsed.set(file, await dt.parse(fs.createReadStream(file, 'utf8')))
  }
  return parsed.get(file)
}

/** DevTools' class key of a row: `,Name`, or `script,line,column,Name` for a located class. */
function key(row) {
  const l = row.location
  return l ? `${l.scriptId},${l.line},${l.column},${row.name}` : `,${row.name}`
}

/** Rows of ours and DevTools' side by side: the keys must be the same set. */
function pair(ours, theirs) {
  const byKey = new Map(ours.map((r) => [key(r), r]))
  assert.equal(byKey.size, ours.length, 'one row per class key')
  assert.deepEqual([...byKey.keys()].sort(), Object.keys(theirs).sort(), 'the same classes')
  return Object.entries(theirs).map(([k, v]) => [k, byKey.get(k), v])
}

async function checkSummary(file) {
  const r = await heapsnap.summary(file)
  const expected = (await parse(file)).aggregatesWithFilter({})
  const rows = pair(r.classes, expected)
  for (const [k, ours, dt] of rows) {
    assert.deepEqual(
      {
        name: ours.name,
        count: ours.count,
        shallow: ours.shallowSize,
        retained: ours.retainedSize,
        distance: ours.distance,
      },
      { name: dt.name, count: dt.count, shallow: dt.self, retained: dt.maxRet, distance: dt.distance },
      k,
    )
  }
  return { r, rows }
}

test('summary: every row (name, count, shallow, retained, distance) equals DevTools', async (t) => {
  const { a, b } = snapshots()
  for (const file of [a, b]) {
    const { r, rows } = await checkSummary(file)
    t.diagnostic(`${path.basename(file)}: ${rows.length} of ${rows.length} Summary rows equal`)
    assert.ok(rows.length > 100, `${rows.length} rows`)
    const names = new Set(r.classes.map((c) => c.name))
    // The rules this compares are all at work in these files.
    // (`age` holds small integers: no edge, so not in the name.)
    for (const name of ['{a, b}', '{name, email}', 'Point', 'Function', 'RegExp', 'Map', 'Set', '(system)']) {
      assert.ok(names.has(name), name)
    }
    assert.ok(names.has('{"a,b", "q\'uote", "{x}"}'), 'quoted property names')
    // Two classes named Point, told apart by where they are defined.
    assert.equal(r.classes.filter((c) => c.name === 'Point' && c.location).length, 2)
    assert.ok(!names.has('(closure)') && !names.has('(regexp)'))
  }
})

test('diff: every Comparison row equals DevTools', async (t) => {
  const { a, b } = snapshots()
  const { diff } = await devtools()
  const expected = await diff(await parse(a), await parse(b))
  const r = await heapsnap.diff(a, b)
  assert.equal(r.sameProcess, true)
  const rows = pair(r.classes, expected)
  assert.ok(rows.length > 10, `${rows.length} rows`)
  for (const [k, ours, dt] of rows) {
    assert.deepEqual(
      {
        name: ours.name,
        added: ours.newCount,
        removed: ours.deletedCount,
        countDelta: ours.deltaCount,
        addedSize: ours.allocSize,
        removedSize: ours.freedSize,
        sizeDelta: ours.sizeDelta,
      },
      {
        name: dt.name,
        added: dt.addedCount,
        removed: dt.removedCount,
        countDelta: dt.countDelta,
        addedSize: dt.addedSize,
        removedSize: dt.removedSize,
        sizeDelta: dt.sizeDelta,
      },
      k,
    )
  }
  t.diagnostic(`${rows.length} of ${rows.length} Comparison rows equal`)
  const added = r.classes.find((c) => c.name === '{a, b}')
  assert.ok(added.newCount >= 150 && added.deletedCount > 0, JSON.stringify(added))
})

test('stats: Statistics equal DevTools getStatistics()', async () => {
  const { a, b } = snapshots()
  for (const file of [a, b]) {
    const { statistics: s } = await heapsnap.stats(file)
    assert.deepEqual(
      {
        total: s.total,
        native: { total: s.native, typedArrays: s.typedArrays },
        v8heap: { total: s.v8Heap, code: s.code, jsArrays: s.jsArrays, strings: s.strings, system: s.system },
      },
      (await parse(file)).getStatistics(),
    )
    assert.ok(s.typedArrays >= 58000, 'the typed arrays are counted')
  }
})

test('a gzip copy gives the same Summary, Comparison and Statistics', async () => {
  const { a, b, gz } = snapshots()
  const plain = await heapsnap.summary(b)
  const z = await heapsnap.summary(gz)
  assert.equal(z.file.gzip, true)
  assert.deepEqual(z.classes, plain.classes)
  assert.deepEqual((await heapsnap.stats(gz)).statistics, (await heapsnap.stats(b)).statistics)
  assert.deepEqual((await heapsnap.diff(a, gz)).classes, (await heapsnap.diff(a, b)).classes)
})

test('devtoolsRules: false keeps the older model: V8 sizes, (closure), (regexp), Object, no distance', async () => {
  const { a } = snapshots()
  const r = await heapsnap.summary(a, { devtoolsRules: false })
  const names = new Set(r.classes.map((c) => c.name))
  for (const name of ['(closure)', '(regexp)', 'Object']) assert.ok(names.has(name), name)
  assert.ok(!names.has('{a, b}') && !names.has('Function'))
  assert.ok(r.classes.every((c) => c.distance === undefined && c.location === undefined))
  // The sizes are V8's: they add up to the file's total, and the arrays keep theirs.
  assert.equal(
    r.classes.reduce((t, c) => t + c.shallowSize, 0),
    r.file.totalSize,
  )
  const s = await heapsnap.stats(a, { devtoolsRules: false })
  assert.equal(s.statistics.total, r.file.totalSize + s.statistics.extraNative)
})

test('heapsnap stats: the CLI prints the Statistics, and --json them as stats() resolves', async () => {
  const { a } = snapshots()
  const { spawnSync } = require('node:child_process')
  const cli = path.join(__dirname, '..', 'bin', 'heapsnap.js')
  const json = spawnSync(process.execPath, [cli, 'stats', a, '--json'], { encoding: 'utf8' })
  assert.equal(json.status, 0, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout).statistics, (await heapsnap.stats(a)).statistics)
  const text = spawnSync(process.execPath, [cli, 'stats', a], { encoding: 'utf8' })
  assert.equal(text.status, 0, text.stderr)
  for (const label of ['Code', 'Strings', 'JS arrays', 'Typed arrays', 'System objects', 'Total']) {
    assert.match(text.stdout, new RegExp(`^${label} `, 'm'))
  }
})
