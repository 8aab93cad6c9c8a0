'use strict'

// Fast fault cases: ENOSPC on a tiny tmpfs, ENAMETOOLONG, NUL bytes, EACCES as an
// unprivileged user, no debugger port. Each: a clear error with `code`, no final-named file,
// the process alive and able to take the next snapshot.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { tmpdir, runNodeOk, countIn, ls, NODE, ROOT } = require('./helpers')

/** In a child: snapshot() and writeSnapshot() to `target`, then a good snapshot into `okDir`. */
function failThenSucceed(target, okDir, opts = {}) {
  return runNodeOk(
    `
    class Alive {}
    globalThis.keep = [new Alive()];
    let cb;
    const ret = heapsnap.writeSnapshot(${JSON.stringify(target)}, (err) => { cb = err && { message: err.message, code: err.code, syscall: err.syscall } });
    heapsnap.snapshot({ path: ${JSON.stringify(target)} }).then(
      () => ({ resolved: true }),
      (err) => ({ code: err.code, syscall: err.syscall, path: err.path, message: err.message, name: err.name }),
    ).then(async (rej) => {
      const next = await heapsnap.snapshot({ dir: ${JSON.stringify(okDir)} });
      console.log(JSON.stringify({ ret, cb, rej, next: next.path }));
    });
  `,
    opts,
  )
}

test('ENOSPC mid-stream on a 1 MiB tmpfs: error with code, no file left, next snapshot fine', (t) => {
  const mnt = tmpdir('enospc')
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])
  if (m.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${String(m.stderr).trim() || m.error}): ENOSPC not exercised`)
    return
  }
  try {
    const target = path.join(mnt, 'full.heapsnapshot')
    const out = failThenSucceed(target, tmpdir('enospc-ok'))
    assert.equal(out.ret, false)
    assert.deepEqual(out.cb, { message: 'heapdump write error ENOSPC', code: 'ENOSPC', syscall: 'write' })
    assert.equal(out.rej.code, 'ENOSPC')
    assert.equal(out.rej.path, target)
    assert.deepEqual(ls(mnt), [], 'neither a final-named file nor a tmp file')
    assert.equal(countIn(out.next, 'Alive'), 1)
  } finally {
    spawnSync('umount', [mnt])
  }
})

test('ENAMETOOLONG and NUL bytes', () => {
  const dir = tmpdir('names')
  const long = path.join(dir, `${'x'.repeat(300)}.heapsnapshot`)
  const out = failThenSucceed(long, dir)
  assert.equal(out.cb.code, 'ENAMETOOLONG')
  assert.equal(out.rej.code, 'ENAMETOOLONG')
  const nul = runNodeOk(
    `
    let cb;
    const ret = heapsnap.writeSnapshot('a\\0b.heapsnapshot', (err) => { cb = { code: err.code, message: err.message } });
    heapsnap.snapshot({ path: 'a\\0b' }).catch((e) => console.log(JSON.stringify({ ret, cb, rej: { name: e.name, code: e.code } })));
  `,
    { cwd: dir },
  )
  assert.equal(nul.ret, false)
  assert.deepEqual(nul.cb, { code: 'ERR_INVALID_ARG_VALUE', message: 'heapdump write error ERR_INVALID_ARG_VALUE' })
  assert.deepEqual(nul.rej, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
  assert.equal(ls(dir).filter((f) => !f.startsWith('heapsnap-')).length, 0, 'nothing but the good snapshots')
})

test('EACCES: a read-only directory, as an unprivileged user', (t) => {
  const probe = spawnSync('setpriv', [
    '--reuid=nobody',
    '--regid=nogroup',
    '--clear-groups',
    NODE,
    '-e',
    `require(${JSON.stringify(ROOT)})`,
  ])
  if (probe.status !== 0) {
    t.skip(
      `cannot run node as 'nobody' here (${String(probe.stderr).trim().split('\n')[0] || probe.error}): EACCES not exercised`,
    )
    return
  }
  const dir = tmpdir('eacces')
  fs.chmodSync(dir, 0o755) // readable, not writable, by nobody
  const okDir = tmpdir('eacces-ok')
  fs.chmodSync(okDir, 0o777)
  const target = path.join(dir, 'x.heapsnapshot')
  const res = spawnSync(
    'setpriv',
    [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      NODE,
      '-e',
      `
    const heapsnap = require(${JSON.stringify(ROOT)});
    let cb;
    const ret = heapsnap.writeSnapshot(${JSON.stringify(target)}, (err) => { cb = err && err.code });
    heapsnap.snapshot({ path: ${JSON.stringify(target)} }).catch((e) => e.code).then(async (rej) => {
      const next = await heapsnap.snapshot({ dir: ${JSON.stringify(okDir)} });
      console.log(JSON.stringify({ ret, cb, rej, next: next.path }));
    });
  `,
    ],
    { encoding: 'utf8', cwd: okDir },
  )
  assert.equal(res.status, 0, res.stderr)
  const out = JSON.parse(res.stdout.trim().split('\n').pop())
  assert.equal(out.ret, false)
  assert.equal(out.cb, 'EACCES')
  assert.equal(out.rej, 'EACCES')
  assert.deepEqual(ls(dir), [], 'nothing written')
  assert.ok(fs.existsSync(out.next))
})

test('no debugger port is ever opened, even with the dump bound to SIGUSR1', async () => {
  const listening9229 = () => {
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = ''
      try {
        text = fs.readFileSync(f, 'utf8')
      } catch {
        continue
      }
      // local_address ends with :240D (9229); state 0A is LISTEN
      if (text.split('\n').some((l) => / [0-9A-F]+:240D [0-9A-F]+:[0-9A-F]+ 0A /.test(l))) return true
    }
    return false
  }
  const run = (withModule) =>
    new Promise((resolve) => {
      const { spawn } = require('node:child_process')
      const dir = tmpdir('usr1')
      const child = spawn(
        NODE,
        [
          '-e',
          `${withModule ? `require(${JSON.stringify(ROOT)});` : ''} setTimeout(() => {}, 20000); console.log('ready')`,
        ],
        {
          cwd: dir,
          env: { ...process.env, HEAPSNAP_SIGNAL: 'SIGUSR1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child.stdout.once('data', async () => {
        child.kill('SIGUSR1')
        await new Promise((r) => setTimeout(r, 1500))
        // With the module, wait for the dump itself (slow on a loaded machine), then look again.
        const dumped = () => ls(dir).some((f) => f.endsWith('.heapsnapshot'))
        if (withModule) {
          for (let i = 0; i < 150 && !dumped(); i++) await new Promise((r) => setTimeout(r, 100))
        }
        const open = listening9229()
        child.kill('SIGKILL')
        child.once('exit', () => resolve({ open, files: ls(dir) }))
      })
    })
  if (listening9229()) assert.fail('something else already listens on 9229')
  const control = await run(false)
  assert.equal(control.open, true, 'control: a plain node opens the inspector on SIGUSR1 (the check can fail)')
  const ours = await run(true)
  assert.equal(ours.open, false, 'with heapsnap-native bound to SIGUSR1, no debugger port')
  assert.equal(ours.files.filter((f) => f.endsWith('.heapsnapshot')).length, 1, 'and SIGUSR1 dumped')
})
