'use strict'

// Shared test helpers: run a script in a fresh node process, read a snapshot back (plain or
// gzip, by content), check the format invariants, count the nodes a test created.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { spawnSync, spawn } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
/** The node to run children with (the Node matrix sets HEAPSNAP_TEST_NODE). */
const NODE = process.env.HEAPSNAP_TEST_NODE || process.execPath

/**
 * Objects to add to a heap whose serialization must still be running a few milliseconds after
 * generation (300 k: ~0.4 s of JSON). V8 10 (Node 18) generates such a heap ~15x slower
 * (~45 s) and serializes a fifth of it for ~80 ms, which is long enough.
 */
const SERIALIZING_HEAP_OBJECTS = Number(process.versions.v8.split('.')[0]) >= 11 ? 300_000 : 60_000

const made = []
/** A new temporary directory, removed when the test file's process exits (HEAPSNAP_KEEP_TMP=1 keeps it). */
function tmpdir(tag = 'test') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `heapsnap-${tag}-`))
  made.push(dir)
  return dir
}
process.on('exit', () => {
  if (process.env.HEAPSNAP_KEEP_TMP) return
  for (const dir of made) {
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } catch {}
  }
})

/** Writes `<file>.gz`, a gzip copy of `file` (the analyzer must answer the same for both). */
function gzipCopy(file) {
  const gz = `${file}.gz`
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(file)))
  return gz
}

/** `make()` on the first call, the same value after: one snapshot shared by a file's tests. */
function once(make) {
  let value
  let done = false
  return () => {
    if (!done) {
      value = make()
      done = true
    }
    return value
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A script prelude: `heapsnap` is the module under test, `Marker` a class to count. */
function prelude() {
  return `const heapsnap = require(${JSON.stringify(ROOT)});\n`
}

/**
 * Runs `code` in a new node process. Returns { status, signal, stdout, stderr, json } where
 * `json` is the last stdout line parsed, when it is JSON.
 */
function runNode(code, { cwd, env, args = [], shell, timeout = 120_000 } = {}) {
  const opts = {
    cwd: cwd ?? ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
  }
  const script = prelude() + code
  const res = shell
    ? spawnSync('bash', ['-c', `${shell}; exec "$0" "$@"`, NODE, ...args, '-e', script], opts)
    : spawnSync(NODE, [...args, '-e', script], opts)
  const lines = (res.stdout || '').trim().split('\n')
  let json
  try {
    json = JSON.parse(lines[lines.length - 1])
  } catch {}
  return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr, json, error: res.error }
}

/** Like runNode, but asserts a clean exit and returns the parsed last line. */
function runNodeOk(code, opts) {
  const res = runNode(code, opts)
  assert.equal(
    res.status,
    0,
    `child failed (status ${res.status}, signal ${res.signal}):\n${res.stderr}\n${res.stdout}`,
  )
  return res.json
}

/** Starts a node process in the background. */
function spawnNode(code, { cwd, env, args = [] } = {}) {
  return spawn(NODE, [...args, '-e', prelude() + code], {
    cwd: cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Reads a snapshot file, gunzipping when the content is gzip (whatever the name says). */
function readSnapshotText(file) {
  let buf = fs.readFileSync(file)
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf)
  return buf.toString('latin1')
}

function isGzip(file) {
  const fd = fs.openSync(file, 'r')
  const b = Buffer.alloc(2)
  fs.readSync(fd, b, 0, 2, 0)
  fs.closeSync(fd)
  return b[0] === 0x1f && b[1] === 0x8b
}

/**
 * Parses a snapshot and asserts the format invariants: `nodes` holds node_count × stride
 * numbers (stride from meta: 7 node fields on Node ≤ 22, 6 on 24+), `edges` edge_count × 3, the
 * nodes' edge counts add up to edge_count, node 0 is the synthetic root, every edge points at
 * a node.
 */
function parseSnapshot(file) {
  const text = readSnapshotText(file)
  // oxlint-disable-next-line no-control-regex -- the range is the point: ASCII only
  assert.ok(/^[\x00-\x7f]*$/.test(text.slice(0, 65536)), 'snapshot JSON is ASCII')
  const snap = JSON.parse(text)
  const meta = snap.snapshot.meta
  const stride = meta.node_fields.length
  const estride = meta.edge_fields.length
  assert.ok(stride === 6 || stride === 7, `node stride ${stride}`)
  assert.equal(snap.nodes.length, snap.snapshot.node_count * stride, 'nodes.length == node_count * stride')
  assert.equal(snap.edges.length, snap.snapshot.edge_count * estride, 'edges.length == edge_count * 3')
  const ecIdx = meta.node_fields.indexOf('edge_count')
  const typeIdx = meta.node_fields.indexOf('type')
  let sum = 0
  for (let i = ecIdx; i < snap.nodes.length; i += stride) sum += snap.nodes[i]
  assert.equal(sum, snap.snapshot.edge_count, 'sum of node edge counts == edge_count')
  assert.equal(meta.node_types[0][snap.nodes[typeIdx]], 'synthetic', 'node 0 is the synthetic root')
  const toIdx = meta.edge_fields.indexOf('to_node')
  for (let i = toIdx; i < snap.edges.length; i += estride) {
    const to = snap.edges[i]
    if (to % stride !== 0 || to >= snap.nodes.length) assert.fail(`edge to_node ${to} is not a node offset`)
  }
  return snap
}

/** How many nodes of `type` (default 'object') are named `name`. */
function countNodes(snap, name, type = 'object') {
  const meta = snap.snapshot.meta
  const stride = meta.node_fields.length
  const typeIdx = meta.node_fields.indexOf('type')
  const nameIdx = meta.node_fields.indexOf('name')
  const typeNum = meta.node_types[0].indexOf(type)
  const nameNum = snap.strings.indexOf(name)
  if (nameNum < 0) return 0
  let n = 0
  for (let i = 0; i < snap.nodes.length; i += stride) {
    if (snap.nodes[i + typeIdx] === typeNum && snap.nodes[i + nameIdx] === nameNum) n++
  }
  // A name may be interned more than once in older formats: count every index that matches.
  for (let s = nameNum + 1; s < snap.strings.length; s++) {
    if (snap.strings[s] !== name) continue
    for (let i = 0; i < snap.nodes.length; i += stride) {
      if (snap.nodes[i + typeIdx] === typeNum && snap.nodes[i + nameIdx] === s) n++
    }
  }
  return n
}

function countIn(file, name) {
  return countNodes(parseSnapshot(file), name)
}

/** The files in `dir` (names only, sorted). */
function ls(dir) {
  return fs.readdirSync(dir).sort()
}

module.exports = {
  ROOT,
  NODE,
  SERIALIZING_HEAP_OBJECTS,
  tmpdir,
  gzipCopy,
  once,
  sleep,
  runNode,
  runNodeOk,
  spawnNode,
  readSnapshotText,
  parseSnapshot,
  countNodes,
  countIn,
  isGzip,
  ls,
}
