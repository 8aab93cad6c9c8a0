'use strict'

// Dumps every few seconds in an HTTP server under load (127.0.0.1 only, bounded in time):
// no failed request, no connection error, the process survives. Reports p99 with and without.

const test = require('node:test')
const assert = require('node:assert/strict')
const autocannon = require('autocannon')
const { tmpdir, spawnNode, ls } = require('../helpers')

function server(dir, dumpEveryMs) {
  const child = spawnNode(`
    const http = require('node:http');
    const cache = new Map();
    let n = 0;
    const srv = http.createServer((req, res) => {
      cache.set(n++ % 50000, { at: Date.now(), body: 'x'.repeat(64) }); // allocation churn
      setImmediate(() => res.end('ok'));
    });
    srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
    ${dumpEveryMs ? `setInterval(() => heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, sidecar: false }), ${dumpEveryMs});` : ''}
  `)
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve({ child, port: JSON.parse(d).port })))
}

async function load(port) {
  return autocannon({ url: `http://127.0.0.1:${port}/`, connections: 20, duration: 12, timeout: 30 })
}

test('HTTP server under load with a dump every 3 s: 0 errors, 0 non-2xx, survives', async () => {
  const dir = tmpdir('load')
  const quiet = await server(dir, 0)
  const baseline = await load(quiet.port)
  quiet.child.kill()
  const busy = await server(dir, 3000)
  const withDumps = await load(busy.port)
  const alive = busy.child.exitCode === null
  busy.child.kill()
  const dumps = ls(dir).filter((f) => f.endsWith('.heapsnapshot.gz')).length
  console.log(
    `# without dumps: ${baseline.requests.total} requests, p99 ${baseline.latency.p99} ms; ` +
      `with ${dumps} dumps: ${withDumps.requests.total} requests, p99 ${withDumps.latency.p99} ms, max ${withDumps.latency.max} ms`,
  )
  assert.ok(alive, 'the server survived')
  assert.ok(dumps >= 2, `${dumps} dumps taken`)
  for (const r of [baseline, withDumps]) {
    assert.equal(r.errors, 0, 'no connection errors')
    assert.equal(r.timeouts, 0, 'no timeouts')
    assert.equal(r.non2xx, 0, 'no failed requests')
    assert.ok(r.requests.total > 1000)
  }
})
