'use strict'

// Signal dumps: while JS spins, while the loop is idle, in a burst, alongside process.on
// listeners, with NODE_HEAPDUMP_OPTIONS and HEAPSNAP_SIGNAL. Exit behaviour.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, sleep, spawnNode, runNode, countIn, ls } = require('./helpers')

/** Waits for `line` on the child's stdout. */
function waitFor(child, text, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${text}'; got: ${out}`)), timeoutMs)
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes(text)) {
        clearTimeout(timer)
        resolve(out)
      }
    })
  })
}

function exited(child) {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

function collect(stream) {
  let s = ''
  stream.on('data', (d) => {
    s += d
  })
  return () => s
}

async function waitForFiles(dir, pred, count, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs
  for (;;) {
    const files = ls(dir).filter(pred)
    if (files.length >= count) return files
    if (Date.now() > end) return files
    await sleep(20)
  }
}

const isSnapshot = (f) => /\.heapsnapshot(\.gz)?$/.test(f)

test('a dump happens while JS is stuck in a busy loop, within 50 ms of the signal', async () => {
  const dir = tmpdir('busy')
  const child = spawnNode(`
    class Spinner {}
    globalThis.keep = Array.from({ length: 777 }, () => new Spinner());
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)} });
    require('node:child_process').spawn('sh', ['-c', 'sleep 0.3; kill -USR2 ' + process.pid], { stdio: 'ignore' });
    const end = Date.now() + 6000;
    while (Date.now() < end) {}
    const files = require('node:fs').readdirSync(${JSON.stringify(dir)});
    console.log(JSON.stringify({ files }));
  `)
  const stderr = collect(child.stderr)
  const out = collect(child.stdout)
  const { code } = await exited(child)
  assert.equal(code, 0, stderr())
  const { files } = JSON.parse(out().trim().split('\n').pop())
  const snaps = files.filter((f) => f.endsWith('.heapsnapshot.gz'))
  assert.equal(snaps.length, 1, `one snapshot on disk when the loop ended: ${files}`)
  assert.ok(files.includes(`${snaps[0]}.json`), 'and its sidecar')
  assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0)
  const file = path.join(dir, snaps[0])
  assert.equal(countIn(file, 'Spinner'), 777)
  const side = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8'))
  assert.equal(side.trigger, 'signal')
  assert.ok(side.signalLatencyMs < 50, `dump started ${side.signalLatencyMs} ms after the signal`)
  test.diagnostic?.(`signal -> dump start while spinning: ${side.signalLatencyMs} ms`)
  console.log(`# busy-loop signal latency: ${side.signalLatencyMs} ms`)
  assert.match(stderr(), /^heapsnap: wrote .+\.heapsnapshot\.gz \([\d.]+ (?:B|KiB|MiB|GiB), stalled \d+ ms\)$/m)
})

test('an idle process dumps within 1 s of the signal plus the dump itself', async () => {
  const dir = tmpdir('idle')
  const child = spawnNode(`
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)}, quiet: true });
    setTimeout(() => {}, 10000);
    console.log('ready');
  `)
  await waitFor(child, 'ready')
  await sleep(200) // let the loop go idle
  const t0 = Date.now()
  child.kill('SIGUSR2')
  const files = await waitForFiles(dir, (f) => f.endsWith('.json'), 1)
  const elapsed = Date.now() - t0
  child.kill('SIGKILL')
  await exited(child)
  assert.equal(files.length, 1)
  const side = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'))
  assert.ok(elapsed < 1000 + side.totalMs, `${elapsed} ms from signal to durable file (dump took ${side.totalMs} ms)`)
  console.log(`# idle signal latency: ${side.signalLatencyMs} ms, durable after ${elapsed} ms`)
})

test('1000 signals in a burst give one or two dumps and the process keeps running', async () => {
  const dir = tmpdir('burst')
  const child = spawnNode(`
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)}, quiet: true, compress: 'none' });
    setInterval(() => {}, 1000);
    console.log('ready');
  `)
  await waitFor(child, 'ready')
  for (let i = 0; i < 1000; i++) process.kill(child.pid, 'SIGUSR2')
  await sleep(3000)
  const snaps = await waitForFiles(dir, isSnapshot, 1)
  await sleep(2000) // a possible second dump
  const final = ls(dir).filter(isSnapshot)
  assert.equal(child.exitCode, null, 'still running')
  assert.equal(child.signalCode, null)
  child.kill('SIGKILL')
  await exited(child)
  assert.ok(snaps.length >= 1 && final.length <= 2, `${final.length} dumps`)
  console.log(`# 1000 signals -> ${final.length} dump(s)`)
})

