'use strict'

// `heapsnap retainers` as DevTools' Retainers pane: the retainer tree of an object, compared
// level by level with what the Chrome DevTools frontend's heap snapshot worker lists for the
// same file (heap-snapshot-toolkit: `createRetainingEdgesProvider(nodeIndex)`, sorted with the
// Retainers grid's default comparator, `!edgeDistance` ascending then `name` ascending, as
// `HeapSnapshotRetainingObjectNode.comparator` builds it for the Distance column). The snapshot
// is Node's own, made in a child process with a known structure: one `Target` held by a Map
// value, an array element, a property of a class instance held by a global, a closure's
// variable and a WeakRef (a weak edge: DevTools does not list it).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { tmpdir, gzipCopy, once, runNodeOk, ROOT, NODE } = require('./helpers')
const heapsnap = require('..')

function makeSnapshot(dir) {
  const file = path.join(dir, 'retainers.heapsnapshot')
  runNodeOk(`
    const v8 = require('node:v8');
    class Target { constructor(n) { this.payload = Array.from({ length: n }, (_, i) => 'p' + i) } }
    class Holder { constructor(t) { this.held = t } }
    const target = new Target(300);
    globalThis.small = new Target(3);
    globalThis.keepMap = new Map([['k', target]]);
    globalThis.keepArr = ['first', target];
    globalThis.holder = new Holder(target);
    globalThis.ref = new WeakRef(target);
    globalThis.getTarget = (() => { const captured = target; return () => captured })();
    v8.writeHeapSnapshot(${JSON.stringify(file)});
    console.log('{}');
  `)
  return { file, gz: gzipCopy(file) }
}

const snapshot = once(() => makeSnapshot(tmpdir('retainers')))

// DevTools' model of the file (heap-snapshot-toolkit is an ES module).
let devtoolsSnapshot
async function devtools() {
  if (!devtoolsSnapshot) {
    const { parse } = await import('heap-snapshot-toolkit')
    devtoolsSnapshot = await parse(fs.createReadStream(snapshot().file, 'utf8'))
  }
  return devtoolsSnapshot
}

/** DevTools' node index of the object with snapshot id `id`. */
function nodeIndexOf(snap, id) {
  for (let ordinal = 0; ordinal < snap.nodeCount; ordinal++) {
    const node = snap.createNode(ordinal * snap.nodeFieldCount)
    if (node.id() === id) return node.nodeIndex
  }
  throw new Error(`no node @${id}`)
}

// DevTools' `baseUnreachableDistance`: what a retainer without a distance sorts and serializes as.
const UNREACHABLE = 200000000

/** The retainers DevTools' Retainers pane lists for a node, in its default order. */
function devtoolsRetainers(snap, nodeIndex) {
  const provider = snap.createRetainingEdgesProvider(nodeIndex)
  provider.sortAndRewind({ fieldName1: '!edgeDistance', ascending1: true, fieldName2: 'name', ascending2: true })
  return provider.serializeItemsRange(0, 1e9).items.map((e) => ({
    edgeName: e.name,
    edgeType: e.type,
    id: e.node.id,
    name: e.node.name,
    type: e.node.type,
    distance: e.node.distance,
    selfSize: e.node.selfSize,
    retainedSize: e.node.retainedSize,
    nodeIndex: e.node.nodeIndex,
  }))
}

/** Ours, in the same shape (no distance: DevTools' unreachable value). */
function ours(e) {
  return {
    edgeName: e.edgeName,
    edgeType: e.edgeType,
    id: e.node.id,
    name: e.node.name,
    type: e.node.type,
    distance: e.node.distance ?? UNREACHABLE,
    selfSize: e.node.selfSize,
    retainedSize: e.node.retainedSize,
  }
}

/**
 * Walks our tree against DevTools' lists: at every expanded node the retainers are DevTools'
 * first `limit`, in its order, with its distances and sizes; the count is DevTools' count; a
 * node whose id is on the path is a cycle and not expanded. Returns the nodes compared.
 */
function compareTree(snap, list, count, nodeIndex, pathIds, levelsLeft, limit) {
  const theirs = devtoolsRetainers(snap, nodeIndex)
  assert.equal(count, theirs.length, `retainer count of node index ${nodeIndex}`)
  assert.equal(list.length, Math.min(limit, theirs.length))
  let compared = list.length
  list.forEach((e, i) => {
    const { nodeIndex: childIndex, ...expected } = theirs[i]
    assert.deepEqual(ours(e), expected, `retainer ${i} of node index ${nodeIndex}`)
    const cycle = pathIds.includes(e.node.id)
    assert.equal(e.cycle, cycle, `cycle mark of @${e.node.id}`)
    if (cycle) {
      assert.deepEqual([e.retainers, e.retainerCount], [[], 0])
    } else if (levelsLeft > 1) {
      compared += compareTree(
        snap,
        e.retainers,
        e.retainerCount,
        childIndex,
        [...pathIds, e.node.id],
        levelsLeft - 1,
        limit,
      )
    } else {
      assert.deepEqual(e.retainers, [], 'nothing past the depth')
      assert.equal(e.retainerCount, devtoolsRetainers(snap, childIndex).length)
    }
  })
  return compared
}

