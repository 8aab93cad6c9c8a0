'use strict'

// Signals during a near-heap-limit dump; snapshot() during a signal dump; 1000 signals while
// JS spins.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { tmpdir, sleep, spawnNode, countIn, ls } = require('../helpers')

const isSnap = (f) => /\.heapsnapshot(\.gz)?$/.test(f)

test('signals during a near-heap-limit dump: no crash, the near-limit file is complete', async () => {
  const dir = tmpdir('nhl-signals')
  // Not quiet: the report lines (wrote / failed / not enough memory) go into every message below.
  const child = spawnNode(
    `
    const v8 = require('node:v8');
    heapsnap.onNearHeapLimit({ dir: ${JSON.stringify(dir)} });
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)} });
    class Leak { constructor(i) { this.a = new Array(200).fill(i) } }
    const leaks = [];
    let told = false;
    for (let i = 0; ; i++) {
      leaks.push(new Leak(i));
      if (!told && i % 1000 === 0) {
        const h = v8.getHeapStatistics();
        if (h.used_heap_size > 0.7 * h.heap_size_limit) { told = true; require('node:fs').writeSync(1, 'near\\n') }
      }
    }
  `,
    { args: ['--max-old-space-size=96'] },
  )
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  // Wait for "near" or for the end: a child that dies first must fail the assertions below, not
  // leave this test waiting on a stream that will never speak (seen once under load).
  const first = await Promise.race([
    new Promise((resolve) => child.stdout.once('data', () => resolve('near'))),
    exited.then(() => 'exited'),
  ])
  if (first === 'exited') console.log(`# the child ended before nearing its limit:\n${stderr}`)
  // A bounded storm (2 s) that starts as the heap nears its limit, so it overlaps the
  // near-heap-limit dump; an endless one would keep re-arming signal dumps forever.
  for (let i = 0; i < 200 && child.exitCode === null && child.signalCode === null; i++) {
    try {
      child.kill('SIGUSR2')
    } catch {}
    await sleep(10)
  }
  let timer
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 150_000)
  })
  const end = await Promise.race([exited, timeout])
  clearTimeout(timer) // a pending 150 s timer would hold this file's process open after its tests
  if (end === 'timeout') child.kill('SIGKILL')
  const files = ls(dir)
  // What the child said, minus V8's native stack: the report lines and V8's fatal error.
  const said = () =>
    `files: ${files.join(' ')}\nexit: ${JSON.stringify(end)}\nstderr:\n${stderr
      .split('\n')
      .filter((l) => l.trim() && !/^\s*\d+: 0x/.test(l))
      .slice(-40)
      .join('\n')}`
  assert.notEqual(end, 'timeout', `the process ended\n${said()}`)
  assert.ok(end.code !== 0 || end.signal, `the process ended in OOM as expected\n${said()}`)
  const sidecars = files
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
  const nhl = sidecars.filter((s) => s.trigger === 'near-heap-limit')
  console.log(`# ${sidecars.length - nhl.length} signal dumps around the near-heap-limit dump`)
  assert.equal(nhl.length, 1, `one near-heap-limit dump among ${sidecars.map((s) => s.trigger)}\n${said()}`)
  assert.ok(countIn(nhl[0].path, 'Leak') > 1000)
  for (const s of sidecars) assert.ok(fs.existsSync(s.path), 'every sidecar has its complete file')
  // Every dump begun before the near-heap-limit hook returned is final: the hook waits for the
  // other dumps' writers before V8 goes on to its out-of-memory error. A signal dump begun after
  // it races with that error (the hook is gone, the heap is at its limit); its .tmp, if any,
  // is removed by the next dump in the directory.
  const seq = (f) => Number(/-(\d+)\.heapsnapshot/.exec(f)[1])
  const tmps = files.filter((f) => f.endsWith('.tmp'))
  const nhlSeq = seq(path.basename(nhl[0].path))
  assert.deepEqual(
    tmps.filter((f) => seq(f) < nhlSeq),
    [],
    `no .tmp of a dump begun before the near-heap-limit one\n${said()}`,
  )
  if (tmps.length > 0) {
    console.log(`# ${tmps.length} signal dump(s) begun after the near-heap-limit dump were cut off by V8's OOM`)
    const next = spawnNode(`heapsnap.writeSnapshot(${JSON.stringify(path.join(dir, 'next.heapsnapshot'))})`)
    await new Promise((resolve) => next.once('exit', resolve))
    assert.deepEqual(
      ls(dir).filter((f) => f.endsWith('.tmp')),
      [],
      "the next dump in the directory removed the dead process's .tmp",
    )
  }
})

test('snapshot() during a signal dump: both files complete and distinct', async () => {
  const dir = tmpdir('api-during-signal')
  const child = spawnNode(`
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)}, quiet: true });
    globalThis.keep = Array.from({ length: 200000 }, (_, i) => ({ i }));
    console.log('ready');
    require('node:child_process').spawn('sh', ['-c', 'sleep 0.2; kill -USR2 ' + process.pid], { stdio: 'ignore' });
    const end = Date.now() + 400; while (Date.now() < end) {}   // the signal dump runs in here
    heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }).then((r) => { console.log(JSON.stringify(r.path)); process.exit(0) });
  `)
  const out = await new Promise((resolve) => {
    let s = ''
    child.stdout.on('data', (d) => {
      s += d
    })
    child.once('exit', () => resolve(s))
  })
  const files = ls(dir).filter(isSnap)
  assert.equal(files.length, 2, `${ls(dir)}`)
  const triggers = ls(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).trigger)
    .sort()
  assert.deepEqual(triggers, ['api', 'signal'])
  for (const f of files) assert.ok(countIn(path.join(dir, f), 'Object') > 100000, f)
  assert.match(out, /heapsnapshot\.gz/)
})

test('1000 signals while JS spins: one or two dumps, the process keeps running', async () => {
  const dir = tmpdir('spin-burst')
  const child = spawnNode(`
    heapsnap.installSignalHandler({ dir: ${JSON.stringify(dir)}, quiet: true, compress: 'none' });
    console.log('ready');
    const end = Date.now() + 4000; while (Date.now() < end) {}
    setTimeout(() => console.log('alive'), 1500);
  `)
  await new Promise((resolve) => child.stdout.once('data', resolve))
  for (let i = 0; i < 1000; i++) process.kill(child.pid, 'SIGUSR2')
  const out = await new Promise((resolve) => {
    let s = ''
    child.stdout.on('data', (d) => {
      s += d
    })
    child.once('exit', (code) => resolve({ s, code }))
  })
  assert.equal(out.code, 0)
  assert.match(out.s, /alive/)
  const n = ls(dir).filter(isSnap).length
  assert.ok(n >= 1 && n <= 2, `${n} dumps`)
})
