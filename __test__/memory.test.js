'use strict'

// A dump never takes the service down: real memory cgroups (the kernel's verdict, not a mock).
// The service of the report that started this: ~700k small objects { id, kind, parent, label }
// (~63 MiB of heap, ~120 MiB RSS) whose dump needs over a GiB.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { tmpdir, ls, countIn, parseSnapshot, runNodeOk, NODE, ROOT } = require('./helpers')
const cgroups = require('./cgroup')

const MiB = 2 ** 20
/** The node children run with, as a major version. */
const childMajor = Number(
  require('node:child_process').execFileSync(NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0],
)

/**
 * A program that runs `setup` (which builds its heap), prints `ready <rss>`, then runs `onGo`
 * when stdin says so and prints what it returns.
 */
function program(setup, onGo) {
  return `
    const heapsnap = require(${JSON.stringify(ROOT)});
    ${setup}
    console.log('ready ' + process.memoryUsage.rss());
    process.stdin.once('data', async () => {
      const out = await (async () => { ${onGo} })();
      console.log(JSON.stringify(out));
      process.exit(0);
    });
  `
}

/** The service: ~700 k small objects (63 MiB of heap, ~120 MiB RSS). */
function service(onGo, { objects = 700_000 } = {}) {
  return program(
    `class Item { constructor(id) { this.id = id; this.kind = 'k' + (id % 7); this.parent = null; this.label = 'label-' + id } }
    const items = [];
    for (let i = 0; i < ${objects}; i++) { const it = new Item(i); it.parent = items[i >> 1] || null; items.push(it) }
    globalThis.items = items;`,
    onGo,
  )
}

/** Starts `code` inside the cgroup; resolves with helpers to talk to it. */
function startIn(cg, code, { cwd, args = [], env } = {}) {
  const child = spawn('bash', ['-c', `${cg.enter}; exec "$0" "$@"`, NODE, ...args, '-e', code], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (status, signal) => resolve({ code: status, signal })))
  const waitFor = async (re, ms, what) => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      const m = re.exec(what === 'stderr' ? stderr : stdout)
      if (m) return m
      if (child.exitCode !== null || child.signalCode !== null) break
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`timed out waiting for ${re} on ${what ?? 'stdout'}\nstdout: ${stdout}\nstderr: ${stderr}`)
  }
  return {
    child,
    exited,
    waitFor,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
  }
}

function withCgroup(limit, fn) {
  return async (t) => {
    const cg = cgroups.make(limit)
    if (cg.skip) {
      t.diagnostic(`skipped: ${cg.skip}`)
      t.skip(cg.skip)
      return
    }
    t.diagnostic(`${cg.version} at ${cg.dir}, limit ${Math.round(limit / MiB)} MiB`)
    try {
      await fn(t, cg)
    } finally {
      cg.remove()
    }
  }
}

test(
  'in a 700 MiB cgroup: SIGUSR2, snapshot() and writeSnapshot() are refused; the service lives, nothing is written',
  { timeout: 180_000 },
  withCgroup(700 * MiB, async (t, cg) => {
    const dir = tmpdir('cg700')
    const s = startIn(
      cg,
      service(`
        const out = {};
        try { await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }); out.snapshot = 'written' }
        catch (e) { out.snapshot = { code: e.code, needed: e.needed, available: e.available, limitSource: e.limitSource, message: e.message } }
        let cb;
        out.writeSnapshot = heapsnap.writeSnapshot(${JSON.stringify(path.join(dir, 'w.heapsnapshot'))}, (err) => { cb = err && { message: err.message, code: err.code } });
        out.cb = cb;
        out.rss = process.memoryUsage.rss();
        return out;
      `),
      { cwd: dir },
    )
    const ready = await s.waitFor(/^ready (\d+)$/m, 60_000)
    t.diagnostic(`service RSS ${Math.round(Number(ready[1]) / MiB)} MiB`)
    s.child.kill('SIGUSR2')
    const line = await s.waitFor(/^heapsnap: not enough memory for a heap snapshot: .*$/m, 60_000, 'stderr')
    t.diagnostic(`stderr: ${line[0]}`)
    assert.match(line[0], new RegExp(`\\(${cg.version} limit\\)`))
    assert.equal(s.child.exitCode, null, 'alive after the signal')
    s.child.stdin.write('go\n')
    const { code, signal } = await s.exited
    assert.equal(signal, null, `no kill: ${s.stderr}`)
    assert.equal(code, 0, s.stderr)
    const out = JSON.parse(s.stdout.trim().split('\n').pop())
    assert.equal(out.snapshot.code, 'ERR_HEAPSNAP_NO_HEADROOM')
    assert.equal(out.snapshot.limitSource, cg.version)
    assert.ok(out.snapshot.needed > out.snapshot.available, JSON.stringify(out.snapshot))
    assert.equal(out.writeSnapshot, false)
    assert.deepEqual(out.cb, { message: 'heapdump write error ENOMEM', code: 'ERR_HEAPSNAP_NO_HEADROOM' })
    assert.deepEqual(ls(dir), [], 'no file, no .tmp')
    assert.equal(cg.oomKills(), 0, "the kernel's OOM killer did not run")
    assert.equal(s.stderr.match(/not enough memory/g).length, 1, 'one stderr line, for the signal dump')
  }),
)

