'use strict'

// Duplicated strings (`strings()`, `heapsnap strings`) on a snapshot with two known groups built
// at run time: COPIES separate flat copies of one 200-character string held by a DupHolder, and
// CONS concatenated strings of one text (two shared parts) held by a Map. Checked against a
// count over the raw JSON and against DevTools' own "Duplicated strings" filter
// (heap-snapshot-toolkit's `createNamedFilter('duplicatedStrings')` and `JSHeapSnapshotNode.name`).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { tmpdir, gzipCopy, once, runNodeOk, parseSnapshot, ROOT, NODE } = require('./helpers')
const heapsnap = require('..')

const COPIES = 5000
const CONS = 300
// The texts, as the child builds them at run time (no literal of either is in its source).
const FLAT_TEXT = 'dup-' + 'a'.repeat(196)
const CONS_TEXT = 'cons-left-' + 'L'.repeat(20) + 'cons-right-' + 'R'.repeat(20)

function makeSnapshot(dir) {
  const file = path.join(dir, 's.heapsnapshot')
  runNodeOk(`
    class DupHolder { constructor() { this.copies = [] } }
    function flat() {
      const text = 'dup-' + 'a'.repeat(196);
      const h = new DupHolder();
      // Each round trip through a Buffer makes a new flat heap string.
      for (let i = 0; i < ${COPIES}; i++) h.copies.push(Buffer.from(text, 'latin1').toString('latin1'));
      return h;
    }
    function cons() {
      const left = Buffer.from('cons-left-' + 'L'.repeat(20)).toString();
      const right = Buffer.from('cons-right-' + 'R'.repeat(20)).toString();
      const m = new Map();
      // Each '+' makes a new cons string of the same two parts.
      for (let i = 0; i < ${CONS}; i++) m.set(i, left + right);
      return m;
    }
    globalThis.dupHolder = flat();
    globalThis.consHolder = cons();
    heapsnap.writeSnapshot(${JSON.stringify(file)});
    console.log('{}');
  `)
  return { file, gz: gzipCopy(file) }
}

const snapshot = once(() => makeSnapshot(tmpdir('strings')))

/** The `string` nodes of nonzero size whose text is `text`, from the raw JSON: count, sizes. */
function rawCopies(file, text) {
  const snap = parseSnapshot(file)
  const meta = snap.snapshot.meta
  const stride = meta.node_fields.length
  const [T, N, S] = ['type', 'name', 'self_size'].map((f) => meta.node_fields.indexOf(f))
  const type = meta.node_types[0].indexOf('string')
  const sizes = []
  for (let i = 0; i < snap.nodes.length; i += stride) {
    if (snap.nodes[i + T] === type && snap.nodes[i + S] > 0 && snap.strings[snap.nodes[i + N]] === text) {
      sizes.push(snap.nodes[i + S])
    }
  }
  return sizes
}

/** One row per group as DevTools' filter and node names give them (texts with 2+ sized copies). */
async function devtoolsGroups(file) {
  const { parse } = await import('heap-snapshot-toolkit')
  const snap = await parse(fs.createReadStream(file, 'utf8'))
  const marked = snap.createNamedFilter('duplicatedStrings')
  const node = snap.createNode(0)
  const byText = new Map()
  for (let i = 0; i < snap.nodeCount; i++) {
    node.nodeIndex = i * snap.nodeFieldCount
    const size = node.selfSize()
    if (!marked(node) || size === 0) continue
    const g = byText.get(node.name()) ?? { count: 0, total: 0, max: 0 }
    g.count++
    g.total += size
    g.max = Math.max(g.max, size)
    byText.set(node.name(), g)
  }
  return [...byText].filter(([, g]) => g.count >= 2)
}

const row = (value, length, count, selfSize, totalSize) => [value, length, count, selfSize, totalSize]
const byValue = (a, b) => (a.join('\0') < b.join('\0') ? -1 : 1)

