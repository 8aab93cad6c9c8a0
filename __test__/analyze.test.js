'use strict'

// The analyzer (summary, diff, retainers, inflate; API and CLI) on snapshots this suite makes:
// a known leak (`class Leak` held by a Map) between two snapshots of one process.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')
const { spawnSync } = require('node:child_process')
const { tmpdir, runNodeOk, parseSnapshot, countNodes, ROOT, NODE } = require('./helpers')
const heapsnap = require('..')

const ADDED = 4000

// One process: a base snapshot (plain), then ADDED Leaks into a Map, then the target (plain and
// gzip). Leak has ten fields so that its objects outweigh the Map's own growth.
function makePair(dir) {
  return runNodeOk(`
    class Leak { constructor(i) { this.a = i; this.b = i; this.c = i; this.d = i; this.e = i;
      this.f = i; this.g = i; this.h = i; this.j = i; this.k = i } }
    const cache = new Map();
    globalThis.cache = cache;
    for (let i = 0; i < 50; i++) cache.set('warm' + i, new Leak(i));
    const base = ${JSON.stringify(path.join(dir, 'base.heapsnapshot'))};
    const target = ${JSON.stringify(path.join(dir, 'target.heapsnapshot'))};
    heapsnap.writeSnapshot(base);
    for (let i = 0; i < ${ADDED}; i++) cache.set(i, new Leak(i));
    heapsnap.writeSnapshot(target);
    heapsnap.writeSnapshot(target + '.gz');
    console.log(JSON.stringify({ base, target, gz: target + '.gz' }));
  `)
}

let pair
function files() {
  if (!pair) pair = makePair(tmpdir('analyze'))
  return pair
}

/**
 * Per class count and shallow size, computed from the raw JSON by the older naming rule that
 * `devtoolsRules: false` keeps (native nodes V8 marks detached are `Detached <name>`; V8's own
 * self sizes). DevTools' own rules are checked against DevTools' code in devtools.test.js.
 */
function classTotals(file) {
  const snap = parseSnapshot(file)
  const meta = snap.snapshot.meta
  const f = (name) => meta.node_fields.indexOf(name)
  const stride = meta.node_fields.length
  const [T, N, S, D] = [f('type'), f('name'), f('self_size'), f('detachedness')]
  const types = meta.node_types[0]
  const totals = new Map()
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const size = snap.nodes[i + S]
    if (size === 0) continue
    const type = types[snap.nodes[i + T]]
    const detached = type === 'native' && D >= 0 && snap.nodes[i + D] === 2 ? 'Detached ' : ''
    const name =
      type === 'object' || type === 'native'
        ? detached + snap.strings[snap.nodes[i + N]]
        : type === 'hidden'
          ? '(system)'
          : type === 'code'
            ? '(compiled code)'
            : `(${type})`
    const t = totals.get(name) ?? { count: 0, shallowSize: 0 }
    t.count++
    t.shallowSize += size
    totals.set(name, t)
  }
  return { snap, totals }
}

test('summary: every class count and shallow size equals the raw JSON (devtoolsRules: false); Leak as the marker tests count it', async () => {
  const { target, gz } = files()
  const { snap, totals } = classTotals(target)
  const r = await heapsnap.summary(target, { devtoolsRules: false })
  assert.equal(r.file.nodeCount, snap.snapshot.node_count)
  assert.equal(r.file.edgeCount, snap.snapshot.edge_count)
  assert.equal(r.classes.length, totals.size, 'one row per class')
  for (const row of r.classes) {
    assert.deepEqual({ count: row.count, shallowSize: row.shallowSize }, totals.get(row.name), row.name)
    // Instances nested under another of their class are inside its retained size.
    assert.ok(row.retainedSize >= row.shallowSize, row.name)
  }
  const leak = r.classes.find((c) => c.name === 'Leak')
  assert.equal(leak.count, countNodes(snap, 'Leak'))
  assert.equal(leak.count, ADDED + 50)
  // Each Leak holds only small integers: it retains exactly itself.
  assert.equal(leak.retainedSize, leak.shallowSize)
  const map = r.classes.find((c) => c.name === 'Map')
  assert.ok(map.retainedSize >= leak.retainedSize, 'the Map retains the Leaks')
  for (let i = 1; i < r.classes.length; i++) {
    assert.ok(r.classes[i - 1].retainedSize >= r.classes[i].retainedSize, 'sorted by retained size')
  }
  // A gzip file gives the same answer as its plain content; `top` cuts the list.
  const plain = path.join(tmpdir('analyze-gz'), 'plain.heapsnapshot')
  await heapsnap.inflate(gz, plain)
  const z = await heapsnap.summary(gz, { top: 5 })
  assert.equal(z.file.gzip, true)
  assert.deepEqual(z.classes, (await heapsnap.summary(plain)).classes.slice(0, 5))
  assert.equal(z.classes.length, 5)
})

