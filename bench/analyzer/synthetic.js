'use strict'

// A synthetic heap snapshot of any size (default 2.3 GB; --string-length 330: 4.6 GB), written as a stream, then
// summarised by heapsnap in a fresh process: checks the answer against what the generator
// built, and reports time and peak RSS against the file size.
//
//   node bench/analyzer/synthetic.js [--items N] [--string-length L] [--fields 6|7]
//                                    [--out FILE] [--keep]
//
// The graph: the root holds the global object (shortcut edge) and (GC roots); the global holds
// an Array of `Holder` objects; each Holder heads a chain of CHAIN `Leak` objects (`next`
// edges), and every Leak has a unique string (`name`) and the shared hidden map (`map`). So the
// dominator tree is deep (each Leak dominates the rest of its chain) and the answer is known:
//   Leak:     count N, shallow 40·N, retained 40·N + Σ string sizes (nested Leaks count once)
//   Holder:   count N/CHAIN, retained = its chain + 16 each
//   (string): count N, shallow = retained = Σ string sizes
// Most of the file is text that the analyzer must read but need not keep (the strings), so
// the peak RSS against the file size shows that memory follows the graph, not the JSON text.
// Nothing is kept in git: the file goes to .cache/analyzer/ and is removed unless --keep.

const fs = require('node:fs')
const path = require('node:path')
const { summaryInChild } = require('./summary-child.js')

const ROOT = path.resolve(__dirname, '..', '..')
const CHAIN = 1000

function args(argv) {
  const a = {
    items: 11_000_000,
    stringLength: 120,
    fields: 7,
    out: path.join(ROOT, '.cache', 'analyzer', 'synthetic.heapsnapshot'),
    keep: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    if (k === '--items') a.items = Number(argv[++i])
    else if (k === '--string-length') a.stringLength = Number(argv[++i])
    else if (k === '--fields') a.fields = Number(argv[++i])
    else if (k === '--out') a.out = path.resolve(argv[++i])
    else if (k === '--keep') a.keep = true
    else throw new Error(`unknown argument ${k}`)
  }
  a.items = Math.ceil(a.items / CHAIN) * CHAIN
  if (a.fields !== 6 && a.fields !== 7) throw new Error('--fields is 6 or 7')
  return a
}

const NODE_TYPES = [
  'hidden',
  'array',
  'string',
  'object',
  'code',
  'closure',
  'regexp',
  'number',
  'native',
  'synthetic',
  'concatenated string',
  'sliced string',
  'symbol',
  'bigint',
  'object shape',
]
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak']
const T = Object.fromEntries(NODE_TYPES.map((t, i) => [t, i]))
const E = Object.fromEntries(EDGE_TYPES.map((t, i) => [t, i]))

/** A writer that batches text into large writes. */
function writer(file) {
  const fd = fs.openSync(file, 'w')
  let parts = []
  let size = 0
  let total = 0
  return {
    put(s) {
      parts.push(s)
      size += s.length
      if (size > 1 << 23) this.flush()
    },
    flush() {
      const buf = Buffer.from(parts.join(''), 'latin1')
      fs.writeSync(fd, buf)
      total += buf.length
      parts = []
      size = 0
    },
    close() {
      this.flush()
      fs.closeSync(fd)
      return total
    },
  }
}

