'use strict'

// kill -9 in the middle of a dump; process exit while a dump is in flight; worker.terminate()
// while that worker is dumping.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, sleep, spawnNode, runNode, runNodeOk, countIn, ls, ROOT } = require('../helpers')

test('kill -9 mid-dump: no final-named file, only a 0600 tmp, removed by the next dump there', async () => {
  const dir = tmpdir('kill9')
  // ~600k objects: the dump takes seconds, so the kill lands in the middle of it.
  const child = spawnNode(`
    globalThis.keep = Array.from({ length: 600000 }, (_, i) => ({ i, s: 'v' + i }));
    console.log('ready');
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none' });
  `)
  await new Promise((resolve) => child.stdout.once('data', resolve))
  // Wait until the tmp file exists and is growing, then kill.
  let tmp
  for (let i = 0; i < 2400 && !tmp; i++) {
    await sleep(25)
    tmp = ls(dir).find((f) => f.endsWith('.tmp') && fs.statSync(path.join(dir, f)).size > 0)
  }
  assert.ok(tmp, `a tmp file appeared: ${ls(dir)}`)
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const left = ls(dir)
  assert.equal(left.filter((f) => /\.heapsnapshot(\.gz)?$/.test(f)).length, 0, `no final-named file: ${left}`)
  assert.ok(
    left.every((f) => f.endsWith('.tmp')),
    `only tmp files remain: ${left}`,
  )
  for (const f of left) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`)
  // The next dump into the same directory removes the dead process's tmp file.
  const next = runNodeOk(
    `heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }).then((r) => console.log(JSON.stringify(r.path)))`,
  )
  assert.deepEqual(ls(dir).sort(), [path.basename(next), `${path.basename(next)}.json`].sort())
})

test('process.exit() while a dump is being written: the exit waits for the final file', () => {
  const dir = tmpdir('exit')
  const res = runNode(`
    class Exiting {}
    globalThis.keep = Array.from({ length: 2000 }, () => new Exiting());
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, level: 9 });
    // The JS part (generation) is done when snapshot() has been called and its microtask ran;
    // exit while the writer thread is still compressing at level 9.
    setImmediate(() => process.exit(0));
  `)
  assert.equal(res.status, 0, res.stderr)
  const files = ls(dir)
  const snaps = files.filter((f) => f.endsWith('.heapsnapshot.gz'))
  assert.equal(snaps.length, 1, `${files}`)
  assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, 'no tmp left behind')
  assert.equal(countIn(path.join(dir, snaps[0]), 'Exiting'), 2000)
})

test('worker.terminate() while that worker is dumping: no crash, no partial final file', () => {
  const dir = tmpdir('terminate')
  const res = runNode(
    `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(\`
      const heapsnap = require(\${JSON.stringify(${JSON.stringify(ROOT)})});
      globalThis.keep = Array.from({ length: 300000 }, (_, i) => ({ i }));
      require('node:worker_threads').parentPort.postMessage('go');
      heapsnap.snapshot({ dir: \${JSON.stringify(${JSON.stringify(dir)})} });
    \`, { eval: true });
    w.on('message', () => setTimeout(() => w.terminate().then((code) => console.log(JSON.stringify({ code }))), 100));
    w.on('error', (e) => console.log(JSON.stringify({ error: e.message })));
  `,
    { timeout: 120_000 },
  )
  assert.equal(res.status, 0, res.stderr)
  assert.equal(res.signal, null)
  const files = ls(dir)
  for (const f of files.filter((name) => name.endsWith('.heapsnapshot.gz'))) {
    // Any file under the final name must be complete.
    assert.ok(countIn(path.join(dir, f), 'Object') >= 0)
  }
  assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, `no tmp left: ${files}`)
})
