'use strict'

// Context-aware: the main thread and two workers each snapshot their own heap; the process
// exits 0. Also capabilities().

const test = require('node:test')
const assert = require('node:assert/strict')
const { tmpdir, runNode, runNodeOk, countIn, ROOT } = require('./helpers')

test('main thread and two workers each take their own snapshot; exit code 0', () => {
  const dir = tmpdir('workers')
  const res = runNode(`
    const { Worker } = require('node:worker_threads');
    class MainOnly {}
    globalThis.keep = Array.from({ length: 1000 }, () => new MainOnly());
    const workerCode = (name, n) => \`
      const heapsnap = require(\${JSON.stringify(${JSON.stringify(ROOT)})});
      const { parentPort } = require('node:worker_threads');
      class \${name} {}
      globalThis.keep = Array.from({ length: \${n} }, () => new \${name}());
      heapsnap.snapshot({ dir: \${JSON.stringify(${JSON.stringify(dir)})} }).then((r) => parentPort.postMessage(r.path));
    \`;
    const run = (name, n) => new Promise((resolve, reject) => {
      const w = new Worker(workerCode(name, n), { eval: true });
      w.once('message', resolve);
      w.once('error', reject);
    });
    Promise.all([
      heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }).then((r) => r.path),
      run('WorkerA', 2000),
      run('WorkerB', 3000),
    ]).then(([main, a, b]) => console.log(JSON.stringify({ main, a, b })));
  `)
  assert.equal(res.status, 0, res.stderr)
  const { main, a, b } = res.json
  assert.equal(countIn(main, 'MainOnly'), 1000)
  assert.equal(countIn(main, 'WorkerA'), 0)
  assert.equal(countIn(a, 'WorkerA'), 2000)
  assert.equal(countIn(a, 'MainOnly'), 0)
  assert.equal(countIn(b, 'WorkerB'), 3000)
  assert.equal(countIn(b, 'WorkerA'), 0)
  const side = require(`${a}.json`)
  assert.ok(side.threadId > 0 && side.isMainThread === false, 'the sidecar names the worker thread')
})

test('capabilities() reports the native engine and the resolved symbols', () => {
  const caps = runNodeOk(`console.log(JSON.stringify(heapsnap.capabilities()))`)
  assert.equal(caps.engine, 'native')
  assert.ok(['legacy', 'options'].includes(caps.takeSnapshot))
  assert.equal(caps.interrupts, true)
  assert.equal(caps.nearHeapLimit, true)
  assert.match(caps.symbols['HeapSnapshot::Serialize'], /^_ZNK2v812HeapSnapshot9Serialize/)
  assert.equal(caps.node, runNodeOk(`console.log(JSON.stringify(process.version))`))
  const forced = runNodeOk(`console.log(JSON.stringify(heapsnap.capabilities()))`, { env: { HEAPSNAP_ENGINE: 'js' } })
  assert.equal(forced.engine, 'js')
  assert.match(forced.reason, /HEAPSNAP_ENGINE/)
})
