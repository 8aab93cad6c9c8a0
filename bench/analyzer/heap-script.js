'use strict'

// The code of a child process that builds the analyzer benches' mixed heap and writes its
// snapshot (bench/analyzer/compare.js and devtools.js).

const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')

// The mixed heap of the analyzer benches (small objects, Maps/Sets, long strings, a Map of
// Leak objects, a WeakMap, closures), `scale` 1 ≈ 255–300 MB of plain snapshot. With `second`, the
// process writes a second snapshot after some objects went and others came.
const MAKE_HEAP = (scale, file, second) => `
  const v8 = require('node:v8');
  const { buildHeap } = require(${JSON.stringify(path.join(ROOT, 'bench', 'heaps.js'))});
  class Leak { constructor(i) { this.i = i; this.tag = 'leak-' + (i % 97); this.at = Date.now() } }
  const keep = {
    small: buildHeap('small-objects', 70 * ${scale}).root,
    maps: buildHeap('maps-sets', 25 * ${scale}).root,
    strings: buildHeap('strings', 15 * ${scale}).root,
    leaks: new Map(),
    weak: new WeakMap(),
    handlers: [],
  };
  for (let i = 0; i < 200000 * ${scale}; i++) keep.leaks.set(i, new Leak(i));
  for (let i = 0; i < 20000 * ${scale}; i++) { const k = { k: i }; keep.handlers.push(k); keep.weak.set(k, { payload: new Array(4).fill(i) }) }
  for (let i = 0; i < 20000 * ${scale}; i++) { const n = i; keep.handlers.push(() => n + 1) }
  globalThis.keep = keep;
  v8.writeHeapSnapshot(${JSON.stringify(file)});
  if (${JSON.stringify(second ?? null)}) {
    class Session { constructor(i) { this.id = i; this.user = 'user-' + i; this.items = [i, i + 1] } }
    for (let i = 0; i < 100000 * ${scale}; i++) keep.leaks.delete(i * 2);
    keep.sessions = [];
    for (let i = 0; i < 150000 * ${scale}; i++) keep.sessions.push(new Session(i));
    keep.handlers.length = keep.handlers.length >> 1;
    v8.writeHeapSnapshot(${JSON.stringify(second)});
  }
`

module.exports = { MAKE_HEAP }