test(
  'in a 3 GiB cgroup the same service is dumped, and its RSS comes back down after the dump',
  { timeout: 240_000 },
  withCgroup(3 * 1024 * MiB, async (t, cg) => {
    if (childMajor < 20 && !process.env.HEAPSNAP_SLOW_TESTS) {
      // V8 10 generates this snapshot in ~3.5 min here (Node 20+: ~11 s): measured once, kept
      // out of the matrix's time budget. HEAPSNAP_SLOW_TESTS=1 runs it.
      t.skip(`Node ${childMajor} generates ~15x slower (passed here in 206 s); HEAPSNAP_SLOW_TESTS=1 runs it`)
      return
    }
    const dir = tmpdir('cg3g')
    const s = startIn(
      cg,
      service(`
        const before = process.memoryUsage.rss();
        const r = await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} });
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return { r, before, after: process.memoryUsage.rss() };
      `),
      { cwd: dir },
    )
    await s.waitFor(/^ready (\d+)$/m, 60_000)
    s.child.stdin.write('go\n')
    const { code, signal } = await s.exited
    assert.equal(signal, null, s.stderr)
    assert.equal(code, 0, s.stderr)
    const { r, before, after } = JSON.parse(s.stdout.trim().split('\n').pop())
    t.diagnostic(
      `RSS before ${Math.round(before / MiB)} MiB, peak growth ${Math.round(r.peakRssBytes / MiB)} MiB ` +
        `(predicted ${Math.round(r.predictedPeakBytes / MiB)} MiB for ${r.objectCount} objects), ` +
        `2 s after ${Math.round(after / MiB)} MiB; generate ${r.generateMs} ms, serialize ${r.serializeMs} ms`,
    )
    assert.equal(countIn(r.path, 'Item'), 700_000, 'every Item in the snapshot')
    assert.ok(r.objectCount > 700_000 && r.peakRssBytes > 0 && r.generateMs > 0 && r.serializeMs > 0)
    assert.ok(r.predictedPeakBytes >= r.peakRssBytes * 0.9, 'the prediction is not short by more than 10%')
    // The freed snapshot goes back to the OS (without malloc_trim RSS stayed ~5x above its level
    // before). What stays is V8's object-id map, ~50 bytes per live object, which V8 keeps so
    // that ids match across snapshots (comparisons, "allocated between", leak reports).
    const idMap = 64 * r.objectCount
    const bound = Math.max(before + 64 * MiB, before * 1.25) + idMap
    assert.ok(after <= bound, `RSS 2 s after the dump: ${after} > ${bound}`)
    assert.equal(cg.oomKills(), 0)
  }),
)