test('process.on listeners still fire; nosignal leaves only them; HEAPSNAP_SIGNAL picks the signal', async () => {
  const run = async (env, signal) => {
    const dir = tmpdir('listener')
    const child = spawnNode(
      `
      let fired = 0;
      process.on('${signal}', () => { fired++; console.log('fired ' + fired) });
      setTimeout(() => {}, 20000);
      console.log('ready');
    `,
      { cwd: dir, env },
    )
    const stderr = collect(child.stderr)
    await waitFor(child, 'ready')
    child.kill(signal)
    await waitFor(child, 'fired 1')
    await sleep(1500)
    const files = ls(dir)
    child.kill('SIGKILL')
    await exited(child)
    return { files, stderr: stderr() }
  }
  const normal = await run({}, 'SIGUSR2')
  assert.equal(normal.files.length, 1, `the implicit handler wrote one file: ${normal.files}`)
  assert.match(normal.files[0], /^heapdump-\d+\.\d+\.heapsnapshot$/, 'heapdump naming, in cwd, uncompressed')
  assert.match(normal.stderr, /heapsnap: wrote heapdump-\d+\.\d+\.heapsnapshot/)
  const off = await run({ NODE_HEAPDUMP_OPTIONS: 'nosignal' }, 'SIGUSR2')
  assert.deepEqual(off.files, [], 'nosignal: only the listener fires')
  const usr1 = await run({ HEAPSNAP_SIGNAL: 'SIGUSR1' }, 'SIGUSR1')
  assert.equal(usr1.files.length, 1, 'HEAPSNAP_SIGNAL=SIGUSR1: the dump comes on SIGUSR1')
  const warn = await run({ NODE_HEAPDUMP_OPTIONS: 'signal,bogus' }, 'SIGUSR2')
  assert.match(warn.stderr, /unknown NODE_HEAPDUMP_OPTIONS option 'bogus'/)
  assert.equal(warn.files.length, 1)
})

test('removing a user listener never leaves the signal deadly; removeSignalHandler restores it', async () => {
  const dir = tmpdir('remove')
  const child = spawnNode(
    `
    const fn = () => {};
    process.on('SIGUSR2', fn);
    process.removeListener('SIGUSR2', fn); // libuv would reset SIGUSR2 to SIG_DFL here
    setTimeout(() => {}, 20000);
    process.stdin; // keep nothing else
    console.log('ready');
    process.on('SIGWINCH', () => { console.log('removed ' + heapsnap.removeSignalHandler()) });
  `,
    { cwd: dir },
  )
  await waitFor(child, 'ready')
  child.kill('SIGUSR2')
  await waitForFiles(dir, isSnapshot, 1)
  assert.equal(child.exitCode, null, 'SIGUSR2 did not kill the process')
  assert.equal(child.signalCode, null)
  child.kill('SIGWINCH')
  await waitFor(child, 'removed true')
  child.kill('SIGUSR2')
  const { signal } = await exited(child)
  assert.equal(signal, 'SIGUSR2', 'after removeSignalHandler the default action is back')
})

test('invalid signals are refused clearly', () => {
  const res = runNode(`
    const out = {};
    for (const s of ['SIGKILL', 'SIGSTOP', 'SIGSEGV', 'SIGTERM', 'SIGNOPE', 42]) {
      try { heapsnap.installSignalHandler({ signal: s }); out[s] = 'installed' }
      catch (e) { out[s] = e.constructor.name + ' ' + e.code }
    }
    try { heapsnap.installSignalHandler({ dir: '/does/not/exist' }) } catch (e) { out.dir = e.code }
    console.log(JSON.stringify(out));
  `)
  assert.equal(res.status, 0, res.stderr)
  assert.deepEqual(res.json, {
    SIGKILL: 'RangeError ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED',
    SIGSTOP: 'RangeError ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED',
    SIGSEGV: 'RangeError ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED',
    SIGTERM: 'RangeError ERR_HEAPSNAP_SIGNAL_NOT_ALLOWED',
    SIGNOPE: 'TypeError ERR_UNKNOWN_SIGNAL',
    42: 'TypeError ERR_INVALID_ARG_TYPE',
    dir: 'ENOENT',
  })
})

test('workers: true dumps the main thread and each worker', async () => {
  const dir = tmpdir('sigworkers')
  const child = spawnNode(`
    const { Worker } = require('node:worker_threads');
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)}, workers: true, quiet: true });
    const w = new Worker(\`
      require(\${JSON.stringify(require.resolve(${JSON.stringify(path.resolve(__dirname, '..'))}))});
      class InWorker {}
      globalThis.keep = Array.from({ length: 321 }, () => new InWorker());
      require('node:worker_threads').parentPort.postMessage('ready');
      setInterval(() => {}, 1000);
    \`, { eval: true });
    w.on('message', () => console.log('ready'));
    setTimeout(() => { w.terminate(); }, 15000);
  `)
  await waitFor(child, 'ready')
  child.kill('SIGUSR2')
  const snaps = await waitForFiles(dir, isSnapshot, 2)
  await sleep(300)
  child.kill('SIGKILL')
  await exited(child)
  assert.equal(snaps.length, 2, `${snaps}`)
  const counts = snaps.map((f) => countIn(path.join(dir, f), 'InWorker')).sort()
  assert.deepEqual(counts, [0, 321], 'one file is the worker heap, one the main heap')
})

test('a process that only requires the module exits at once; workers that load it exit cleanly', () => {
  const t0 = Date.now()
  const r = runNode(`0`)
  const ms = Date.now() - t0
  assert.equal(r.status, 0, r.stderr)
  assert.ok(ms < 3000, `exited after ${ms} ms`)
  const w = runNode(`
    const { Worker } = require('node:worker_threads');
    const code = 'require(' + JSON.stringify(${JSON.stringify(path.resolve(__dirname, '..'))}) + ')';
    let done = 0;
    for (let i = 0; i < 2; i++) new Worker(code, { eval: true }).on('exit', (c) => { if (c !== 0) process.exit(10 + c); done++ });
    process.on('exit', () => { if (done !== 2) process.exitCode = 3 });
  `)
  assert.equal(w.status, 0, w.stderr)
  assert.equal(w.signal, null)
})
