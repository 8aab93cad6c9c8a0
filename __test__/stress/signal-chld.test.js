'use strict'

// SIGUSR2 from short-lived children: each child sends the signal and exits at once, so its
// SIGCHLD arrives while the SIGUSR2 handler runs. heapsnap's handler chains to libuv's, which
// takes a lock that libuv's SIGCHLD handler takes too; with SIGCHLD not blocked during the
// chained call, the SIGCHLD handler waited for that lock on the same thread forever: the
// service hung (seen once in CI, in signals.test.js's `sh -c 'sleep 0.3; kill -USR2 …'`).

const test = require('node:test')
const assert = require('node:assert/strict')
const { tmpdir, spawnNode, ls } = require('../helpers')

test('SIGUSR2 sent by children that exit at once: the process never hangs', async (t) => {
  const dir = tmpdir('signal-chld')
  const child = spawnNode(`
    // The directory goes away after the check at install: every dump then fails at once
    // (one stderr line), so that the children, and the signals, come thousands a second.
    const gone = require('node:path').join(${JSON.stringify(dir)}, 'gone');
    require('node:fs').mkdirSync(gone);
    heapsnap.installSignalHandler({ dir: gone });
    require('node:fs').rmdirSync(gone);
    const { spawn } = require('node:child_process');
    let exited = 0, stop = false;
    const more = () => {
      if (stop) return;
      spawn('kill', ['-USR2', String(process.pid)], { stdio: 'ignore' })
        .on('exit', () => { exited++; setImmediate(more) });
    };
    for (let i = 0; i < 4; i++) more();
    setTimeout(() => { stop = true; process.stdout.write(JSON.stringify({ exited }) + '\\n'); process.exit(0) }, 6000);
  `)
  let out = ''
  let stderr = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let timer
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 60_000)))
  const result = await Promise.race([exited, timeout])
  clearTimeout(timer)
  if (result === 'timeout') child.kill('SIGKILL')
  assert.notEqual(result, 'timeout', `the process hung (stderr: ${stderr.slice(-500)})`)
  assert.equal(result.code, 0, stderr.slice(-2000))
  const { exited: children } = JSON.parse(out.trim().split('\n').pop())
  t.diagnostic(`${children} signalling children exited; ${ls(dir).length} files written`)
  assert.ok(children > 100, `${children} children`)
})