test(
  'near the heap limit in a 1 GiB cgroup: a complete snapshot or a skip line, never a SIGKILL',
  { timeout: 240_000 },
  withCgroup(1024 * MiB, async (t, cg) => {
    const dir = tmpdir('cg-near')
    const s = startIn(
      cg,
      `
      const heapsnap = require(${JSON.stringify(ROOT)});
      heapsnap.onNearHeapLimit({ dir: ${JSON.stringify(dir)} });
      const leak = [];
      let i = 0;
      setInterval(() => { for (let j = 0; j < 20000; j++, i++) leak.push({ id: i, kind: 'k' + (i % 7), label: 'leak-' + i }) }, 1);
    `,
      { args: ['--max-old-space-size=256'], cwd: dir },
    )
    const { code, signal } = await s.exited
    t.diagnostic(
      `exit ${code} ${signal}; stderr: ${s.stderr
        .split('\n')
        .filter((l) => l.startsWith('heapsnap'))
        .join(' | ')}`,
    )
    assert.notEqual(signal, 'SIGKILL', `killed by the kernel:\n${s.stderr.slice(-2000)}`)
    assert.equal(cg.oomKills(), 0, "the kernel's OOM killer did not run")
    const files = ls(dir)
    assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, `no partial file: ${files}`)
    const snaps = files.filter((f) => f.endsWith('.heapsnapshot.gz'))
    if (snaps.length > 0) {
      assert.ok(countIn(path.join(dir, snaps[0]), 'Object') >= 0, 'the snapshot parses')
    } else {
      assert.match(s.stderr, /^heapsnap: not enough memory for a heap snapshot: /m)
    }
    assert.match(s.stderr, /heap out of memory|Reached heap limit/i, "V8's own out-of-memory error")
  }),
)

/**
 * A heap of one long array: 1 M references to a single object, 8 MB of heap. V8 names each
 * slot of the array's backing store by its index and keeps a 1 KiB buffer per distinct name,
 * so its snapshot needs ~1.2 GiB, 100x the heap: past a cheap bound that only looks at the
 * heap's size (this dump was OOM-killed in a 600 MiB cgroup before the model counted it).
 */
function longArray(onGo) {
  return program(
    `const shared = { name: 'shared' };
    globalThis.slots = new Array(1_000_000).fill(shared);`,
    onGo,
  )
}

test(
  'a long array in a 600 MiB cgroup: its ~1.2 GiB dump is refused, not OOM-killed',
  { timeout: 120_000 },
  withCgroup(600 * MiB, async (t, cg) => {
    const dir = tmpdir('cg-array')
    const s = startIn(
      cg,
      longArray(`
        try { await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }); return { snapshot: 'written' } }
        catch (e) { return { code: e.code, needed: e.needed, available: e.available } }
      `),
      { cwd: dir },
    )
    await s.waitFor(/^ready (\d+)$/m, 60_000)
    s.child.kill('SIGUSR2')
    const line = await s.waitFor(/^heapsnap: not enough memory for a heap snapshot: .*$/m, 60_000, 'stderr')
    t.diagnostic(`stderr: ${line[0]}`)
    s.child.stdin.write('go\n')
    const { code, signal } = await s.exited
    assert.equal(signal, null, `no kill: ${s.stderr}`)
    assert.equal(code, 0, s.stderr)
    const out = JSON.parse(s.stdout.trim().split('\n').pop())
    assert.equal(out.code, 'ERR_HEAPSNAP_NO_HEADROOM', JSON.stringify(out))
    assert.ok(out.needed > 1024 * MiB, `needed ${out.needed}: the index names are counted`)
    assert.deepEqual(ls(dir), [], 'no file, no .tmp')
    assert.equal(cg.oomKills(), 0, "the kernel's OOM killer did not run")
  }),
)

