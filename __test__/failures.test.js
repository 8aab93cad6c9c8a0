'use strict'

// Failures give a clear error with code, path and syscall; no final-named file appears; the
// process stays alive and can take the next snapshot.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, runNodeOk, countIn, ls } = require('./helpers')

/** In a child: try `target` with snapshot() and writeSnapshot(), then take a good snapshot. */
function tryBoth(target, { shell } = {}) {
  const dir = tmpdir('fail-next')
  const out = runNodeOk(
    `
    class Alive {}
    globalThis.keep = [new Alive()];
    const target = ${JSON.stringify(target)};
    let cb;
    const ret = heapsnap.writeSnapshot(target, (err) => { cb = err && { message: err.message, code: err.code, path: err.path, syscall: err.syscall } });
    heapsnap.snapshot({ path: target }).then(
      () => ({ resolved: true }),
      (err) => ({ message: err.message, code: err.code, path: err.path, syscall: err.syscall, isError: err instanceof Error }),
    ).then(async (rej) => {
      const next = await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} });
      console.log(JSON.stringify({ ret, cb, rej, next: next.path }));
    });
  `,
    { shell },
  )
  assert.equal(countIn(out.next, 'Alive'), 1, 'the process can take the next snapshot')
  return out
}

function noFinalFile(target) {
  let st
  try {
    st = fs.lstatSync(target)
  } catch {}
  return st === undefined
}

test('ENOENT: missing directory', () => {
  const target = path.join(tmpdir('enoent'), 'missing', 'x.heapsnapshot')
  const out = tryBoth(target)
  assert.equal(out.ret, false)
  assert.deepEqual(out.cb, { message: 'heapdump write error ENOENT', code: 'ENOENT', path: target, syscall: 'open' })
  assert.equal(out.rej.code, 'ENOENT')
  assert.equal(out.rej.path, target)
  assert.equal(out.rej.syscall, 'open')
  assert.equal(out.rej.message, `ENOENT: no such file or directory, open '${target}'`)
  assert.ok(noFinalFile(target))
})

test('EISDIR: a directory as the path', () => {
  const target = tmpdir('eisdir')
  const out = tryBoth(target)
  assert.equal(out.cb.code, 'EISDIR')
  assert.equal(out.rej.code, 'EISDIR')
  assert.equal(out.rej.path, target)
  assert.deepEqual(ls(target), [], 'nothing written inside the directory')
})

test('ENOTDIR: a file used as a directory', () => {
  const dir = tmpdir('enotdir')
  const file = path.join(dir, 'file')
  fs.writeFileSync(file, 'x')
  const target = path.join(file, 'x.heapsnapshot')
  const out = tryBoth(target)
  assert.equal(out.cb.code, 'ENOTDIR')
  assert.equal(out.rej.code, 'ENOTDIR')
  assert.equal(out.rej.syscall, 'open')
  assert.deepEqual(ls(dir), ['file'])
})

test('EFBIG: the file-size limit hit mid-stream (ulimit -f, SIGXFSZ ignored by node)', () => {
  const dir = tmpdir('efbig')
  const target = path.join(dir, 'big.heapsnapshot')
  // 2 MiB (bash counts KiB): the plain snapshot of an almost empty heap is several MB of JSON, so the limit is
  // hit mid-stream; the gzip snapshot taken next is well under it.
  const out = tryBoth(target, { shell: 'ulimit -f 2048' })
  assert.equal(out.cb.code, 'EFBIG')
  assert.equal(out.cb.syscall, 'write')
  assert.equal(out.rej.code, 'EFBIG')
  assert.equal(out.rej.syscall, 'write')
  assert.equal(out.rej.path, target)
  assert.deepEqual(ls(dir), [], 'no final-named file and no tmp file left')
})

test('a symlink planted at the final name is refused and its target untouched', () => {
  const dir = tmpdir('symlink')
  const victim = path.join(dir, 'victim.txt')
  fs.writeFileSync(victim, 'precious')
  const target = path.join(dir, 'x.heapsnapshot')
  fs.symlinkSync(victim, target)
  const out = tryBoth(target)
  assert.equal(out.cb.code, 'ELOOP')
  assert.equal(out.rej.code, 'ELOOP')
  assert.equal(out.rej.path, target)
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', 'the link target is untouched')
  assert.ok(fs.lstatSync(target).isSymbolicLink(), 'the link is still a link (no final-named file)')
  assert.deepEqual(ls(dir), ['victim.txt', 'x.heapsnapshot'])
})
