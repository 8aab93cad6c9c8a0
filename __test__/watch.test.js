'use strict'

// watch(): threshold dumps.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { tmpdir, runNode } = require('./helpers')

test('heapUsedMB 40, stepMB 20: a heap growing to ~90 MB gives exactly 3 snapshots (40, 60, 80)', () => {
  const dir = tmpdir('watch')
  const res = runNode(
    `
    const results = [];
    const w = heapsnap.watch({
      heapUsedMB: 40, stepMB: 20, intervalMs: 50, dir: ${JSON.stringify(dir)},
      onSnapshot: (r) => results.push(r), onError: (e) => { console.error(e); process.exit(2) },
    });
    const hold = [];
    const grow = setInterval(() => {
      hold.push(new Array(131072).fill(hold.length)); // about 1 MiB per tick
      if (require('node:v8').getHeapStatistics().used_heap_size > 90 * 2 ** 20) {
        clearInterval(grow);
        setTimeout(() => {
          w.stop();
          console.log(JSON.stringify(results.map((r) => r.sidecar)));
        }, 1500);
      }
    }, 40);
  `,
    { timeout: 120_000 },
  )
  assert.equal(res.status, 0, res.stderr)
  const sidecars = res.json.map((p) => JSON.parse(fs.readFileSync(p, 'utf8')))
  assert.deepEqual(
    sidecars.map((s) => s.thresholdMB),
    [40, 60, 80],
  )
  for (const s of sidecars) {
    assert.equal(s.trigger, 'threshold')
    assert.equal(s.metric, 'heapUsed')
    assert.ok(s.valueMB >= s.thresholdMB)
  }
})

test('watch never keeps the process alive and validates its options', () => {
  const t0 = Date.now()
  const res = runNode(`
    const out = [];
    for (const o of [undefined, {}, { heapUsedMB: -1 }, { rssMB: 'x' }, { heapUsedMB: 1, intervalMs: 0 }, { heapUsedMB: 1, bogus: 1 }]) {
      try { heapsnap.watch(o); out.push('ok') } catch (e) { out.push(e.code) }
    }
    heapsnap.watch({ rssMB: 1e6, intervalMs: 10 });
    console.log(JSON.stringify(out));
  `)
  assert.equal(res.status, 0, res.stderr)
  assert.ok(Date.now() - t0 < 5000)
  assert.deepEqual(res.json, [
    'ERR_INVALID_ARG_TYPE',
    'ERR_MISSING_ARGS',
    'ERR_OUT_OF_RANGE',
    'ERR_INVALID_ARG_TYPE',
    'ERR_OUT_OF_RANGE',
    'ERR_INVALID_ARG_VALUE',
  ])
})