test(
  'a long array in a 2 GiB cgroup: dumped, and the prediction is not short',
  { timeout: 180_000 },
  withCgroup(2048 * MiB, async (t, cg) => {
    const dir = tmpdir('cg-array2g')
    const s = startIn(cg, longArray(`return await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} })`), { cwd: dir })
    await s.waitFor(/^ready (\d+)$/m, 60_000)
    s.child.stdin.write('go\n')
    const { code, signal } = await s.exited
    assert.equal(signal, null, s.stderr)
    assert.equal(code, 0, s.stderr)
    const r = JSON.parse(s.stdout.trim().split('\n').pop())
    t.diagnostic(
      `peak growth ${Math.round(r.peakRssBytes / MiB)} MiB, predicted ${Math.round(r.predictedPeakBytes / MiB)} MiB ` +
        `for ${r.objectCount} objects`,
    )
    assert.ok(r.peakRssBytes > 900 * MiB, 'the index names cost what the model says they do')
    assert.ok(r.predictedPeakBytes >= r.peakRssBytes * 0.9, 'the prediction is not short by more than 10%')
    assert.ok(r.predictedPeakBytes <= r.peakRssBytes * 1.5, 'nor far over')
    // The array's last slot is named by its index: the name the model counts.
    assert.ok(parseSnapshot(r.path).strings.includes('999999'), 'the snapshot names slot 999999')
    assert.equal(cg.oomKills(), 0)
  }),
)

/**
 * A heap of wide objects: 75 k objects of 64 properties each (in chunks of 10 k, so that no
 * array reaches the large-object space). Every property is an edge of the snapshot, so each
 * object costs ~2.5 KiB to dump: about twice what an object count predicts (~250 MiB of heap,
 * ~530 MiB of growth).
 */
const WIDE = `class Wide {}
  const shared = { name: 'shared' };
  globalThis.chunks = [];
  for (let c = 0; c < 8; c++) {
    const chunk = [];
    for (let i = 0; i < 9375; i++) { const o = new Wide(); for (let p = 0; p < 64; p++) o['p' + p] = shared; chunk.push(o) }
    globalThis.chunks.push(chunk);
  }`

test(
  'wide objects, twice what their count predicts: the live estimate stops the dump at half-way, not the OOM killer',
  { timeout: 180_000 },
  withCgroup(4096 * MiB, async (t, cg) => {
    // What the dump needs, and what the object count says, in a roomy process.
    const roomy = runNodeOk(
      `${WIDE}
      heapsnap.snapshot({ dir: ${JSON.stringify(tmpdir('wide-roomy'))} }).then((r) => {
        require('node:fs').rmSync(r.path);
        console.log(JSON.stringify({ peak: r.peakRssBytes, predicted: r.predictedPeakBytes, objects: r.objectCount }));
      });`,
      { timeout: 120_000 },
    )
    t.diagnostic(
      `roomy: peak growth ${Math.round(roomy.peak / MiB)} MiB, predicted from ${roomy.objects} objects ` +
        `${Math.round(roomy.predicted / MiB)} MiB`,
    )
    assert.ok(roomy.predicted < roomy.peak * 0.8, 'the object count alone falls short on this heap')
    // The same heap in a cgroup that leaves room for the count's prediction, not for the dump.
    const dir = tmpdir('cg-wide')
    const s = startIn(
      cg,
      program(
        WIDE,
        `try { await heapsnap.snapshot({ dir: ${JSON.stringify(dir)} }); return { snapshot: 'written' } }
        catch (e) {
          const next = await heapsnap.estimate({ count: true });
          return { code: e.code, needed: e.needed, available: e.available, next: next.predictedPeakBytes };
        }`,
      ),
      { cwd: dir },
    )
    await s.waitFor(/^ready (\d+)$/m, 60_000)
    const available = Math.max(Math.round(roomy.peak * 0.85), roomy.predicted + 100 * MiB)
    cg.setLimit(cg.usage() + available)
    t.diagnostic(`headroom set to ${Math.round(available / MiB)} MiB`)
    s.child.stdin.write('go\n')
    const { code, signal } = await s.exited
    assert.equal(signal, null, `no kill: ${s.stderr}`)
    assert.equal(code, 0, s.stderr)
    const out = JSON.parse(s.stdout.trim().split('\n').pop())
    t.diagnostic(`refused: ${JSON.stringify(out)}`)
    assert.equal(out.code, 'ERR_HEAPSNAP_NO_HEADROOM', JSON.stringify(out))
    // Stopped on the live estimate, which is near what the dump needs; growth alone would
    // have said less than the headroom (or nothing, and the final step would have been killed).
    assert.ok(out.needed >= roomy.peak * 0.9, `needed ${out.needed} for a peak of ${roomy.peak}`)
    assert.ok(out.needed > out.available)
    // What the stopped dump saw is this process's history now: the next prediction knows.
    assert.ok(out.next >= roomy.peak * 0.9, `next prediction ${out.next} for a peak of ${roomy.peak}`)
    assert.deepEqual(ls(dir), [], 'no file, no .tmp')
    assert.equal(cg.oomKills(), 0, "the kernel's OOM killer did not run")
  }),
)