test('diff: the leak is the top row with # Delta = the number added, and the allocated-between view', async () => {
  const { base, target, gz } = files()
  const r = await heapsnap.diff(base, gz)
  assert.equal(r.classes[0].name, 'Leak', `top row: ${JSON.stringify(r.classes.slice(0, 3))}`)
  const leak = r.classes[0]
  assert.equal(leak.newCount, ADDED)
  assert.equal(leak.deletedCount, 0)
  assert.equal(leak.deltaCount, ADDED)
  const per = classTotals(target).totals.get('Leak').shallowSize / (ADDED + 50)
  assert.equal(leak.allocSize, ADDED * per)
  assert.equal(leak.sizeDelta, leak.allocSize - leak.freedSize)
  assert.equal(r.sameProcess, true)
  assert.ok(r.sameProcessScore > 0.99)
  const between = r.allocatedBetween.find((c) => c.name === 'Leak')
  assert.equal(between.count, ADDED, 'the 50 warm-up Leaks are older than the base')
  // A snapshot against itself: nothing new, nothing deleted.
  const same = await heapsnap.diff(target, target)
  assert.deepEqual(same.classes, [])
})

test('diff: snapshots of two processes are told apart (no allocated-between view)', async () => {
  const { target } = files()
  const other = path.join(tmpdir('analyze-other'), 'other.heapsnapshot')
  runNodeOk(`
    globalThis.junk = Array.from({ length: 30000 }, (_, i) => ({ i, s: 'x' + i }));
    heapsnap.writeSnapshot(${JSON.stringify(other)}); console.log('{}')`)
  const r = await heapsnap.diff(other, target)
  assert.equal(r.sameProcess, false, `score ${r.sameProcessScore}`)
  assert.equal(r.allocatedBetween, null)
  const forced = await heapsnap.diff(other, target, { sameProcess: true })
  assert.ok(Array.isArray(forced.allocatedBetween))
})

test('retainers: the path from the roots to the biggest Leak goes through the Map', async () => {
  const { gz } = files()
  const r = await heapsnap.retainers(gz, 'Leak', { paths: 2 })
  assert.equal(r.count, ADDED + 50)
  const row = (await heapsnap.summary(gz)).classes.find((c) => c.name === 'Leak')
  assert.deepEqual([r.shallowSize, r.retainedSize], [row.shallowSize, row.retainedSize])
  assert.equal(r.paths.length, 2)
  for (const p of r.paths) {
    const names = p.path.map((s) => s.node.name)
    assert.equal(names.at(-1), 'Leak')
    assert.ok(names.includes('Map'), `path: ${names.join(' → ')}`)
    const mapStep = p.path[names.lastIndexOf('Map')]
    assert.ok(mapStep.edge, 'the Map step names its edge')
    assert.equal(p.object.className, 'Leak')
    assert.equal(p.path.at(-1).edge, undefined)
  }
  const none = await heapsnap.retainers(gz, 'NoSuchClass')
  assert.equal(none.count, 0)
  assert.deepEqual(none.paths, [])
})