test('strings: both groups exactly as the raw JSON counts them; every group as DevTools filters it', async (t) => {
  const { file } = snapshot()
  const r = await heapsnap.strings(file)
  const flat = r.strings.find((s) => s.value.startsWith('dup-'))
  const sizes = rawCopies(file, FLAT_TEXT)
  assert.equal(sizes.length, COPIES, 'the child made COPIES separate heap strings')
  const total = sizes.reduce((a, b) => a + b, 0)
  assert.deepEqual(
    [flat.value, flat.length, flat.count, flat.selfSize, flat.totalSize, flat.wastedSize],
    [FLAT_TEXT.slice(0, 80), 200, COPIES, Math.max(...sizes), total, total - Math.max(...sizes)],
  )
  assert.equal(r.strings[0], flat, 'the 5000 copies waste the most')
  const cons = r.strings.find((s) => s.value === CONS_TEXT)
  assert.equal(cons.count, CONS)
  assert.equal(cons.object.type, 'concatenated string')
  assert.equal(cons.wastedSize, cons.totalSize - cons.selfSize)

  // DevTools' filter, group by group (the texts ours shows cut at 80 characters).
  const expected = (await devtoolsGroups(file)).map(([text, g]) =>
    row(text.slice(0, 80), text.length, g.count, g.max, g.total),
  )
  const ours = r.strings.map((s) => row(s.value, s.length, s.count, s.selfSize, s.totalSize))
  assert.deepEqual(ours.sort(byValue), expected.sort(byValue))
  assert.equal(r.groupCount, expected.length)
  assert.equal(
    r.stringCount,
    expected.reduce((a, g) => a + g[2], 0),
  )
  assert.equal(
    r.totalSize,
    expected.reduce((a, g) => a + g[4], 0),
  )
  assert.equal(
    r.wastedSize,
    expected.reduce((a, g) => a + g[4] - g[3], 0),
  )
  t.diagnostic(`${r.groupCount} groups, ${r.stringCount} strings, ${r.wastedSize} bytes wasted: all equal DevTools`)
  for (let i = 1; i < r.strings.length; i++) {
    assert.ok(r.strings[i - 1].wastedSize >= r.strings[i].wastedSize, 'most wasted first')
  }
})

test('strings: the retainer path of the nearest copy ends at the holder the child made', async () => {
  const { file } = snapshot()
  const r = await heapsnap.strings(file)
  const flat = r.strings.find((s) => s.value.startsWith('dup-'))
  const names = flat.path.map((s) => s.node.name)
  const holder = names.lastIndexOf('DupHolder')
  assert.ok(holder > 0, `path: ${names.join(' → ')}`)
  assert.equal(flat.path[holder].edge, '.copies')
  // From the global object (named `global`, `global (global*)` on Node 26, where the path may
  // start at the system object whose `global_object` edge leads to it).
  const fromGlobal = flat.path.findIndex((s) => s.edge === '.dupHolder')
  assert.ok(fromGlobal >= 0 && fromGlobal <= 1, `path: ${names.join(' → ')}`)
  assert.match(flat.path[fromGlobal].node.name, /^global\b/)
  assert.equal(flat.path.at(-1).node.id, flat.object.id)
  assert.equal(flat.object.type, 'string')
  assert.equal(flat.path.at(-1).edge, undefined)
  const cons = r.strings.find((s) => s.value === CONS_TEXT)
  assert.ok(cons.path.slice(0, 2).some((s) => s.edge === '.consHolder'))
  assert.ok(cons.path.some((s) => s.node.name === 'Map'))
})

test('strings: gzip gives the plain answer; top cuts the groups, not the totals; maxDepth the path', async () => {
  const { file, gz } = snapshot()
  const plain = await heapsnap.strings(file)
  const z = await heapsnap.strings(gz)
  assert.equal(z.file.gzip, true)
  assert.deepEqual({ ...z, file: null }, { ...plain, file: null })
  const top = await heapsnap.strings(gz, { top: 3 })
  assert.deepEqual(top.strings, plain.strings.slice(0, 3))
  assert.deepEqual([top.groupCount, top.wastedSize], [plain.groupCount, plain.wastedSize])
  // maxDepth cuts the path after that many retainers (the full one is longer).
  assert.ok(plain.strings[0].path.length > 3)
  const cut = await heapsnap.strings(file, { top: 1, maxDepth: 1 })
  assert.deepEqual(
    cut.strings[0].path.map((s) => s.node.id),
    plain.strings[0].path.slice(-2).map((s) => s.node.id),
  )
})