test('estimate() and capabilities().memory answer without dumping', () => {
  const out = runNodeOk(`
    (async () => {
      const a = await heapsnap.estimate();
      const b = await heapsnap.estimate({ count: true });
      let bad; try { await heapsnap.estimate({ count: 1 }) } catch (e) { bad = e.code }
      console.log(JSON.stringify({ a, b, bad, mem: heapsnap.capabilities().memory, files: require('fs').readdirSync('.').filter((f) => f.includes('heapsnap')) }));
    })();
  `)
  for (const e of [out.a, out.b]) {
    assert.ok(e.predictedPeakBytes > 0)
    assert.equal(typeof e.fits, 'boolean')
    if (process.platform === 'linux') assert.ok(['cgroup2', 'cgroup1', 'meminfo', 'rlimit'].includes(e.limitSource))
  }
  assert.equal(out.a.objectCount, null)
  assert.ok(out.b.objectCount > 1000, 'V8 counted the objects')
  assert.equal(out.bad, 'ERR_INVALID_ARG_TYPE')
  if (process.platform === 'linux') assert.ok(out.mem.availableBytes > 0)
})

test('memoryCheck: false and HEAPSNAP_MEMORY_CHECK=0 are accepted; bad values are TypeErrors', () => {
  const dir = tmpdir('memcheck')
  const out = runNodeOk(
    `
    (async () => {
      const r = await heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, memoryCheck: false });
      let bad; try { await heapsnap.snapshot({ dir: ${JSON.stringify(dir)}, memoryCheck: 'no' }) } catch (e) { bad = e.name + ' ' + e.code }
      console.log(JSON.stringify({ path: r.path, bad }));
    })();
  `,
    { env: { HEAPSNAP_MEMORY_CHECK: '0' } },
  )
  assert.ok(fs.existsSync(out.path))
  assert.equal(out.bad, 'TypeError ERR_INVALID_ARG_TYPE')
})

test('releaseObjectIds(): RSS comes back to its level before the dump, and the next dump is complete', (t) => {
  if (childMajor < 20 && !process.env.HEAPSNAP_SLOW_TESTS) {
    t.skip(`Node ${childMajor} generates ~15x slower; HEAPSNAP_SLOW_TESTS=1 runs it`)
    return
  }
  // 1.2 M objects: V8's id map (~60 bytes each) is then more than the +64 MiB the bound allows.
  const dir = tmpdir('release-ids')
  const out = runNodeOk(
    `
    (async () => {
      class Item { constructor(id) { this.id = id; this.kind = 'k' + (id % 7); this.parent = null } }
      const items = [];
      for (let i = 0; i < 1200000; i++) { const it = new Item(i); it.parent = items[i >> 1] || null; items.push(it) }
      globalThis.items = items;
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      gc();
      const before = process.memoryUsage.rss();
      const first = await heapsnap.snapshot({ dir: '.', sidecar: false });
      await sleep(2000);
      const after = process.memoryUsage.rss();
      // The memory check, from the same lesson: with the map kept the next dump does not build
      // it; once it is dropped, it does (the counting pass gives its garbage back at once).
      const kept = await heapsnap.estimate({ count: true });
      const freed = heapsnap.releaseObjectIds();
      const released = process.memoryUsage.rss();
      const rebuilt = await heapsnap.estimate({ count: true });
      const second = await heapsnap.snapshot({ dir: '.', sidecar: false });
      console.log(JSON.stringify({ before, after, freed, released, kept, rebuilt, first: first.path, second: second.path }));
    })();
  `,
    { cwd: dir, args: ['--expose-gc'], timeout: 600_000 },
  )
  const mib = (b) => Math.round(b / MiB)
  const bound = Math.max(out.before + 64 * MiB, out.before * 1.25)
  t.diagnostic(
    `RSS ${mib(out.before)} MiB before, ${mib(out.after)} MiB 2 s after the dump, ` +
      `${mib(out.released)} MiB after releaseObjectIds() (freed ${mib(out.freed)} MiB)`,
  )
  assert.ok(out.after > bound, `without the release RSS stays up (${mib(out.after)} MiB)`)
  assert.ok(out.freed > 20 * MiB, `freed ${mib(out.freed)} MiB`)
  assert.ok(
    out.released <= bound,
    `RSS ${mib(out.before)} MiB before the dump, ${mib(out.after)} MiB 2 s after, ${mib(out.released)} MiB after the release`,
  )
  assert.equal(countIn(out.second, 'Item'), 1_200_000, 'the dump after the release holds every Item')
  // The prediction counts the id map as the kernel does: once the map is dropped, the next
  // dump is predicted to need what dropping it gave back.
  const added = out.rebuilt.predictedPeakBytes - out.kept.predictedPeakBytes
  t.diagnostic(
    `predicted ${mib(out.kept.predictedPeakBytes)} MiB with the id map kept, ${mib(out.rebuilt.predictedPeakBytes)} MiB ` +
      `after the release (+${mib(added)} MiB; ${out.kept.objectCount} objects)`,
  )
  assert.ok(
    added > 0.8 * out.freed && added < 1.25 * out.freed,
    `the id map: +${mib(added)} MiB predicted, ${mib(out.freed)} MiB freed`,
  )
  fs.rmSync(dir, { recursive: true, force: true })
})

