'use strict'

// Every export with thousands of generated arguments: only TypeError, RangeError, documented
// errors with a code, or the argument's own thrown error. Never an abort, a crash or a hang.

const test = require('node:test')
const assert = require('node:assert/strict')
const { tmpdir, runNode } = require('../helpers')

test('fuzzing the exports with generated arguments', () => {
  const dir = tmpdir('fuzz')
  const res = runNode(
    `
    const BOOM = 'boom-from-a-getter';
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const values = () => [
      undefined, null, true, false, 0, -1, 1, 1.5, 9, 10, NaN, Infinity, -Infinity, 2 ** 53,
      '', 'a', 'x'.repeat(100000), 'a\\0b', 'gzip', 'none', 'SIGUSR2', 'SIGKILL', 'SIGTERM',
      Symbol('s'), 10n, [], [1], {}, () => {}, new Date(), /x/,
      new Proxy({}, { get() { throw new Error(BOOM) } }),
      new Proxy({}, { ownKeys() { throw new Error(BOOM) } }),
    ];
    const keys = ['path', 'dir', 'compress', 'level', 'sidecar', 'progress', 'quiet', 'signal', 'workers',
      'maxSnapshots', 'heapUsedMB', 'rssMB', 'stepMB', 'intervalMs', 'onSnapshot', 'onError', 'bogus'];
    const missing = '/does/not/exist/fuzz';
    const genOptions = () => {
      const r = rnd();
      if (r < 0.15) return pick(values());
      const o = {};
      for (let k = Math.floor(rnd() * 4); k > 0; k--) o[pick(keys)] = pick(values());
      // Valid-looking options must not write real files: point them at a missing directory.
      if (rnd() < 0.7) { if ('path' in o) o.path = missing + '/x'; else o.dir = missing }
      return o;
    };
    const unexpected = [];
    const check = (where, e) => {
      if (e instanceof TypeError || e instanceof RangeError) return;
      if (e && typeof e.code === 'string') return;
      if (e && e.message === BOOM) return;
      unexpected.push(where + ': ' + (e && e.stack || String(e)));
    };
    (async () => {
      let calls = 0;
      for (let i = 0; i < 1000; i++) {
        const o = genOptions();
        try { await heapsnap.snapshot(o) } catch (e) { check('snapshot', e) }
        for (const [name, fn] of [['installSignalHandler', heapsnap.installSignalHandler], ['onNearHeapLimit', heapsnap.onNearHeapLimit], ['watch', heapsnap.watch]]) {
          try { const r = fn(genOptions()); if (name === 'watch' && r) r.stop() } catch (e) { check(name, e) }
        }
        calls += 4;
      }
      heapsnap.removeSignalHandler(); heapsnap.offNearHeapLimit();
      for (let i = 0; i < 1000; i++) {
        const f = rnd() < 0.5 ? missing + '/' + i : pick([missing, 'a\\0b', '/does/not/exist', '']);
        try { heapsnap.writeSnapshot(f, pick([undefined, () => {}, 1])) } catch (e) { check('writeSnapshot', e) }
        try { heapsnap.capabilities(pick(values())) } catch (e) { check('capabilities', e) }
        calls += 2;
      }
      console.log(JSON.stringify({ calls, unexpected: unexpected.slice(0, 5), n: unexpected.length }));
    })();
  `,
    { cwd: dir, timeout: 480_000 },
  )
  assert.equal(res.signal, null, `no crash: ${res.stderr}`)
  assert.equal(res.status, 0, res.stderr)
  console.log(`# ${res.json.calls} fuzzed calls`)
  assert.deepEqual(res.json.unexpected, [])
})