test('strings: bad input gives coded errors', async () => {
  const dir = tmpdir('strings-bad')
  const missing = path.join(dir, 'missing')
  await assert.rejects(heapsnap.strings(missing), (e) => e.code === 'ENOENT' && e.path === missing)
  const junk = path.join(dir, 'junk.heapsnapshot')
  fs.writeFileSync(junk, '{"snapshot":{"meta":{}},"nodes":[1,2')
  await assert.rejects(heapsnap.strings(junk), { code: 'ERR_HEAPSNAP_BAD_SNAPSHOT' })
  const { file } = snapshot()
  await assert.rejects(heapsnap.strings(42), TypeError)
  await assert.rejects(heapsnap.strings(file, { top: 0 }), RangeError)
  await assert.rejects(heapsnap.strings(file, { top: 1.5 }), RangeError)
  await assert.rejects(heapsnap.strings(file, { paths: 1 }), TypeError)
})

function cli(args) {
  const res = spawnSync(NODE, [path.join(ROOT, 'bin', 'heapsnap.js'), ...args], { encoding: 'utf8', timeout: 120_000 })
  return { status: res.status, out: res.stdout, err: res.stderr }
}

test('CLI: heapsnap strings table, --json, exit codes', async () => {
  const { file, gz } = snapshot()
  const api = await heapsnap.strings(gz)
  const n = (v) => v.toLocaleString('en-US')
  const t = cli(['strings', gz, '--top', '2'])
  assert.equal(t.status, 0, t.err)
  const lines = t.out.split('\n')
  const header = lines.findIndex((l) => /^#\s+Wasted\s+Count\s+Size\s+Total\s+Length\s+String$/.test(l))
  assert.ok(header > 0, t.out)
  const top = api.strings[0]
  assert.match(
    lines[header + 1],
    new RegExp(
      `^1\\s+${n(top.wastedSize)}\\s+${n(COPIES)}\\s+${n(top.selfSize)}\\s+${n(top.totalSize)}\\s+200\\s+"dup-a`,
    ),
  )
  assert.match(
    t.out,
    new RegExp(`^${n(api.groupCount)} texts held by more than one string: ${n(api.stringCount)} strings`, 'm'),
  )
  assert.match(t.out, new RegExp(`… ${n(api.groupCount - 2)} more texts`))
  assert.match(t.out, /^#1 (.* → )?global[^@]* @\d+ \.dupHolder → DupHolder @\d+ \.copies → .*\(string\) @\d+$/m)

  const j = cli(['strings', file, '--json'])
  assert.equal(j.status, 0, j.err)
  const parsed = JSON.parse(j.out)
  assert.equal(parsed.strings.length, api.groupCount, '--json: every group unless --top')
  assert.deepEqual({ ...parsed, file: null }, JSON.parse(JSON.stringify({ ...api, file: null })))

  const missing = cli(['strings', path.join(ROOT, 'no-such-file')])
  assert.equal(missing.status, 1)
  assert.match(missing.err, /ENOENT/)
  assert.equal(cli(['strings']).status, 2)
  assert.equal(cli(['strings', file, file]).status, 2)
  for (const bad of ['x', '0', '2.5']) {
    const r = cli(['strings', file, '--top', bad])
    assert.equal(r.status, 2, bad)
    assert.match(r.err, /--top must be a positive integer/)
  }
  assert.equal(cli(['strings', file, '--top', '-1']).status, 2)
  assert.match(cli(['--help']).out, /heapsnap strings <file>/)
})
