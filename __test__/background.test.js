'use strict'

// Background serialization (issue 17): V8 generates the snapshot on the JS thread, a Rust
// thread serializes it, and the JS thread deletes it. Each safety rule has a test here.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, runNode, runNodeOk, countIn, ls, ROOT, SERIALIZING_HEAP_OBJECTS } = require('./helpers')

const BINDING = JSON.stringify(path.join(ROOT, 'lib', 'binding.js'))
/** A kept graph of `n` Marker objects. */
const markers = (n) => `class Marker { constructor(i) { this.i = i } }
globalThis.keep = Array.from({ length: ${n} }, (_, i) => new Marker(i));\n`

test('default: background; the JS thread runs while the snapshot serializes; stallMs is generation', () => {
  const dir = tmpdir('bg-default')
  const out = runNodeOk(`${markers(1234)}
    globalThis.more = Array.from({ length: ${SERIALIZING_HEAP_OBJECTS} }, (_, i) => ({ i, s: 'x' + i }));
    const caps = heapsnap.capabilities().serialize;
    let ticks = 0;
    const p = heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none' });
    const iv = setInterval(() => { ticks++; globalThis.churn = Array.from({ length: 1000 }, () => ({})) }, 1);
    p.then((r) => { clearInterval(iv); console.log(JSON.stringify({ caps, r, ticks })) });
  `)
  assert.equal(out.caps.mode, 'background', out.caps.reason)
  assert.equal(out.r.serialize, 'background')
  assert.ok(out.r.stallMs < out.r.generateMs + out.r.serializeMs, JSON.stringify(out.r))
  assert.ok(out.ticks > 0, 'timers ran during the dump')
  assert.equal(countIn(out.r.path, 'Marker'), 1234)
})

test("serialize: 'inline' and HEAPSNAP_SERIALIZE=inline serialize on the JS thread", () => {
  const dir = tmpdir('bg-inline')
  const out = runNodeOk(`${markers(321)}
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, serialize: 'inline' }).then((r) =>
      console.log(JSON.stringify({ r })));
  `)
  assert.equal(out.r.serialize, 'inline')
  assert.ok(out.r.stallMs >= out.r.generateMs + out.r.serializeMs, JSON.stringify(out.r))
  assert.equal(countIn(out.r.path, 'Marker'), 321)
  const env = runNodeOk(
    `heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }).then((r) =>
      console.log(JSON.stringify({ mode: r.serialize, caps: heapsnap.capabilities().serialize })));`,
    { env: { HEAPSNAP_SERIALIZE: 'inline' } },
  )
  assert.equal(env.mode, 'inline')
  assert.deepEqual(env.caps, { mode: 'inline', reason: 'HEAPSNAP_SERIALIZE=inline' })
  const bad = runNode(`heapsnap.snapshot({ serialize: 'later' }).catch((e) => console.log(JSON.stringify(e.code)))`)
  assert.equal(bad.json, 'ERR_INVALID_ARG_VALUE')
})

test('a second dump and estimate({ count: true }) wait for the running serialization; the snapshot is alive until Delete', () => {
  const dir = tmpdir('bg-second')
  const out = runNodeOk(`${markers(777)}
    globalThis.more = Array.from({ length: 100000 }, (_, i) => ({ i }));
    const binding = require(${BINDING});
    const opts = (name) => ({ path: ${JSON.stringify(dir)} + '/' + name, compress: 'none', sidecar: false, quiet: true, serialize: 'background' });
    // Straight to the native layer, past the JS queue: the native rule alone must hold.
    const a = binding.dump(opts('a.heapsnapshot'));
    const alive = binding.backgroundOutstanding();
    const b = binding.dump(opts('b.heapsnapshot')); // generation waits for a's serialization
    const afterB = binding.backgroundOutstanding();
    heapsnap.estimate({ count: true }).then(async (est) => {
      const afterEstimate = binding.backgroundOutstanding();
      const [ra, rb] = await Promise.all([a, b]);
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ alive, afterB, afterEstimate, ra, rb, objects: est.objectCount, end: binding.backgroundOutstanding() }));
    });
  `)
  assert.equal(out.alive, 1, 'the first snapshot is alive while it serializes')
  assert.equal(out.afterB, 1, "b's generation deleted a's snapshot first; b's is alive")
  assert.equal(out.afterEstimate, 0, 'estimate waited and deleted')
  assert.ok(out.ra.ok && out.rb.ok, JSON.stringify(out))
  assert.ok(out.objects > 0)
  assert.equal(out.end, 0)
  assert.equal(countIn(path.join(dir, 'a.heapsnapshot'), 'Marker'), 777)
  assert.equal(countIn(path.join(dir, 'b.heapsnapshot'), 'Marker'), 777)
})

