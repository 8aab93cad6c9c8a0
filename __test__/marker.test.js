'use strict'

// Acceptance: 12,345 instances of `class Marker` are exactly what both APIs' files hold, on
// the native engine and on the JS fallback engine.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { tmpdir, runNodeOk, countIn, isGzip } = require('./helpers')

const MAKE_MARKERS = `
class Marker { constructor(i) { this.i = i } }
globalThis.keep = Array.from({ length: 12345 }, (_, i) => new Marker(i));
`

for (const engine of ['native', 'js']) {
  test(`${engine} engine: writeSnapshot (plain) and snapshot() (gzip) each hold exactly 12,345 Markers`, async () => {
    const dir = tmpdir('marker')
    const out = runNodeOk(
      `${MAKE_MARKERS}
      const plain = ${JSON.stringify(path.join(dir, 'plain.heapsnapshot'))};
      const ok = heapsnap.writeSnapshot(plain);
      heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }).then((r) => {
        console.log(JSON.stringify({ ok, plain, r, engine: heapsnap.capabilities().engine }));
      });
    `,
      { env: { HEAPSNAP_ENGINE: engine } },
    )
    assert.equal(out.engine, engine)
    assert.equal(out.ok, true)
    assert.equal(isGzip(out.plain), false, 'writeSnapshot without .gz is plain JSON')
    assert.equal(countIn(out.plain, 'Marker'), 12345)
    assert.equal(out.r.compression, 'gzip')
    assert.equal(out.r.level, 2, 'the default level')
    assert.match(path.basename(out.r.path), /^heapsnap-\d{8}T\d{6}-\d+-\d+\.heapsnapshot\.gz$/)
    assert.equal(isGzip(out.r.path), true)
    assert.equal(countIn(out.r.path, 'Marker'), 12345)
    assert.ok(out.r.rawBytes > out.r.bytes * 2, `gzip shrinks the file (${out.r.rawBytes} -> ${out.r.bytes})`)
    assert.ok(out.r.stallMs > 0 && out.r.totalMs >= out.r.stallMs)
  })
}
