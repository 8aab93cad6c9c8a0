'use strict'

// snapshot(): options, naming, the sidecar, file modes, queueing, validation.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, runNodeOk, countIn, isGzip, ls } = require('./helpers')

test('files are mode 0600 and the sidecar has every listed field', () => {
  const dir = tmpdir('sidecar')
  const out = runNodeOk(`
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, level: 6 }).then((r) => console.log(JSON.stringify(r)));
  `)
  assert.equal(out.trigger, 'api')
  assert.equal(out.compression, 'gzip')
  assert.equal(out.level, 6)
  assert.equal(out.sidecar, `${out.path}.json`)
  for (const f of [out.path, out.sidecar]) {
    assert.equal(fs.statSync(f).mode & 0o777, 0o600, `${f} is 0600`)
  }
  assert.equal(fs.statSync(out.path).size, out.bytes)
  const s = JSON.parse(fs.readFileSync(out.sidecar, 'utf8'))
  const pkg = require('../package.json')
  assert.equal(s.heapsnapNative, pkg.version)
  assert.equal(s.node, process.version.startsWith('v') ? s.node : s.node)
  assert.match(s.node, /^v\d+\./)
  assert.equal(typeof s.v8, 'string')
  assert.equal(typeof s.pid, 'number')
  assert.equal(typeof s.hostname, 'string')
  assert.equal(s.platform, process.platform)
  assert.equal(s.arch, process.arch)
  assert.equal(s.threadId, 0)
  assert.equal(s.trigger, 'api')
  assert.ok(Date.parse(s.startTime) <= Date.parse(s.endTime))
  for (const k of ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'])
    assert.equal(typeof s.memoryUsage[k], 'number', k)
  for (const k of ['total_heap_size', 'used_heap_size', 'heap_size_limit'])
    assert.equal(typeof s.heapStatistics[k], 'number', k)
  assert.equal(s.rawBytes, out.rawBytes)
  assert.equal(s.bytes, out.bytes)
  assert.equal(s.stallMs, out.stallMs)
  assert.equal(s.totalMs, out.totalMs)
  assert.equal(s.compression, 'gzip')
  assert.equal(s.level, 6)
  assert.equal(s.path, out.path)
})

test('path, dir, HEAPSNAP_DIR, compress and sidecar options', () => {
  const dir = tmpdir('opts')
  const envDir = tmpdir('envdir')
  const out = runNodeOk(
    `
    (async () => {
      const a = await heapsnap.snapshot({ path: ${JSON.stringify(path.join(dir, 'exact.heapsnapshot'))} });
      const b = await heapsnap.snapshot({ path: ${JSON.stringify(path.join(dir, 'exact2.heapsnapshot.gz'))}, sidecar: false });
      const c = await heapsnap.snapshot({ compress: 'none' });
      process.chdir(${JSON.stringify(dir)});
      const d = await heapsnap.snapshot({ path: 'relative.heapsnapshot', compress: 'gzip' });
      console.log(JSON.stringify({ a, b, c, d }));
    })();
  `,
    { env: { HEAPSNAP_DIR: envDir } },
  )
  assert.equal(out.a.compression, 'none', 'an exact path without .gz is plain')
  assert.equal(out.a.level, null)
  assert.equal(isGzip(out.a.path), false)
  assert.equal(out.b.compression, 'gzip', 'an exact path with .gz is gzip')
  assert.equal(out.b.sidecar, null)
  assert.equal(fs.existsSync(`${out.b.path}.json`), false)
  assert.equal(path.dirname(out.c.path), envDir, 'HEAPSNAP_DIR is the default directory')
  assert.match(path.basename(out.c.path), /^heapsnap-\d{8}T\d{6}-\d+-\d+\.heapsnapshot$/)
  assert.equal(out.d.path, path.join(dir, 'relative.heapsnapshot'), 'relative paths resolve against cwd at call time')
  assert.equal(isGzip(out.d.path), true, 'compress wins over the extension')
})

test('ten concurrent snapshot() calls queue and give ten complete, distinct files', () => {
  const dir = tmpdir('concurrent')
  const out = runNodeOk(`
    class Ten {}
    globalThis.keep = Array.from({ length: 1000 }, () => new Ten());
    const order = [];
    const calls = Array.from({ length: 10 }, (_, i) =>
      heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: i % 2 ? 'gzip' : 'none' }).then((r) => { order.push(i); return r }));
    Promise.all(calls).then((rs) => console.log(JSON.stringify({ paths: rs.map((r) => r.path), order })));
  `)
  assert.equal(new Set(out.paths).size, 10)
  assert.deepEqual(out.order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'FIFO: one at a time, in call order')
  for (const p of out.paths) assert.equal(countIn(p, 'Ten'), 1000, p)
  const names = ls(dir)
  assert.equal(names.length, 20, 'ten snapshots and ten sidecars, no tmp files')
  // Sortable names: the sequence number increases with the call order.
  const seqs = out.paths.map((p) => Number(/-(\d+)\.heapsnapshot/.exec(p)[1]))
  assert.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
  )
})

test('invalid options reject with TypeError/RangeError and a code; nothing is written', async () => {
  const heapsnap = require('..')
  const dir = tmpdir('invalid')
  const cases = [
    [42, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ path: '' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 'a\0b' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ dir: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ path: 'a', dir: dir }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ compress: 'zstd', dir }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ level: 0, dir }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ level: 10, dir }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ level: 1.5, dir }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ level: '6', dir }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ sidecar: 'yes', dir }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ progress: 1, dir }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ compresion: 'none', dir }, TypeError, 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [opts, Ctor, code] of cases) {
    let threw = false
    const p = (() => {
      try {
        return heapsnap.snapshot(opts)
      } catch {
        threw = true
      }
    })()
    assert.equal(threw, false, 'snapshot() never throws synchronously')
    await assert.rejects(p, (err) => err instanceof Ctor && err.code === code, JSON.stringify(opts))
  }
  assert.deepEqual(ls(dir), [])
})

test('progress: true prints generating and written lines on stderr', () => {
  const dir = tmpdir('progress')
  const res = require('./helpers').runNode(`
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, progress: true }).then(() => console.log('{}'));
  `)
  assert.equal(res.status, 0, res.stderr)
  assert.match(res.stderr, /^heapsnap: generating \d+%$/m)
  assert.match(res.stderr, /^heapsnap: written [\d.]+ (?:B|KiB|MiB|GiB) \([\d.]+ (?:B|KiB|MiB|GiB) on disk\)$/m)
})
