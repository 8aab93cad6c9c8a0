'use strict'

// A small service with a leak: every "request" leaves a LeakedSession behind in a cache that
// is never pruned. It takes a baseline snapshot halfway, then one with snapshot() (gzip) and one
// with writeSnapshot() (heapdump's API, plain JSON) at the end, reads each file back and counts
// the LeakedSession instances in it, and finally compares baseline and end with the analyzer
// (what `npx heapsnap diff` and `npx heapsnap retainers` print). Last, heapsnap.monitor()
// watches the service under traffic and finds the leak by itself: a growth verdict, three
// snapshots with the sampling heap profiler on, and the leak report.
//
//   npm run demo                          (builds the addon first)
//   HEAPSNAP_DIR=/some/dir npm run demo   (where the files go; default: a new temp directory)

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const http = require('node:http')
const heapsnap = require('..')

class LeakedSession {
  constructor(id) {
    this.id = id
    this.user = `user-${id % 1000}`
    this.payload = { createdAt: Date.now(), tags: ['a', 'b', 'c'] }
  }
}

const cache = new Map() // the leak: nothing ever deletes from it
let served = 0

const server = http.createServer((req, res) => {
  served++
  cache.set(served, new LeakedSession(served))
  res.end('ok\n')
})
// The demo's own dumps stop the event loop for a second or more. A keep-alive socket whose
// idle timeout (5 s by default) expires during such a stop is closed by the server just as the
// client sends its next request on it, which then fails with ECONNRESET (a known race of
// HTTP keep-alive). The demo's clients are the only ones: keep their sockets open.
server.keepAliveTimeout = 120_000

/** Counts nodes of type 'object' named `name` in a .heapsnapshot or .heapsnapshot.gz file. */
function countInstances(file, name) {
  let buf = fs.readFileSync(file)
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf)
  const snap = JSON.parse(buf.toString('latin1'))
  const meta = snap.snapshot.meta
  const stride = meta.node_fields.length // 7 on Node <= 22, 6 on 24+
  const typeAt = meta.node_fields.indexOf('type')
  const nameAt = meta.node_fields.indexOf('name')
  const objectType = meta.node_types[0].indexOf('object')
  let n = 0
  for (let i = 0; i < snap.nodes.length; i += stride) {
    if (snap.nodes[i + typeAt] === objectType && snap.strings[snap.nodes[i + nameAt]] === name) n++
  }
  return n
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

async function main() {
  const dir = process.env.HEAPSNAP_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-demo-'))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  console.log(`demo: service on 127.0.0.1:${port}, engine: ${heapsnap.capabilities().engine}`)

  // Some traffic: 20,000 requests, 50 at a time.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 })
  const get = () =>
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject)
    })
  for (let i = 0; i < 10000; i += 50) await Promise.all(Array.from({ length: 50 }, get))
  const baseline = await heapsnap.snapshot({ dir })
  const leakedAtBaseline = cache.size
  console.log(`demo: baseline after ${served} requests: ${baseline.path}`)
  for (let i = 0; i < 10000; i += 50) await Promise.all(Array.from({ length: 50 }, get))
  agent.destroy()
  console.log(`demo: served ${served} requests, ${cache.size} sessions leaked`)

  const r = await heapsnap.snapshot({ dir })
  console.log(`\nsnapshot()      ${r.path}`)
  console.log(
    `  raw ${mb(r.rawBytes)} -> written ${mb(r.bytes)} (${(r.rawBytes / r.bytes).toFixed(1)}x smaller, ${r.compression} level ${r.level})`,
  )
  console.log(`  stallMs ${r.stallMs.toFixed(1)}, totalMs ${r.totalMs.toFixed(1)}, sidecar ${r.sidecar}`)
  console.log(`  LeakedSession instances in the file: ${countInstances(r.path, 'LeakedSession')}`)

  const file = path.join(dir, 'heapdump-style.heapsnapshot')
  const t0 = process.hrtime.bigint()
  const ok = heapsnap.writeSnapshot(file, (err, name) => {
    if (err) throw err
    const stallMs = Number(process.hrtime.bigint() - t0) / 1e6
    const bytes = fs.statSync(name).size
    console.log(`\nwriteSnapshot() ${name}`)
    console.log(`  raw ${mb(bytes)} -> written ${mb(bytes)} (plain JSON, as heapdump writes)`)
    console.log(`  stallMs ${stallMs.toFixed(1)} (synchronous: the callback runs before it returns)`)
    console.log(`  LeakedSession instances in the file: ${countInstances(name, 'LeakedSession')}`)
  })
  console.log(`  returned ${ok}`)
  console.log(`\nexpected LeakedSession count: ${cache.size}`)

  // The analyzer, on the two gzip files (computed in Rust off the JS thread).
  const d = await heapsnap.diff(baseline.path, r.path, { top: 3 })
  console.log('\nheapsnap diff baseline end (top 3 by size delta):')
  for (const c of d.classes) {
    console.log(
      `  ${c.name.padEnd(16)} # New ${c.newCount}  # Deleted ${c.deletedCount}  # Delta ${c.deltaCount}  Size Delta ${c.sizeDelta}`,
    )
  }
  console.log(`  expected # Delta for LeakedSession: ${cache.size - leakedAtBaseline}`)
  const ret = await heapsnap.retainers(r.path, 'LeakedSession', { paths: 1 })
  const p = ret.paths[0].path.map((s) => `${s.node.name} @${s.node.id}${s.edge ? ` ${s.edge}` : ''}`)
  console.log(`\nheapsnap retainers end LeakedSession (biggest instance):\n  ${p.join(' → ')}`)

  // The monitor: nobody tells it what leaks. Traffic goes on until its report is written.
  console.log('\nheapsnap.monitor(): traffic goes on; waiting for its verdict and report…')
  const started = Date.now()
  const report = await new Promise((resolve, reject) => {
    const m = heapsnap.monitor({
      dir,
      intervalMs: 250,
      windowMs: 10_000,
      onVerdict: (v) =>
        console.log(
          `  verdict after ${((Date.now() - started) / 1000).toFixed(1)} s: ${v.kind} (confidence ${v.confidence}): ${v.message}`,
        ),
      onReport: (rep) => {
        m.stop()
        resolve(rep)
      },
    })
    const traffic = new http.Agent({ keepAlive: true, maxSockets: 20 })
    const more = () => {
      if (!m.verdict || done) return
      Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise((res2, rej2) =>
              http
                .get({ host: '127.0.0.1', port, agent: traffic }, (res) => res.resume().on('end', res2))
                .on('error', rej2),
            ),
        ),
      ).then(() => setTimeout(more, 5), reject)
    }
    let done = false
    more()
    // ~1 min on an idle 2-core machine; two or more under load (the leak grows with the traffic).
    setTimeout(() => reject(new Error('demo: no leak report within 300 s')), 300_000).unref()
    process.once('beforeExit', () => (done = true))
  })
  console.log(`  report after ${((Date.now() - started) / 1000).toFixed(1)} s: ${report.reportPath}\n`)
  process.stdout.write(fs.readFileSync(report.reportPath.replace(/\.json$/, '.txt'), 'utf8'))
  server.close()
  server.closeAllConnections?.()
}

main().catch((err) => {
  console.error(err)
  process.exit(1) // the server, the traffic and the monitor would keep the process alive
})