test('retainers tree: every level equals DevTools Retainers pane (filter, order, distances, sizes)', async (t) => {
  const { file } = snapshot()
  const snap = await devtools()
  const r = await heapsnap.retainers(file, 'Target', { depth: 3, limit: 6 })
  assert.equal(r.count, 2)
  const tree = r.tree
  // The biggest Target by retained size: the one with 300 strings, not `small`.
  assert.equal(tree.object.className, 'Target')
  assert.ok(tree.object.retainedSize > 300 * 16, `retained ${tree.object.retainedSize}`)
  const index = nodeIndexOf(snap, tree.object.id)
  assert.equal(tree.object.retainedSize, snap.createNode(index).retainedSize())
  assert.equal(tree.object.distance, snap.createNode(index).distance())

  // The first level: exactly what DevTools lists, and the holders this test made are there.
  const first = devtoolsRetainers(snap, index)
  const names = tree.retainers.map((e) => `${e.edgeName} in ${e.node.name}`)
  t.diagnostic(`first level: ${names.join('; ')}`)
  const all = (await heapsnap.retainers(file, 'Target', { depth: 1, limit: 1000 })).tree
  assert.deepEqual(
    all.retainers.map(ours),
    first.map(({ nodeIndex, ...e }) => e),
  )
  const found = (edgeName, name) => all.retainers.some((e) => e.edgeName === edgeName && e.node.name === name)
  assert.ok(found('held', 'Holder'), 'the Holder property')
  assert.ok(found('1', 'Array') || found('1', '(object elements)'), 'the array element')
  assert.ok(
    all.retainers.some((e) => e.node.name === 'Map' || e.edgeType === 'internal'),
    'the Map table',
  )
  assert.ok(
    all.retainers.some((e) => e.edgeName === 'captured' && e.edgeType === 'context'),
    'the closure variable',
  )
  assert.ok(!all.retainers.some((e) => e.edgeType === 'weak'), 'the WeakRef is not listed')
  // Sorted by distance first: DevTools' order is not the file's order.
  const d = all.retainers.map((e) => e.node.distance ?? UNREACHABLE)
  assert.deepEqual(
    d,
    [...d].sort((a, b) => a - b),
  )

  const compared = compareTree(snap, tree.retainers, tree.retainerCount, index, [tree.object.id], 3, 6)
  t.diagnostic(`${compared} tree nodes equal DevTools' lists`)
  assert.ok(compared > 20, `${compared} nodes compared`)
  // Depth 3: three levels of retainers below the object and none further.
  const depthOf = (list) => (list.length === 0 ? 0 : 1 + Math.max(...list.map((e) => depthOf(e.retainers))))
  assert.equal(depthOf(tree.retainers), 3)
  assert.equal(depthOf((await heapsnap.retainers(file, 'Target', { depth: 2 })).tree.retainers), 2)
})

test('retainers tree: @id picks one object; a gzip copy gives the same tree', async () => {
  const { file, gz } = snapshot()
  const snap = await devtools()
  const biggest = await heapsnap.retainers(file, 'Target')
  const holder = biggest.tree.retainers.find((e) => e.node.className === 'Holder')
  assert.ok(holder, 'a Holder retains the Target')
  const r = await heapsnap.retainers(file, `@${holder.node.id}`, { depth: 2, limit: 4 })
  assert.equal(r.className, 'Holder')
  assert.equal(r.count, 1)
  assert.equal(r.tree.object.id, holder.node.id)
  assert.equal(r.paths.length, 1)
  assert.equal(r.paths[0].object.id, holder.node.id)
  compareTree(snap, r.tree.retainers, r.tree.retainerCount, nodeIndexOf(snap, holder.node.id), [holder.node.id], 2, 4)
  // `small`, the other Target, by id: not the biggest.
  const small = (await heapsnap.retainers(file, 'Target', { paths: 2 })).paths[1].object
  const s = await heapsnap.retainers(file, `@${small.id}`, { depth: 1 })
  assert.equal(s.tree.object.id, small.id)
  assert.ok(s.tree.retainers.some((e) => e.edgeName === 'small'))

  const z = await heapsnap.retainers(gz, 'Target')
  assert.equal(z.file.gzip, true)
  assert.deepEqual(z.tree, biggest.tree)
  assert.deepEqual(z.paths, biggest.paths)
})

