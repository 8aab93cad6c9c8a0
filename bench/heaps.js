'use strict'

// Heap shapes for the benchmark. Each builder is deterministic (seeded PRNG, fixed counts), so
// every fresh process of the same heap holds the same objects. Sizes are approximate: the number
// of units comes from a per-shape estimate of the bytes one unit retains (measured with
// `node bench/child.js --calibrate`); the child reports the real `heapUsed` after building.

/** mulberry32: a small, fast, seeded PRNG. */
function prng(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KINDS = ['user', 'order', 'item', 'session', 'event', 'invoice', 'product', 'address']
const WORDS = [
  'GET',
  'POST',
  '/api/v1/users',
  '/api/v1/orders',
  'status=200',
  'status=404',
  'latency_ms',
  'request_id',
  'trace',
  'span',
  'user-agent',
  'Mozilla/5.0',
  'cache=miss',
  'region=eu-west-1',
  'retry',
  'upstream',
  'timeout',
  'ok',
  'error',
  'debug',
  'info',
  'warn',
]

function hex(rand, n) {
  let s = ''
  for (let i = 0; i < n; i++) s += ((rand() * 16) | 0).toString(16)
  return s
}

/**
 * Many small objects: records that point at each other (a parent link), with a small integer,
 * a shared kind string and, for one in eight, a unique short label.
 */
function smallObjects(units, rand) {
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    all[i] = {
      id: i,
      kind: KINDS[i & 7],
      parent: i > 0 ? all[(rand() * i) | 0] : null,
      label: (i & 7) === 0 ? 'item-' + i : null,
    }
  }
  return all
}

/** Long strings: log-like text (fixed words, random hex ids), 256 B – 8 KiB each, flat. */
function longStrings(units, rand) {
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    const target = 256 + ((rand() * 7936) | 0)
    const parts = []
    let len = 0
    while (len < target) {
      const p = WORDS[(rand() * WORDS.length) | 0] + ' id=' + hex(rand, 12) + ' n=' + ((rand() * 1e6) | 0) + '\n'
      parts.push(p)
      len += p.length
    }
    all[i] = parts.join('') // join makes a flat sequential string
  }
  return all
}

/** Arrays of numbers: half of doubles, half of small integers, 64–1024 elements each. */
function numberArrays(units, rand) {
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    const n = 64 + ((rand() * 960) | 0)
    const a = []
    if (i & 1) for (let j = 0; j < n; j++) a.push(rand() * 1000)
    else for (let j = 0; j < n; j++) a.push((rand() * 100000) | 0)
    all[i] = a
  }
  return all
}

/** Maps and Sets: Maps of unique string keys to small objects, Sets of integers, 8–64 entries. */
function mapsSets(units, rand) {
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    const n = 8 + ((rand() * 56) | 0)
    if (i & 1) {
      const s = new Set()
      for (let j = 0; j < n; j++) s.add((rand() * 1e9) | 0)
      all[i] = s
    } else {
      const m = new Map()
      for (let j = 0; j < n; j++) m.set('k' + i + ':' + j, { v: j, w: i })
      all[i] = m
    }
  }
  return all
}

/** Closures: one function per unit, each closing over a small object of its own (id, unique name). */
function closures(units) {
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    const o = { id: i, name: 'n' + i }
    all[i] = () => o.id + o.name.length
  }
  return all
}

/**
 * Wide objects: records of 64 fields (a parsed row, a config object), each field a reference to
 * one shared object. Every field is an edge of the snapshot, so an object costs ~2.5 KiB to dump:
 * the shape an object count underestimates.
 */
function wideObjects(units) {
  const shared = { name: 'shared' }
  const all = new Array(units)
  for (let i = 0; i < units; i++) {
    const o = {}
    for (let p = 0; p < 64; p++) o['f' + p] = shared
    all[i] = o
  }
  return all
}

// bytesPerUnit: retained heap per unit, measured with --calibrate on Node 20 (x64, no pointer
// compression). Only used to pick a unit count for a target size; the real heapUsed is reported.
const SHAPES = {
  'small-objects': { build: smallObjects, bytesPerUnit: 68, describe: 'many small objects' },
  strings: { build: longStrings, bytesPerUnit: 4236, describe: 'long strings' },
  'number-arrays': { build: numberArrays, bytesPerUnit: 5478, describe: 'arrays of numbers' },
  'maps-sets': { build: mapsSets, bytesPerUnit: 2388, describe: 'Maps/Sets' },
  closures: { build: closures, bytesPerUnit: 168, describe: 'closures over small objects' },
  'wide-objects': { build: wideObjects, bytesPerUnit: 3430, describe: 'objects of 64 fields' },
}

/**
 * Builds a heap of `shape` of about `mb` MiB; returns the root (keep it alive) and the unit
 * count. `bytesPerUnit` may be overridden (calibration).
 */
function buildHeap(shape, mb, bytesPerUnit) {
  const s = SHAPES[shape]
  if (!s) throw new Error(`unknown heap shape ${shape} (known: ${Object.keys(SHAPES).join(', ')})`)
  const units = Math.max(1, Math.round((mb * 1048576) / (bytesPerUnit || s.bytesPerUnit)))
  const root = s.build(units, prng(0x5eed + units))
  return { root, units }
}

module.exports = { SHAPES, buildHeap }
