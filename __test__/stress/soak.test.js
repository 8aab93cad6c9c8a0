'use strict'

// 200 dumps in a row in one process: memory returns to its baseline band, no fd leak.

const test = require('node:test')
const assert = require('node:assert/strict')
const { tmpdir, runNodeOk } = require('../helpers')

test('200 dumps in a row: RSS back in its baseline band, file descriptors stable', () => {
  const dir = tmpdir('soak')
  const out = runNodeOk(
    `
    const fs = require('node:fs');
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const rss = () => process.memoryUsage.rss();
    (async () => {
      // Warm up: first dumps allocate lazily initialised V8 and allocator state.
      for (let i = 0; i < 10; i++) {
        const r = await heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, sidecar: i % 2 === 0 });
        fs.unlinkSync(r.path); if (r.sidecar) fs.unlinkSync(r.sidecar);
      }
      const base = { rss: rss(), fds: fds() };
      const samples = [];
      for (let i = 0; i < 200; i++) {
        const r = i % 3 === 0
          ? await heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none', sidecar: false })
          : await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} });
        fs.unlinkSync(r.path); if (r.sidecar) fs.unlinkSync(r.sidecar);
        if (i % 20 === 19) samples.push({ rss: rss(), fds: fds() });
      }
      console.log(JSON.stringify({ base, samples, end: { rss: rss(), fds: fds() } }));
    })();
  `,
    { timeout: 600_000 },
  )
  const mb = (b) => (b / 2 ** 20).toFixed(1)
  console.log(
    `# RSS baseline ${mb(out.base.rss)} MiB, samples ${out.samples.map((s) => mb(s.rss)).join(' ')} MiB; fds ${out.base.fds} -> ${out.end.fds}`,
  )
  for (const s of out.samples) assert.equal(s.fds, out.base.fds, 'no file descriptor leak')
  // A leak of one snapshot's buffers per dump would add >= 1 MiB per dump (200+ MiB here).
  const growth = out.end.rss - out.base.rss
  assert.ok(growth < 48 * 2 ** 20, `RSS grew ${mb(growth)} MiB over 200 dumps`)
})