test('retainers tree: limit caps each level and counts the rest', async () => {
  const { file } = snapshot()
  const full = (await heapsnap.retainers(file, 'Target', { depth: 1, limit: 1000 })).tree
  assert.ok(full.retainerCount > 2)
  const cut = (await heapsnap.retainers(file, 'Target', { depth: 1, limit: 2 })).tree
  assert.equal(cut.retainerCount, full.retainerCount)
  assert.deepEqual(cut.retainers, full.retainers.slice(0, 2))
  const none = await heapsnap.retainers(file, 'Target', { depth: 0 })
  assert.equal(none.tree, null)
  assert.equal(none.paths.length, 2)
})

test('retainers: bad ids, classes, depths and limits', async () => {
  const { file } = snapshot()
  // V8 numbers objects upwards from 1 (odd for JS objects): no snapshot this small has this id.
  await assert.rejects(heapsnap.retainers(file, '@4294967294'), { code: 'ERR_HEAPSNAP_NO_SUCH_OBJECT' })
  await assert.rejects(heapsnap.retainers(file, '@99999999999'), (e) => e.code !== undefined && /id/.test(e.message))
  const missing = await heapsnap.retainers(file, 'NoSuchClass')
  assert.deepEqual([missing.count, missing.paths, missing.tree], [0, [], null])
  for (const depth of [-1, 101, 1.5]) await assert.rejects(heapsnap.retainers(file, 'Target', { depth }), RangeError)
  await assert.rejects(heapsnap.retainers(file, 'Target', { depth: '2' }), TypeError)
  await assert.rejects(heapsnap.retainers(file, 'Target', { limit: 0 }), RangeError)
  await assert.rejects(heapsnap.retainers(file, 'Target', { deep: 2 }), TypeError)
})

function cli(args) {
  const res = spawnSync(NODE, [path.join(ROOT, 'bin', 'heapsnap.js'), ...args], { encoding: 'utf8', timeout: 120_000 })
  return { status: res.status, out: res.stdout, err: res.stderr }
}

test('CLI: the tree by default, --paths as before, @id, exit codes', async () => {
  const { file } = snapshot()
  const api = await heapsnap.retainers(file, 'Target', { depth: 2, limit: 3 })
  const r = cli(['retainers', file, 'Target', '--depth', '2', '--limit', '3'])
  assert.equal(r.status, 0, r.err)
  const lines = r.out.split('\n')
  const top = lines.findIndex((l) => l.startsWith(`Target @${api.tree.object.id} `))
  assert.ok(top > 0, r.out)
  // One line per node, in the API's order, indented by level.
  const expected = []
  const walk = (list, count, indent) => {
    for (const e of list) {
      expected.push(`${indent}↳ ${e.edgeType === 'element' ? `[${e.edgeName}]` : e.edgeName} in `)
      // Past the depth (and for a cycle) a node lists nothing, not even "… more".
      if (e.retainers.length > 0) walk(e.retainers, e.retainerCount, indent + '  ')
    }
    if (count > list.length) expected.push(`${indent}… ${count - list.length} more`)
  }
  walk(api.tree.retainers, api.tree.retainerCount, '')
  const got = lines.slice(top + 1, top + 1 + expected.length)
  expected.forEach((prefix, i) => assert.ok(got[i].startsWith(prefix), `line ${i}: '${got[i]}' ≠ '${prefix}…'`))
  assert.match(lines[top + 1 + expected.length] ?? '', /^$/)

  const byId = cli(['retainers', file, `@${api.tree.object.id}`, '--depth', '1'])
  assert.equal(byId.status, 0, byId.err)
  assert.match(byId.out, new RegExp(`^Target @${api.tree.object.id} `, 'm'))

  const paths = cli(['retainers', file, 'Target', '--paths', '1'])
  assert.equal(paths.status, 0, paths.err)
  assert.match(paths.out, /^#1 Target @\d+: self/m)
  assert.doesNotMatch(paths.out, /↳/)

  const json = JSON.parse(cli(['retainers', file, 'Target', '--json', '--depth', '1']).out)
  assert.deepEqual(json.tree, (await heapsnap.retainers(file, 'Target', { depth: 1 })).tree)

  const bad = cli(['retainers', file, '@4294967294'])
  assert.equal(bad.status, 1)
  assert.match(bad.err, /ERR_HEAPSNAP_NO_SUCH_OBJECT/)
  assert.equal(cli(['retainers', file, 'Target', '--depth', '0']).status, 2)
  assert.equal(cli(['retainers', file, 'NoSuchClass']).status, 1)
})