function generate(a) {
  const holders = a.items / CHAIN
  // Node ordinals: 0 root, 1 global, 2 (GC roots), 3 Array, 4 map, then per holder h:
  // Holder, then CHAIN × (Leak, string).
  const FIXED = 5
  const holderAt = (h) => FIXED + h * (1 + 2 * CHAIN)
  const nodeCount = FIXED + holders * (1 + 2 * CHAIN)
  // Strings: fixed names, then one unique string per Leak.
  const names = [
    '',
    'global',
    '(GC roots)',
    'Array',
    'system / Map',
    'Holder',
    'Leak',
    'next',
    'name',
    'map',
    'holders',
    'first',
  ]
  const S = Object.fromEntries(names.map((n, i) => [n, i]))
  const strLen = a.stringLength
  const stringSize = 16 + strLen // the self size given to each string node (bytes, like V8's)
  // root 2, global 1, (GC roots) 1, the Array one per Holder, each Holder 1, each Leak 3.
  const edgeCount = 2 + 1 + 1 + holders + holders + a.items * 3
  const f = a.fields
  const node = (type, name, id, size, edges) =>
    f === 7 ? `${type},${name},${id},${size},${edges},0,0,\n` : `${type},${name},${id},${size},${edges},0,\n`
  const w = writer(a.out)
  w.put(
    `{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"${f === 7 ? ',"trace_node_id"' : ''},"detachedness"],` +
      `"node_types":[${JSON.stringify(NODE_TYPES)},"string","number","number","number","number"${f === 7 ? ',"number"' : ''}],` +
      '"edge_fields":["type","name_or_index","to_node"],' +
      `"edge_types":[${JSON.stringify(EDGE_TYPES)},"string_or_number","node"],` +
      '"trace_function_info_fields":[],"trace_node_fields":[],"sample_fields":[],"location_fields":[]},' +
      `"node_count":${nodeCount},"edge_count":${edgeCount},"trace_function_count":0},\n"nodes":[`,
  )
  // Nodes (a trailing comma is dropped at the end of the array).
  let nodesText = ''
  const id = (ordinal) => 2 * ordinal + 1
  nodesText += node(T.synthetic, S[''], id(0), 0, 2)
  nodesText += node(T.object, S.global, id(1), 64, 1)
  nodesText += node(T.synthetic, S['(GC roots)'], id(2), 0, 1)
  nodesText += node(T.object, S.Array, id(3), 32, holders)
  nodesText += node(T.hidden, S['system / Map'], id(4), 80, 0)
  w.put(nodesText)
  for (let h = 0; h < holders; h++) {
    const base = holderAt(h)
    let chunk = node(T.object, S.Holder, id(base), 16, 1)
    for (let k = 0; k < CHAIN; k++) {
      const leak = base + 1 + 2 * k
      const str = names.length + h * CHAIN + k
      chunk += node(T.object, S.Leak, id(leak), 40, 3)
      chunk += node(T.string, str, id(leak + 1), stringSize, 0)
    }
    if (h === holders - 1) chunk = chunk.slice(0, -2) + '\n'
    w.put(chunk)
  }
  w.put('],\n"edges":[')
  const edge = (type, nameOrIndex, to) => `${type},${nameOrIndex},${to * f},`
  let edges = edge(E.shortcut, 1, 1) + edge(E.element, 1, 2) + '\n'
  edges += edge(E.property, S.holders, 3) + '\n' // global
  edges += edge(E.element, 1, 3) + '\n' // (GC roots) → the Array too (not page owned: ignored)
  w.put(edges)
  let arr = ''
  for (let h = 0; h < holders; h++) arr += edge(E.element, h, holderAt(h))
  w.put(arr + '\n')
  for (let h = 0; h < holders; h++) {
    const base = holderAt(h)
    let chunk = edge(E.property, S.first, base + 1)
    for (let k = 0; k < CHAIN; k++) {
      const leak = base + 1 + 2 * k
      chunk += edge(E.property, S.name, leak + 1) + edge(E.internal, S.map, 4)
      // The last Leak's `next` points back at its Holder (a cycle, as real heaps have).
      chunk += edge(E.property, S.next, k + 1 < CHAIN ? leak + 2 : base) + '\n'
    }
    if (h === holders - 1) chunk = chunk.slice(0, -2) + '\n'
    w.put(chunk)
  }
  w.put('],\n"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],\n"strings":[')
  w.put(names.map((n) => JSON.stringify(n)).join(',') + ',\n')
  const pad = 'x'.repeat(strLen)
  for (let h = 0; h < holders; h++) {
    let chunk = ''
    for (let k = 0; k < CHAIN; k++) {
      const label = `leak ${h}:${k} `
      chunk += `"${label}${pad.slice(label.length)}"${h === holders - 1 && k === CHAIN - 1 ? '' : ','}\n`
    }
    w.put(chunk)
  }
  w.put(']}\n')
  const bytes = w.close()
  return {
    bytes,
    nodeCount,
    expect: {
      Leak: { count: a.items, shallowSize: 40 * a.items, retainedSize: (40 + stringSize) * a.items },
      '(string)': { count: a.items, shallowSize: stringSize * a.items, retainedSize: stringSize * a.items },
      Holder: { count: holders, shallowSize: 16 * holders, retainedSize: (16 + (40 + stringSize) * CHAIN) * holders },
    },
  }
}

function main() {
  const a = args(process.argv.slice(2))
  fs.mkdirSync(path.dirname(a.out), { recursive: true })
  const t = Date.now()
  console.error(`writing ${a.out} (${a.items.toLocaleString('en-US')} Leak objects, ${a.fields} node fields) …`)
  const g = generate(a)
  const genS = (Date.now() - t) / 1000
  console.error(`  ${(g.bytes / 1e9).toFixed(2)} GB in ${genS.toFixed(0)} s`)
  const { wallMs, peakRss, result: r } = summaryInChild(a.out)
  const wall = +(wallMs / 1000).toFixed(3)
  const problems = []
  if (r.file.nodeCount !== g.nodeCount) problems.push(`nodeCount ${r.file.nodeCount} != ${g.nodeCount}`)
  for (const [name, want] of Object.entries(g.expect)) {
    const got = r.classes.find((c) => c.name === name)
    const have = got && { count: got.count, shallowSize: got.shallowSize, retainedSize: got.retainedSize }
    if (JSON.stringify(have) !== JSON.stringify(want))
      problems.push(`${name}: got ${JSON.stringify(have)}, want ${JSON.stringify(want)}`)
  }
  const line = {
    file: a.out,
    fileBytes: g.bytes,
    nodes: r.file.nodeCount,
    edges: r.file.edgeCount,
    wallSeconds: wall,
    readSeconds: r.timings.readMs / 1000,
    dominatorSeconds: r.timings.dominatorsMs / 1000,
    peakRssBytes: peakRss,
    rssOverFile: +(peakRss / g.bytes).toFixed(3),
    answer: problems.length === 0 ? 'exact' : problems,
  }
  console.log(JSON.stringify(line, null, 2))
  if (!a.keep) fs.rmSync(a.out)
  if (problems.length) process.exitCode = 1
}

main()
