'use strict'

// createHandler() mounted beside a normal route, under load (127.0.0.1 only, bounded in time):
// autocannon hits the normal route while three snapshots are fetched over HTTP, one after the
// other. No failed request on the normal route; p99 with and without is reported.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const zlib = require('node:zlib')
const autocannon = require('autocannon')
const { tmpdir, spawnNode, ls } = require('../helpers')

const TOKEN = 'load-test-token-0123456789'

function server(dir) {
  const child = spawnNode(`
    const http = require('node:http');
    const snap = heapsnap.createHandler({ token: ${JSON.stringify(TOKEN)}, dir: ${JSON.stringify(dir)}, audit: () => {} });
    const cache = new Map();
    for (let i = 0; i < 50000; i++) cache.set(i, { at: i, body: 'x' + i }); // a heap worth dumping
    let n = 0;
    const srv = http.createServer((req, res) => {
      if (req.url.startsWith('/debug/heapsnapshot')) return snap(req, res);
      cache.set(50000 + (n++ % 50000), { at: Date.now(), body: 'x'.repeat(64) }); // allocation churn
      setImmediate(() => res.end('ok'));
    });
    srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
  `)
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve({ child, port: JSON.parse(d).port })))
}

/** One autocannon run; resolves with its result and the codes of the request errors seen. */
function load(port, duration) {
  return new Promise((resolve, reject) => {
    const codes = {}
    const instance = autocannon(
      { url: `http://127.0.0.1:${port}/`, connections: 10, duration, timeout: 30 },
      (err, result) => (err ? reject(err) : resolve({ ...result, errorCodes: codes })),
    )
    instance.on('reqError', (e) => (codes[e.code ?? e.message] = (codes[e.code ?? e.message] ?? 0) + 1))
  })
}

/** GETs one snapshot; resolves with { status, bytes, ms } after checking the gzip body. */
function fetchSnapshot(port) {
  const t0 = Date.now()
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: '/debug/heapsnapshot',
        headers: { authorization: `Bearer ${TOKEN}` },
        agent: false,
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          let raw = 0
          if (res.statusCode === 200) raw = zlib.gunzipSync(body).length
          resolve({ status: res.statusCode, bytes: body.length, raw, ms: Date.now() - t0 })
        })
      },
    )
    req.on('error', reject)
    req.setTimeout(90_000, () => req.destroy(new Error('snapshot request timed out')))
  })
}

test(
  'normal route under load while three snapshots are fetched: no failed request',
  { timeout: 240_000 },
  async (t) => {
    const dir = tmpdir('http-load')
    const { child, port } = await server(dir)
    try {
      const baseline = await load(port, 8)
      const fetches = []
      const running = load(port, 15)
      // Three snapshots, one after the other, while the load runs.
      const fetching = (async () => {
        await new Promise((r) => setTimeout(r, 1000))
        for (let i = 0; i < 3; i++) fetches.push(await fetchSnapshot(port))
      })()
      const [withDumps] = await Promise.all([running, fetching])
      const row = (name, r) =>
        `${name}: ${r.requests.total} requests, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms, errors ${r.errors} ${JSON.stringify(r.errorCodes)}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}`
      t.diagnostic(row('without snapshots', baseline))
      t.diagnostic(row('with 3 snapshots ', withDumps))
      for (const f of fetches) {
        t.diagnostic(
          `snapshot: ${f.status}, ${(f.bytes / 2 ** 20).toFixed(1)} MiB gzip (${(f.raw / 2 ** 20).toFixed(1)} MiB raw) in ${f.ms} ms`,
        )
      }
      assert.deepEqual(
        fetches.map((f) => f.status),
        [200, 200, 200],
      )
      for (const r of [baseline, withDumps]) {
        assert.equal(r.errors, 0)
        assert.equal(r.timeouts, 0)
        assert.equal(r.non2xx, 0)
        assert.ok(r.requests.total > 0)
      }
      assert.equal(child.exitCode, null, 'server alive')
      assert.deepEqual(ls(dir), [], 'no spool left')
    } finally {
      child.kill()
    }
  },
)