test("an inspector session's end counts as dropping V8's object ids (V8 clears them): the next dump's prediction builds the id map again", (t) => {
  const caps = require(ROOT).capabilities()
  if (process.platform !== 'linux' || caps.engine !== 'native') {
    t.skip(`needs Linux (RSS for the dump's lesson) and the native engine (${process.platform}, ${caps.engine})`)
    return
  }
  const dir = tmpdir('ids-session')
  const out = runNodeOk(
    `
    (async () => {
      const inspector = require('node:inspector');
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      globalThis.items = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'x' + i }));
      await heapsnap.snapshot({ dir: '.', sidecar: false });
      await sleep(500); // the dump's lesson is learned after its trim, on a Rust thread
      const kept = await heapsnap.estimate({ count: true });
      const again = await heapsnap.estimate({ count: true });
      const s = new inspector.Session();
      s.connect();
      s.disconnect();
      const dropped = await heapsnap.estimate({ count: true });
      console.log(JSON.stringify({ kept, again, dropped }));
    })();
  `,
    { cwd: dir },
  )
  fs.rmSync(dir, { recursive: true, force: true })
  const perObject = (out.dropped.predictedPeakBytes - out.kept.predictedPeakBytes) / out.kept.objectCount
  assert.ok(
    Math.abs(out.again.predictedPeakBytes - out.kept.predictedPeakBytes) < 0.02 * out.kept.predictedPeakBytes,
    'nothing changed: the same prediction',
  )
  // V8's map: ~24 bytes an object in its vector, 30-60 in its hash table.
  assert.ok(perObject > 40 && perObject < 100, `${perObject.toFixed(1)} bytes an object for the id map`)
})

test('releaseObjectIds() refuses while heap-object tracking or an inspector session may use the ids', () => {
  const out = runNodeOk(`
    const inspector = require('node:inspector');
    const code = () => { try { heapsnap.releaseObjectIds(); return 'released' } catch (e) { return e.code } };
    const s = new inspector.Session();
    s.connect();
    const connected = code();
    s.post('HeapProfiler.startTrackingHeapObjects', () => {
      const tracking = code();
      s.post('HeapProfiler.stopTrackingHeapObjects', () => {
        s.disconnect();
        console.log(JSON.stringify({ connected, tracking, after: code() }));
      });
    });
  `)
  assert.deepEqual(out, {
    connected: 'ERR_HEAPSNAP_IDS_IN_USE',
    tracking: 'ERR_HEAPSNAP_IDS_IN_USE',
    after: 'released',
  })
})
