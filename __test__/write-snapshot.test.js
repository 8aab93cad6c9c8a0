'use strict'

// heapdump 0.3.15's contract for writeSnapshot([filename], [callback]).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, runNodeOk, isGzip, countIn, ls } = require('./helpers')

test('the four call shapes, a synchronous callback, the boolean return and the default name', () => {
  const dir = tmpdir('shapes')
  const out = runNodeOk(`
    class Shape {}
    globalThis.keep = [new Shape(), new Shape(), new Shape()];
    process.chdir(${JSON.stringify(dir)});
    const log = [];
    const r0 = heapsnap.writeSnapshot();
    let returned = false;
    const r1 = heapsnap.writeSnapshot((err, name) => log.push({ shape: 'cb', err, name, returned }));
    returned = true;
    const r2 = heapsnap.writeSnapshot('named.heapsnapshot');
    returned = false;
    const r3 = heapsnap.writeSnapshot('both.heapsnapshot.gz', (err, name) => log.push({ shape: 'both', err, name, returned }));
    returned = true;
    let calls = 0;
    const r4 = heapsnap.writeSnapshot(42, (err, name) => { calls++; log.push({ shape: 'nonstring', err, name }) });
    console.log(JSON.stringify({ r: [r0, r1, r2, r3, r4], log, calls }));
  `)
  assert.deepEqual(out.r, [true, true, true, true, true])
  assert.equal(out.calls, 1, 'the callback runs exactly once')
  const [cb, both, nonstring] = out.log
  assert.equal(cb.err, null)
  assert.equal(cb.returned, false, 'the callback runs before writeSnapshot returns')
  assert.match(cb.name, /^heapdump-\d+\.\d+\.heapsnapshot$/, 'default name is relative, heapdump-<ms>.<ns>')
  assert.equal(both.name, 'both.heapsnapshot.gz', 'a given name comes back as given')
  assert.equal(both.returned, false)
  assert.match(nonstring.name, /^heapdump-\d+\.\d+\.heapsnapshot$/, 'a non-string filename is ignored')
  const files = ls(dir)
  const defaults = files.filter((f) => /^heapdump-\d+\.\d+\.heapsnapshot$/.test(f))
  assert.equal(defaults.length, 3, `three default-named files in cwd, unique per call: ${files}`)
  assert.ok(files.includes('named.heapsnapshot'))
  assert.ok(files.includes(cb.name))
  assert.equal(isGzip(path.join(dir, 'both.heapsnapshot.gz')), true, '.gz names are gzip')
  assert.equal(isGzip(path.join(dir, 'named.heapsnapshot')), false, 'other names are plain JSON')
  assert.equal(countIn(path.join(dir, 'both.heapsnapshot.gz'), 'Shape'), 3)
  assert.equal(countIn(path.join(dir, cb.name), 'Shape'), 3)
  assert.equal(files.filter((f) => f.endsWith('.json') || f.endsWith('.tmp')).length, 0, 'no sidecar, no tmp')
})

test('heapdump write error ENOENT for a missing directory, with code, path and syscall', () => {
  const out = runNodeOk(`
    let seen;
    const ret = heapsnap.writeSnapshot('/does/not/exist/x.heapsnapshot', (err, name) => {
      seen = { message: err.message, code: err.code, path: err.path, syscall: err.syscall, errno: err.errno, isError: err instanceof Error, name };
    });
    console.log(JSON.stringify({ ret, seen }));
  `)
  assert.equal(out.ret, false)
  assert.deepEqual(out.seen, {
    message: 'heapdump write error ENOENT',
    code: 'ENOENT',
    path: '/does/not/exist/x.heapsnapshot',
    syscall: 'open',
    errno: -2,
    isError: true,
  })
  assert.equal(fs.existsSync('/does/not/exist'), false)
})

test('a failure without a callback returns false and throws nothing', () => {
  const out = runNodeOk(`
    console.log(JSON.stringify({ ret: heapsnap.writeSnapshot('/does/not/exist/y.heapsnapshot') }));
  `)
  assert.equal(out.ret, false)
})