test('inflate: gzip back to the exact plain bytes, atomically, refusing to overwrite', async () => {
  const { gz } = files()
  const dir = tmpdir('inflate')
  const copy = path.join(dir, 't.heapsnapshot.gz')
  fs.copyFileSync(gz, copy)
  const r = await heapsnap.inflate(copy)
  assert.equal(r.output, path.join(dir, 't.heapsnapshot'))
  assert.ok(fs.readFileSync(r.output).equals(zlib.gunzipSync(fs.readFileSync(copy))))
  assert.equal(r.bytesOut, fs.statSync(r.output).size)
  await assert.rejects(heapsnap.inflate(copy), (e) => e.code === 'EEXIST' && e.path === r.output)
  await heapsnap.inflate(copy, { force: true })
  await assert.rejects(heapsnap.inflate(r.output, path.join(dir, 'x')), { code: 'ERR_HEAPSNAP_NOT_GZIP' })
  // A truncated gzip file: an error with a code, and nothing under the output name.
  const cut = path.join(dir, 'cut.heapsnapshot.gz')
  const bytes = fs.readFileSync(copy)
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length >> 1))
  await assert.rejects(heapsnap.inflate(cut), { code: 'ERR_HEAPSNAP_BAD_SNAPSHOT' })
  assert.deepEqual(fs.readdirSync(dir).sort(), ['cut.heapsnapshot.gz', 't.heapsnapshot', 't.heapsnapshot.gz'])
})

test('analysis errors: coded, never a crash', async () => {
  const dir = tmpdir('analyze-bad')
  await assert.rejects(
    heapsnap.summary(path.join(dir, 'missing')),
    (e) => e.code === 'ENOENT' && e.syscall === 'open' && e.path === path.join(dir, 'missing'),
  )
  await assert.rejects(heapsnap.summary(dir), { code: 'EISDIR' })
  const junk = path.join(dir, 'junk.heapsnapshot')
  fs.writeFileSync(junk, '{"snapshot":{"meta":{}},"nodes":[1,2')
  await assert.rejects(heapsnap.summary(junk), { code: 'ERR_HEAPSNAP_BAD_SNAPSHOT' })
  const { target } = files()
  const text = fs.readFileSync(target)
  fs.writeFileSync(junk, text.subarray(0, text.length - 100))
  await assert.rejects(
    heapsnap.summary(junk),
    (e) => e.code === 'ERR_HEAPSNAP_BAD_SNAPSHOT' && /truncated/.test(e.message),
  )
  await assert.rejects(heapsnap.summary(42), TypeError)
  await assert.rejects(heapsnap.summary(target, { top: 0 }), RangeError)
  await assert.rejects(heapsnap.summary(target, { bogus: 1 }), TypeError)
  await assert.rejects(heapsnap.retainers(target, ''), TypeError)
  await assert.rejects(heapsnap.diff(target), TypeError)
})

function cli(args) {
  const res = spawnSync(NODE, [path.join(ROOT, 'bin', 'heapsnap.js'), ...args], { encoding: 'utf8', timeout: 120_000 })
  return { status: res.status, out: res.stdout, err: res.stderr }
}

test('CLI: tables, --json, exit codes', () => {
  const { base, target, gz } = files()
  const d = cli(['diff', base, gz, '--top', '3'])
  assert.equal(d.status, 0, d.err)
  const rows = d.out.split('\n')
  const header = rows.findIndex((l) => l.startsWith('Class') && l.includes('# Delta'))
  assert.match(
    rows[header + 1],
    new RegExp(`^Leak\\s+${ADDED.toLocaleString('en-US')}\\s+0\\s+\\+${ADDED.toLocaleString('en-US')}\\s`),
  )
  assert.match(d.out, /Objects allocated between the two snapshots/)

  const j = cli(['summary', target, '--json', '--top', '4'])
  assert.equal(j.status, 0, j.err)
  const parsed = JSON.parse(j.out)
  assert.equal(parsed.classes.length, 4)
  assert.equal(parsed.file.path, target)

  const r = cli(['retainers', gz, 'Leak', '--paths', '1'])
  assert.equal(r.status, 0, r.err)
  assert.match(r.out, /Map @\d+ \S+ → .*Leak @\d+$/m)

  assert.equal(cli(['retainers', gz, 'NoSuchClass']).status, 1)
  const missing = cli(['summary', path.join(ROOT, 'no-such-file')])
  assert.equal(missing.status, 1)
  assert.match(missing.err, /ENOENT/)
  assert.equal(cli(['frobnicate']).status, 2)
  assert.equal(cli(['summary']).status, 2)
  assert.equal(cli(['summary', target, '--top', 'x']).status, 2)
  assert.match(cli(['--help']).out, /heapsnap summary <file>/)
})
