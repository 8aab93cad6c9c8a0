'use strict'

// Reference analyzer: memlab (Meta's reimplementation of Chrome DevTools' heap analysis) loads a
// .heapsnapshot, computes the dominator tree and retained sizes, and this script aggregates the
// result per DevTools "class name", for cross-checking heapsnap's own analyzer.
//
//   node --max-old-space-size=4096 bench/analyzer/memlab-child.js <file.heapsnapshot> \
//     [--memlab-dir DIR] [--full]
//
// memlab holds the file's numbers in Uint32Arrays plus per-node/per-edge side tables: peak RSS is
// ~5x the file size (190 MB -> 0.9 GB, 380 MB -> 1.9 GB) and the V8 heap needs ~2x the file size
// (380 MB works with 768, not with 512), so pass --max-old-space-size=<max(4096, 3 x file MB)>.
// Plain JSON only (memlab does not read .gz); everything but the nodes/edges/locations arrays is
// parsed as one JS string, so the strings section must stay under V8's ~512 MB string limit.
//
// memlab is not a dependency of the project. Install it (no browser, no install scripts) with
//   mkdir -p .cache/memlab && cd .cache/memlab && echo '{"private":true}' > package.json &&
//   PUPPETEER_SKIP_DOWNLOAD=1 npm install --ignore-scripts --save-exact @memlab/core@2.0.5
// DIR defaults to <repo>/.cache/memlab.
//
// Loading is what @memlab/heap-analysis' getFullHeapFromFile() does, minus its shortest-path
// annotation (not needed for sizes): utils.getSnapshotFromFile() then
// TraceFinder#calculateAllNodesRetainedSizes(), which sets node.retainedSize and
// node.dominatorNode. --full runs analysis.preparePathFinder() instead (exactly
// getFullHeapFromFile: shortest paths + dominators + React Fiber marks); sizes are the same.
//
// Per class (object/native: the node's name, which memlab prefixes with "Detached " for detached
// nodes; hidden: (system); code: (compiled code); any other type T: (T)), counting only nodes
// DevTools' summary counts (self_size > 0):
//   count, shallow (sum of self_size), retainedSum (sum of the instances' retained sizes) and
//   retained, DevTools' class retained size: the sum over instances that have no counted instance
//   of the same class among their dominator-tree ancestors (DFS over the dominator tree built from
//   memlab's node.dominatorNode, as DevTools' calculateClassesRetainedSize does).
// Prints one JSON object on stdout, classes sorted by retained size, descending.
//
// Caveat: memlab 2.0.5 is not DevTools on Node snapshots. Both skip weak edges, shortcut edges
// (except from the root) and edges from a non-"page-owned" node into a page-owned one, but
// DevTools' page-owned nodes are those reachable from the root's shortcut edges (global), while
// memlab's (TraceFinder#flagReachableNodesFromWindow) are those reachable from the root's other
// edges, i.e. nearly everything. So DevTools gives `global` most of the heap; memlab gives it ~0.

const path = require('node:path')
const { createRequire } = require('node:module')
const { performance } = require('node:perf_hooks')

function parseArgs(argv) {
  const args = { file: null, memlabDir: path.resolve(__dirname, '..', '..', '.cache', 'memlab'), full: false }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--memlab-dir') args.memlabDir = path.resolve(argv[++i])
    else if (argv[i] === '--full') args.full = true
    else if (!args.file) args.file = path.resolve(argv[i])
    else throw new Error(`unexpected argument ${argv[i]}`)
  }
  if (!args.file) throw new Error('usage: memlab-child.js <file.heapsnapshot> [--memlab-dir DIR] [--full]')
  return args
}

function className(type, name) {
  if (type === 'object' || type === 'native') return name
  if (type === 'hidden') return '(system)'
  if (type === 'code') return '(compiled code)'
  return `(${type})`
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const memlabRequire = createRequire(path.join(args.memlabDir, 'package.json'))
  const memlab = memlabRequire('@memlab/core')
  const version = memlabRequire('@memlab/core/package.json').version
  memlab.config.muteConsole = true // memlab's progress lines would go to stdout
  memlab.config.errorHandling = memlab.ErrorHandling.Throw // not a silent process.exit(1)

  const t0 = performance.now()
  const heap = await memlab.utils.getSnapshotFromFile(args.file, { buildNodeIdIndex: true })
  const t1 = performance.now()
  if (args.full) memlab.analysis.preparePathFinder(heap)
  else new memlab.TraceFinder().calculateAllNodesRetainedSizes(heap)
  const t2 = performance.now()

  // One pass over memlab's nodes: class of every counted node, its dominator.
  const n = heap.nodes.length
  const classOf = new Int32Array(n).fill(-1) // -1: not counted (self_size 0)
  const retained = new Float64Array(n)
  const dom = new Uint32Array(n)
  const classIndex = new Map()
  const classes = []
  for (let i = 0; i < n; i++) {
    const node = heap.nodes.get(i)
    const d = node.dominatorNode
    dom[i] = d ? d.nodeIndex : 0
    const type = node.type
    const selfSize = node.self_size
    if (selfSize === 0) continue
    const name = className(type, type === 'object' || type === 'native' ? node.name : '')
    let c = classIndex.get(name)
    if (c === undefined) {
      c = classes.length
      classIndex.set(name, c)
      classes.push({ name, count: 0, shallow: 0, retained: 0, retainedSum: 0 })
    }
    const size = node.retainedSize
    const k = classes[c]
    k.count++
    k.shallow += selfSize
    k.retainedSum += size
    classOf[i] = c
    retained[i] = size
  }

  // Dominator tree as child lists (the root, ordinal 0, is its own dominator).
  const first = new Uint32Array(n + 1)
  for (let i = 1; i < n; i++) first[dom[i] + 1]++
  for (let i = 0; i < n; i++) first[i + 1] += first[i]
  const fill = first.slice(0, n)
  const children = new Uint32Array(Math.max(n - 1, 0))
  for (let i = 1; i < n; i++) children[fill[dom[i]]++] = i

  // DFS; ~i on the stack marks leaving node i, which frees its class for the rest of the tree.
  const seen = new Uint8Array(classes.length)
  const stack = [0]
  let reached = 0
  while (stack.length > 0) {
    const v = stack.pop()
    if (v < 0) {
      seen[classOf[~v]] = 0
      continue
    }
    reached++
    const c = classOf[v]
    if (c >= 0 && !seen[c]) {
      classes[c].retained += retained[v]
      seen[c] = 1
      stack.push(~v)
    }
    for (let j = first[v]; j < first[v + 1]; j++) stack.push(children[j])
  }
  const t3 = performance.now()

  classes.sort((a, b) => b.retained - a.retained || b.shallow - a.shallow || (a.name < b.name ? -1 : 1))
  const out = {
    tool: 'memlab',
    version,
    file: args.file,
    nodeCount: n,
    edgeCount: heap.edges.length,
    countedNodes: classes.reduce((s, k) => s + k.count, 0),
    dominatorTreeUnreached: n - reached, // 0 unless memlab left a node outside the root's tree
    loadMs: Math.round(t2 - t0),
    parseMs: Math.round(t1 - t0),
    dominatorsMs: Math.round(t2 - t1),
    aggregateMs: Math.round(t3 - t2),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    classes,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