test('process exit waits for a running background serialization', () => {
  const dir = tmpdir('bg-exit')
  const res = runNode(`${markers(4321)}
    globalThis.more = Array.from({ length: ${SERIALIZING_HEAP_OBJECTS} }, (_, i) => ({ i, s: 'v' + i }));
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none' });
    // The snapshot() call returned after generation: exit while it serializes.
    setImmediate(() => process.exit(0));
  `)
  assert.equal(res.status, 0, res.stderr)
  const files = ls(dir).filter((f) => f.endsWith('.heapsnapshot'))
  assert.equal(files.length, 1, `one complete file: ${ls(dir)}`)
  assert.ok(!ls(dir).some((f) => f.endsWith('.tmp')), `no tmp left: ${ls(dir)}`)
  assert.equal(countIn(path.join(dir, files[0]), 'Marker'), 4321)
})

test('worker termination mid-serialization is clean: no crash, no partial file', () => {
  const dir = tmpdir('bg-worker')
  for (let round = 0; round < 3; round++) {
    const out = runNodeOk(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const heapsnap = require(${JSON.stringify(ROOT)});
        const { parentPort } = require('node:worker_threads');
        ${markers(999).replace(/`/g, '\\`')}
        globalThis.more = Array.from({ length: ${SERIALIZING_HEAP_OBJECTS} }, (_, i) => ({ i, s: 'w' + i }));
        heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none' }).catch(() => {});
        setImmediate(() => parentPort.postMessage('generated'));
        setInterval(() => { globalThis.x = Array.from({ length: 1000 }, () => ({})) }, 1);
      \`, { eval: true });
      w.once('message', () => setTimeout(() => w.terminate().then((code) => console.log(JSON.stringify({ code }))), ${round * 20}));
    `)
    assert.equal(typeof out.code, 'number')
  }
  const left = ls(dir)
  assert.ok(!left.some((f) => f.endsWith('.tmp')), `no tmp left: ${left}`)
  // A dump that completed before the termination is whole.
  for (const f of left.filter((n) => n.endsWith('.heapsnapshot')))
    assert.equal(countIn(path.join(dir, f), 'Marker'), 999)
})

test('inline while the library samples allocation sites, while an inspector session is connected, while the inspector is open', () => {
  const dir = tmpdir('bg-profilers')
  const out = runNodeOk(`${markers(55)}
    const inspector = require('node:inspector');
    const { startSampling } = require(${JSON.stringify(path.join(ROOT, 'lib', 'allocation-sites.js'))});
    const d = { dir: ${JSON.stringify(dir)}, compress: 'none' };
    (async () => {
      const res = {};
      const stop = await startSampling();
      res.sampling = [heapsnap.capabilities().serialize, (await heapsnap.snapshot(d)).serialize];
      await stop();
      res.afterSampling = (await heapsnap.snapshot(d)).serialize;
      const s = new inspector.Session();
      s.connect();
      res.session = [heapsnap.capabilities().serialize, (await heapsnap.snapshot(d)).serialize];
      s.disconnect();
      res.afterSession = (await heapsnap.snapshot(d)).serialize;
      // Node's own snapshot API waits for a running background serialization.
      const p = heapsnap.snapshot(d);
      await new Promise((r) => setImmediate(r));
      const file = require('node:v8').writeHeapSnapshot(${JSON.stringify(path.join(dir, 'node.heapsnapshot'))});
      res.node = (await p).serialize;
      inspector.open(0);
      res.open = [heapsnap.capabilities().serialize, (await heapsnap.snapshot(d)).serialize];
      inspector.close();
      console.log(JSON.stringify(res));
    })();
  `)
  assert.equal(out.sampling[0].mode, 'inline')
  assert.match(out.sampling[0].reason, /sampling heap profiler/)
  assert.equal(out.sampling[1], 'inline')
  assert.equal(out.afterSampling, 'background')
  assert.deepEqual(out.session, [{ mode: 'inline', reason: 'an inspector session is connected' }, 'inline'])
  assert.equal(out.afterSession, 'background')
  assert.equal(out.node, 'background')
  assert.equal(out.open[0].mode, 'inline')
  assert.equal(out.open[1], 'inline')
  for (const f of ls(dir).filter((n) => n.endsWith('.heapsnapshot')))
    assert.equal(countIn(path.join(dir, f), 'Marker'), 55)
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')))
})

test('a session connected before the package loads: its HeapProfiler calls wait; heap-object tracking (its own or --track-heap-objects) makes dumps inline', () => {
  const dir = tmpdir('bg-early-session')
  // Connected by a preload script, before the test's code requires the package.
  const preload = path.join(dir, 'early-session.js')
  fs.writeFileSync(
    preload,
    "const s = new (require('node:inspector').Session)(); s.connect(); globalThis.earlySession = s;\n",
  )
  const out = runNodeOk(
    `${markers(77)}
    const s = globalThis.earlySession;
    const post = (m, p = {}) => new Promise((ok, ko) => s.post(m, p, (e, r) => (e ? ko(e) : ok(r))));
    const d = { dir: ${JSON.stringify(dir)}, compress: 'none' };
    (async () => {
      const res = { early: heapsnap.capabilities().serialize.mode };
      // Its own snapshot while ours serializes in the background: the post waits for ours.
      let chunks = '';
      s.on('HeapProfiler.addHeapSnapshotChunk', (m) => (chunks += m.params.chunk));
      const p = heapsnap.snapshot(d);
      await new Promise((r) => setImmediate(r));
      await post('HeapProfiler.takeHeapSnapshot');
      res.first = (await p).serialize;
      const theirs = JSON.parse(chunks);
      res.theirs = theirs.strings.filter((x) => x === 'Marker').length;
      await post('HeapProfiler.startTrackingHeapObjects');
      res.tracking = [heapsnap.capabilities().serialize, (await heapsnap.snapshot(d)).serialize];
      await post('HeapProfiler.stopTrackingHeapObjects');
      res.stopped = (await heapsnap.snapshot(d)).serialize;
      console.log(JSON.stringify(res));
    })();
  `,
    { args: ['--require', preload] },
  )
  assert.equal(out.early, 'background', 'a session connected before load is not counted')
  assert.equal(out.first, 'background')
  assert.equal(out.theirs, 1, "the session's own snapshot is whole (one 'Marker' string)")
  assert.deepEqual(out.tracking, [{ mode: 'inline', reason: 'heap-object tracking is on' }, 'inline'])
  assert.equal(out.stopped, 'background')
  const flagged = runNodeOk(
    `${markers(5)}
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, compress: 'none' }).then((r) =>
      console.log(JSON.stringify([heapsnap.capabilities().serialize.reason, r.serialize])));
  `,
    { args: ['--track-heap-objects'] },
  )
  assert.deepEqual(flagged, ['heap-object tracking is on', 'inline'])
  const files = ls(dir).filter((n) => n.endsWith('.heapsnapshot'))
  assert.equal(files.length, 4)
  for (const f of files) assert.equal(countIn(path.join(dir, f), 'Marker'), f === files[3] ? 5 : 77)
  assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')))
})

test('writeSnapshot stays synchronous and inline', () => {
  const dir = tmpdir('bg-write')
  const out = runNodeOk(`${markers(11)}
    const file = ${JSON.stringify(path.join(dir, 'w.heapsnapshot'))};
    const ok = heapsnap.writeSnapshot(file);
    console.log(JSON.stringify({ ok, size: require('node:fs').statSync(file).size, outstanding: require(${BINDING}).backgroundOutstanding() }));
  `)
  assert.equal(out.ok, true)
  assert.ok(out.size > 0)
  assert.equal(out.outstanding, 0)
  assert.equal(countIn(path.join(dir, 'w.heapsnapshot'), 'Marker'), 11)
})
