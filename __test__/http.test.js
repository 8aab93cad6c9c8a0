'use strict'

// createHandler(), listen() and snapshot({ stream }): a real node:http server and a real client
// on 127.0.0.1 only; every loop is bounded in count and time. The server runs in this process
// (its snapshots count this file's markers) unless a test needs a process of its own.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const zlib = require('node:zlib')
const { EventEmitter } = require('node:events')
const { PassThrough, Writable } = require('node:stream')
const { spawnSync } = require('node:child_process')

const heapsnap = require('..')
const { tmpdir, runNode, runNodeOk, spawnNode, countIn, ls, sleep } = require('./helpers')

const TOKEN = 'test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const MARKERS = 1234

class HttpMarker {
  constructor(i) {
    this.i = i
  }
}
const markers = Array.from({ length: MARKERS }, (_, i) => new HttpMarker(i))

/** Servers still listening: a test that fails before its close() must not keep the file's process alive. */
const listening = new Set()
test.after(() =>
  Promise.all(
    [...listening].map((server) => {
      server.closeAllConnections?.()
      return new Promise((done) => server.close(done))
    }),
  ),
)

/** A node:http server on 127.0.0.1 with createHandler(options); `wrap(req)` runs first. */
function serve(options, { wrap } = {}) {
  const audits = new EventEmitter()
  const entries = []
  const handler = heapsnap.createHandler({
    token: TOKEN,
    ...options,
    audit: (e) => {
      entries.push(e)
      audits.emit('entry', e)
    },
  })
  const server = http.createServer((req, res) => {
    wrap?.(req)
    handler(req, res)
  })
  listening.add(server)
  server.on('close', () => listening.delete(server))
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        entries,
        /** The next `n` audit entries. */
        nextAudits: (n = 1) =>
          new Promise((done) => {
            const got = []
            const on = (e) => {
              got.push(e)
              if (got.length === n) {
                audits.off('entry', on)
                done(got)
              }
            }
            audits.on('entry', on)
          }),
        close: () => new Promise((done) => server.close(done)),
      }),
    )
  })
}

/** One request on its own connection; resolves with { status, headers, body }. */
function request(port, { path: p = '/', method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, headers, agent: false }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(60_000, () => req.destroy(new Error('request timed out')))
    req.end()
  })
}

/** A seeded PRNG (mulberry32): fuzzing reproducible from the seed in the diagnostics. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test('createHandler() needs auth: none, a short token, or two kinds throw', () => {
  assert.throws(() => heapsnap.createHandler(), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => heapsnap.createHandler({}), { code: 'ERR_MISSING_ARGS', message: /token or options.verify/ })
  assert.throws(() => heapsnap.createHandler({ token: 'short-token' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => heapsnap.createHandler({ token: 42 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => heapsnap.createHandler({ token: TOKEN, verify: () => true }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => heapsnap.createHandler({ token: TOKEN, unsafeNoAuth: true }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => heapsnap.createHandler({ token: TOKEN, bogus: 1 }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => heapsnap.createHandler({ token: TOKEN, dir: path.join(tmpdir('nodir'), 'missing') }), {
    code: 'ENOENT',
  })
  assert.throws(() => heapsnap.createHandler({ token: TOKEN, level: 12 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.equal(typeof heapsnap.createHandler({ token: TOKEN }), 'function')
  assert.equal(typeof heapsnap.createHandler({ verify: () => false }), 'function')
  assert.equal(typeof heapsnap.createHandler({ unsafeNoAuth: true }), 'function')
})

test('refusals: 401, 403, 405, 400, 404, 414 (no dump is taken)', { timeout: 30_000 }, async (t) => {
  const dir = tmpdir('http-refuse')
  const remote = { 'x-test-remote': '10.1.2.3' }
  // A peer address from another host, faked on a loopback connection.
  const fakeRemote = (req) => {
    const addr = req.headers['x-test-remote']
    if (addr) Object.defineProperty(req.socket, 'remoteAddress', { value: addr, configurable: true })
  }
  const srv = await serve({ dir }, { wrap: fakeRemote })
  const cases = [
    ['no Authorization header', {}, 401, 'no-token'],
    [
      'Basic auth',
      { headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } },
      401,
      'no-token',
    ],
    ['empty Bearer', { headers: { authorization: 'Bearer ' } }, 401, 'no-token'],
    [
      'wrong token, same length',
      { headers: { authorization: `Bearer ${'x'.repeat(TOKEN.length)}` } },
      403,
      'bad-token',
    ],
    ['wrong token, shorter', { headers: { authorization: 'Bearer abc' } }, 403, 'bad-token'],
    ['wrong token, longer', { headers: { authorization: `Bearer ${TOKEN}${TOKEN}` } }, 403, 'bad-token'],
    ['token prefix', { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` } }, 403, 'bad-token'],
    ['token in the query only', { path: `/?token=${TOKEN}` }, 401, 'no-token'],
    ['HEAD with the token', { method: 'HEAD', headers: AUTH }, 405, 'method'],
    ['POST with the token', { method: 'POST', headers: AUTH }, 405, 'method'],
    ['DELETE with the token', { method: 'DELETE', headers: AUTH }, 405, 'method'],
    ['compress=zstd', { path: '/?compress=zstd', headers: AUTH }, 400, 'bad-query'],
    ['?summary not enabled', { path: '/?summary', headers: AUTH }, 404, 'no-summary'],
    ['URL of 3000 chars', { path: `/?pad=${'a'.repeat(3000)}`, headers: AUTH }, 414, 'url-too-long'],
    ['remote peer with the token', { headers: { ...AUTH, ...remote } }, 403, 'remote-refused'],
  ]
  for (const [name, opts, status, outcome] of cases) {
    const audited = srv.nextAudits()
    const r = await request(srv.port, opts)
    const [entry] = await audited
    t.diagnostic(`${name} → ${r.status} (${entry.outcome})`)
    assert.equal(r.status, status, name)
    assert.equal(entry.status, status, name)
    assert.equal(entry.outcome, outcome, name)
    assert.equal(entry.remote, opts.headers?.['x-test-remote'] ?? '127.0.0.1')
    assert.equal(r.headers['cache-control'], 'no-store')
    if (opts.method !== 'HEAD') {
      const body = JSON.parse(r.body)
      assert.match(body.error, /^heapsnap: /)
      assert.equal(body.reason, outcome)
    }
    if (status === 401) assert.equal(r.headers['www-authenticate'], 'Bearer realm="heapsnap"')
    if (status === 405) assert.equal(r.headers.allow, 'GET')
  }
  await srv.close()

  // allowRemote lets the remote peer reach the auth gate, which still applies.
  const open = await serve({ dir, allowRemote: true }, { wrap: fakeRemote })
  const r = await request(open.port, { headers: remote })
  assert.equal(r.status, 401)
  assert.equal(open.entries[0].remote, '10.1.2.3')
  await open.close()

  // verify(): false and a throw are 403, true passes (then 405 for HEAD: no dump).
  const v = await serve({
    token: undefined,
    verify: async (req) => {
      if (req.headers['x-verify'] === 'throw') throw new Error('boom')
      return req.headers['x-verify'] === 'yes'
    },
  })
  assert.equal((await request(v.port, { headers: { 'x-verify': 'no' } })).status, 403)
  assert.equal((await request(v.port, { headers: { 'x-verify': 'throw' } })).status, 403)
  assert.equal((await request(v.port, { method: 'HEAD', headers: { 'x-verify': 'yes' } })).status, 405)
  assert.deepEqual(
    v.entries.map((e) => e.outcome),
    ['verify-refused', 'verify-error', 'method'],
  )
  await v.close()
  assert.deepEqual(ls(dir), [], 'no file written')
})

test(
  'the right token gets a gzip snapshot with the markers; ?compress=none is plain JSON; ?name=../../x is ignored',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpdir('http-get')
    const srv = await serve({ dir })
    const audited = srv.nextAudits()
    const r = await request(srv.port, { path: '/?name=../../x&compress=gzip', headers: AUTH })
    const [entry] = await audited
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'application/gzip')
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.match(
      r.headers['content-disposition'],
      /^attachment; filename="heapsnap-\d{8}T\d{6}-\d+-\d+\.heapsnapshot\.gz"$/,
    )
    assert.equal(Number(r.headers['content-length']), r.body.length)
    assert.deepEqual([entry.status, entry.outcome, entry.bytes], [200, 'ok', r.body.length])
    assert.equal(r.body[0], 0x1f)
    assert.equal(r.body[1], 0x8b)
    const file = path.join(tmpdir('http-got'), 'got.heapsnapshot.gz')
    fs.writeFileSync(file, r.body)
    assert.equal(countIn(file, 'HttpMarker'), MARKERS)
    t.diagnostic(`GET → 200, ${r.body.length} bytes gzip, ${entry.ms.toFixed(0)} ms`)

    const plain = await request(srv.port, { path: '/?compress=none', headers: AUTH })
    assert.equal(plain.status, 200)
    assert.equal(plain.headers['content-type'], 'application/json')
    assert.match(plain.headers['content-disposition'], /filename="heapsnap-[^"/]+\.heapsnapshot"$/)
    const plainFile = path.join(tmpdir('http-got'), 'got.heapsnapshot')
    fs.writeFileSync(plainFile, plain.body)
    assert.equal(countIn(plainFile, 'HttpMarker'), MARKERS)

    assert.deepEqual(ls(dir), [], 'the spools are gone')
    assert.equal(fs.existsSync(path.resolve(dir, '../../x')), false)
    assert.equal(fs.existsSync(path.resolve(process.cwd(), '../../x')), false)
    await srv.close()
    assert.ok(markers.length === MARKERS)
  },
)

test('two parallel requests: one 200, one 429 with Retry-After', { timeout: 120_000 }, async () => {
  const dir = tmpdir('http-429')
  const srv = await serve({ dir })
  const audited = srv.nextAudits(2)
  const rs = await Promise.all([request(srv.port, { headers: AUTH }), request(srv.port, { headers: AUTH })])
  await audited
  const statuses = rs.map((r) => r.status).sort()
  assert.deepEqual(statuses, [200, 429])
  const busy = rs.find((r) => r.status === 429)
  assert.match(busy.headers['retry-after'], /^\d+$/)
  assert.ok(Number(busy.headers['retry-after']) >= 1)
  assert.deepEqual(srv.entries.map((e) => e.outcome).sort(), ['busy', 'ok'])
  // A snapshot() queued by someone else also makes the handler busy.
  const other = heapsnap.snapshot({ dir, sidecar: false })
  assert.equal((await request(srv.port, { headers: AUTH })).status, 429)
  fs.rmSync((await other).path)
  assert.equal((await request(srv.port, { headers: AUTH })).status, 200, 'free again')
  assert.deepEqual(ls(dir), [])
  await srv.close()
})

test(
  'a client that aborts mid-body: the server lives, no temp file remains, the next request works',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpdir('http-abort')
    const srv = await serve({ dir })
    for (let round = 0; round < 2; round++) {
      const audited = srv.nextAudits()
      const got = await new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: srv.port, path: '/?compress=none', headers: AUTH, agent: false },
          (res) => {
            res.once('data', (chunk) => {
              req.destroy() // gone after the first chunk
              resolve({ status: res.statusCode, first: chunk.length, length: Number(res.headers['content-length']) })
            })
          },
        )
        req.on('error', (e) => (e.code === 'ECONNRESET' ? null : reject(e)))
        req.end()
      })
      const [entry] = await audited
      t.diagnostic(
        `abort after ${got.first} of ${got.length} bytes: server sent ${entry.bytes}, outcome ${entry.outcome}`,
      )
      assert.equal(got.status, 200)
      assert.equal(entry.outcome, 'aborted')
      assert.ok(entry.bytes < got.length)
      assert.deepEqual(ls(dir), [], 'no spool, no .tmp')
    }
    const r = await request(srv.port, { headers: AUTH })
    assert.equal(r.status, 200, 'the next request succeeds')
    assert.deepEqual(ls(dir), [])
    await srv.close()
  },
)

test('hostile query strings (fuzzed, seeded, bounded): 400 or 414, never a crash', { timeout: 60_000 }, async (t) => {
  const dir = tmpdir('http-fuzz')
  const srv = await serve({ dir, summary: true })
  const seed = Date.now() >>> 0
  const rand = prng(seed)
  const pieces = [
    '%',
    '%%',
    '%0',
    '%00',
    '%ff',
    '%c3%28',
    '&',
    '&&',
    '=',
    '==',
    '?',
    '+',
    ';',
    '..',
    '../',
    '/',
    '\\',
    'name=../../x',
    'summary=-1',
    'summary=1e9',
    'compress',
    'compress=',
    '__proto__=1',
    'constructor',
    'é',
    '€',
    '😀',
    '%E2%82',
    '[]',
    'a[b]=c',
    ' ',
    '\t',
    '"',
    "'",
    '<script>',
    '#',
    'A'.repeat(50),
  ]
  const deadline = Date.now() + 20_000
  const seen = new Map()
  let n = 0
  for (; n < 300 && Date.now() < deadline; n++) {
    let junk = ''
    const parts = 1 + Math.floor(rand() * 12)
    for (let i = 0; i < parts; i++) junk += pieces[Math.floor(rand() * pieces.length)]
    if (rand() < 0.05) junk += 'B'.repeat(2100)
    // The first compress= wins and is invalid, so no request reaches a dump; the rest of the
    // query is parsed all the same.
    const p = `/?compress=fuzz&${encodeURI(junk).replace(/#/g, '%23')}`
    const r = await request(srv.port, { path: p, headers: AUTH })
    seen.set(r.status, (seen.get(r.status) ?? 0) + 1)
    assert.ok(r.status === 400 || r.status === 414, `${r.status} for ${p.slice(0, 200)}`)
  }
  // Raw bytes the HTTP parser itself rejects: the server answers 400 and stays up.
  for (const raw of ['GET /?\x00 HTTP/1.1\r\n\r\n', 'GET /%%%\x7f HTTP/1.1\r\nHost: x\r\n\r\n', 'GARBAGE\r\n\r\n']) {
    const answer = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.end(raw))
      let text = ''
      s.on('data', (d) => (text += d))
      s.on('close', () => resolve(text))
      s.on('error', () => resolve(text))
    })
    assert.match(answer, /^HTTP\/1\.1 400 /)
  }
  t.diagnostic(`seed ${seed}: ${n} fuzzed queries → ${JSON.stringify(Object.fromEntries(seen))}`)
  assert.equal((await request(srv.port, { path: '/?summary=2&compress=gzip', headers: AUTH })).status, 200, 'still up')
  assert.deepEqual(ls(dir), [])
  await srv.close()
})

test('?summary returns the analyzer JSON of a fresh snapshot and removes its file', { timeout: 120_000 }, async () => {
  const dir = tmpdir('http-summary')
  const srv = await serve({ dir, summary: true })
  const r = await request(srv.port, { path: '/?summary=5000', headers: AUTH })
  assert.equal(r.status, 200)
  assert.match(r.headers['content-type'], /^application\/json/)
  const s = JSON.parse(r.body)
  const row = s.classes.find((c) => c.name === 'HttpMarker')
  assert.ok(row, 'HttpMarker in the summary')
  assert.equal(row.count, MARKERS)
  const top = JSON.parse((await request(srv.port, { path: '/?summary=3', headers: AUTH })).body)
  assert.equal(top.classes.length, 3)
  const dflt = JSON.parse((await request(srv.port, { path: '/?summary=junk', headers: AUTH })).body)
  assert.ok(dflt.classes.length <= 100)
  assert.deepEqual(ls(dir), [])
  await srv.close()
})

test(
  'a dump refused by the memory preflight gets 503 with the reason',
  { timeout: 60_000, skip: process.platform !== 'linux' || spawnSync('prlimit', ['--version']).status !== 0 },
  async (t) => {
    const dir = tmpdir('http-503')
    const child = spawnNode(`
      const http = require('node:http');
      const srv = http.createServer(heapsnap.createHandler({ token: ${JSON.stringify(TOKEN)}, dir: ${JSON.stringify(dir)} }));
      srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));
    `)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    try {
      const { port } = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(d))))
      // RLIMIT_DATA 100 MiB above what the process has mapped: less than any dump's writer
      // alone plus the margin, plenty for an idle server.
      const vmData = Number(/VmData:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024
      const limit = vmData + 100 * 2 ** 20
      const pl = spawnSync('prlimit', ['--pid', String(child.pid), `--data=${limit}:`])
      assert.equal(pl.status, 0, String(pl.stderr))
      const r = await request(port, { headers: AUTH })
      const body = JSON.parse(r.body)
      t.diagnostic(`503 body: ${JSON.stringify(body)}`)
      assert.equal(r.status, 503)
      assert.equal(body.code, 'ERR_HEAPSNAP_NO_HEADROOM')
      assert.equal(body.reason, 'no-headroom')
      assert.equal(body.limitSource, 'rlimit')
      assert.ok(body.needed > 0 && body.available > 0)
      assert.match(body.error, /^heapsnap: not enough memory/)
      assert.equal(child.exitCode, null, 'alive')
      assert.deepEqual(ls(dir), [], 'nothing written')
      for (let i = 0; i < 50 && !stderr.includes(' 503 '); i++) await sleep(100) // the audit line follows the response
      assert.match(stderr, /^heapsnap: http \S+Z 127\.0\.0\.1 GET 503 no-headroom \d+ bytes \d+ ms$/m)
    } finally {
      child.kill()
    }
  },
)

test(
  'listen(): loopback only unless allowRemote, 431 for long headers, never keeps the process alive, close() stops it; audit lines and the unsafeNoAuth warning on stderr',
  { timeout: 60_000 },
  () => {
    const dir = tmpdir('http-listen')
    const res = runNode(
      `
    const http = require('node:http');
    const net = require('node:net');
    const token = ${JSON.stringify(TOKEN)};
    const status = (port, headers = {}, method = 'GET') => new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, headers, method, agent: false }, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode)) });
      req.on('error', (e) => resolve(e.code));
      req.end();
    });
    const code = (p) => p.then(() => 'resolved', (e) => e.code);
    (async () => {
      const out = {};
      out.publicHost = await code(heapsnap.listen({ port: 0, host: '0.0.0.0', token }));
      out.publicName = await code(heapsnap.listen({ port: 0, host: 'example.com', token }));
      out.noPort = await code(heapsnap.listen({ token }));
      out.shortToken = await code(heapsnap.listen({ port: 0, token: 'short' }));
      out.noAuth = await code(heapsnap.listen({ port: 0 }));
      const srv = await heapsnap.listen({ port: 0, token, dir: ${JSON.stringify(dir)} });
      const port = srv.address().port;
      out.address = srv.address().address;
      out.noToken = await status(port);
      out.longHeader = await status(port, { authorization: 'Bearer ' + token, 'x-long': 'a'.repeat(10000) });
      out.head = await status(port, { authorization: 'Bearer ' + token }, 'HEAD');
      out.inUse = await code(heapsnap.listen({ port, token }));
      await new Promise((r) => srv.close(r));
      out.afterClose = await status(port);
      const open = await heapsnap.listen({ port: 0, unsafeNoAuth: true });
      out.unsafe1 = await status(open.address().port, {}, 'HEAD');
      out.unsafe2 = await status(open.address().port, {}, 'HEAD');
      console.log(JSON.stringify(out));
      // 'open' stays listening: the process must still exit by itself.
    })();
  `,
      { timeout: 30_000 },
    )
    assert.equal(res.status, 0, res.stderr)
    const out = res.json
    assert.deepEqual(out, {
      publicHost: 'ERR_INVALID_ARG_VALUE',
      publicName: 'ERR_INVALID_ARG_VALUE',
      noPort: 'ERR_MISSING_ARGS',
      shortToken: 'ERR_INVALID_ARG_VALUE',
      noAuth: 'ERR_MISSING_ARGS',
      address: '127.0.0.1',
      noToken: 401,
      longHeader: 431,
      head: 405,
      inUse: 'EADDRINUSE',
      afterClose: 'ECONNREFUSED',
      unsafe1: 405,
      unsafe2: 405,
    })
    assert.match(
      res.stderr,
      /^heapsnap: http \d{4}-\d\d-\d\dT[\d:.]+Z 127\.0\.0\.1 GET 401 no-token \d+ bytes \d+ ms$/m,
    )
    assert.match(res.stderr, /^heapsnap: http \S+ 127\.0\.0\.1 HEAD 405 method \d+ bytes \d+ ms$/m)
    assert.equal(res.stderr.match(/without authentication/g)?.length, 2, 'one warning per request')
    assert.deepEqual(ls(dir), [])
  },
)

test('snapshot({ stream }) into a PassThrough collected in memory', { timeout: 120_000 }, async () => {
  const dir = tmpdir('stream-pt')
  const pt = new PassThrough()
  const chunks = []
  pt.on('data', (c) => chunks.push(c))
  let finished = false
  pt.on('finish', () => (finished = true))
  const r = await heapsnap.snapshot({ stream: pt, dir })
  assert.ok(finished, 'resolved after the stream accepted the last byte')
  const body = Buffer.concat(chunks)
  assert.equal(r.path, null)
  assert.equal(r.sidecar, null)
  assert.equal(r.trigger, 'api')
  assert.equal(r.compression, 'gzip')
  assert.equal(r.bytes, body.length)
  assert.equal(zlib.gunzipSync(body).length, r.rawBytes)
  const file = path.join(tmpdir('stream-got'), 's.heapsnapshot.gz')
  fs.writeFileSync(file, body)
  assert.equal(countIn(file, 'HttpMarker'), MARKERS)
  assert.deepEqual(ls(dir), [], 'no spool left')

  const plain = []
  const r2 = await heapsnap.snapshot({
    stream: new Writable({ write: (c, e, cb) => (plain.push(c), cb()) }),
    dir,
    compress: 'none',
  })
  assert.equal(r2.compression, 'none')
  assert.equal(Buffer.concat(plain).length, r2.rawBytes)
  JSON.parse(Buffer.concat(plain).toString('latin1'))
  assert.deepEqual(ls(dir), [])
})

test(
  'snapshot({ stream }): a stream that errors or closes halfway rejects with a code and leaves no spool',
  { timeout: 120_000 },
  async () => {
    const dir = tmpdir('stream-err')
    let n = 0
    const failing = new Writable({
      highWaterMark: 1024,
      write(chunk, enc, cb) {
        if (++n === 3) cb(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))
        else cb()
      },
    })
    await assert.rejects(heapsnap.snapshot({ stream: failing, dir }), (e) => {
      assert.equal(e.code, 'ERR_HEAPSNAP_STREAM')
      assert.equal(e.cause.message, 'disk full')
      assert.ok(e.bytes > 0)
      assert.match(e.message, /^heapsnap: the stream did not accept the snapshot/)
      return true
    })
    assert.deepEqual(ls(dir), [], 'no spool after an error')

    let m = 0
    const closing = new Writable({
      write(chunk, enc, cb) {
        if (++m === 2) this.destroy()
        else cb()
      },
    })
    await assert.rejects(heapsnap.snapshot({ stream: closing, dir }), { code: 'ERR_HEAPSNAP_STREAM' })
    assert.deepEqual(ls(dir), [], 'no spool after an early close')

    const ended = new PassThrough()
    ended.end()
    await assert.rejects(heapsnap.snapshot({ stream: ended, dir }), { code: 'ERR_HEAPSNAP_STREAM' })
    // Options that make no sense with a stream.
    await assert.rejects(heapsnap.snapshot({ stream: {}, dir }), { code: 'ERR_INVALID_ARG_TYPE' })
    await assert.rejects(heapsnap.snapshot({ stream: new PassThrough(), path: path.join(dir, 'x') }), {
      code: 'ERR_INVALID_ARG_VALUE',
    })
    await assert.rejects(heapsnap.snapshot({ stream: new PassThrough(), sidecar: true }), {
      code: 'ERR_INVALID_ARG_VALUE',
    })
    assert.deepEqual(ls(dir), [])
  },
)

test('snapshot({ stream }) into a slow consumer: memory stays bounded (peak RSS)', { timeout: 180_000 }, (t) => {
  const dir = tmpdir('stream-slow')
  const out = runNodeOk(
    `
    const { Writable } = require('node:stream');
    const keep = [];
    for (let i = 0; i < 300000; i++) keep.push({ i, s: 'item-' + i });
    let bytes = 0, base = 0, peak = 0, writes = 0;
    const t0 = Date.now();
    const slow = new Writable({
      highWaterMark: 16384,
      write(chunk, enc, cb) {
        // A collection now and then: what is measured is the memory the pipe holds, not
        // the garbage V8 has not collected yet (each 64 KiB chunk is a new Buffer; V8 collects
        // them when external memory grows by ~64 MiB, whatever the design).
        if (writes % 32 === 0) global.gc();
        const rss = process.memoryUsage.rss();
        if (!base) base = rss;
        peak = Math.max(peak, rss);
        bytes += chunk.length;
        writes++;
        setTimeout(cb, 3); // ~20 MiB/s at 64 KiB per write
      },
    });
    const before = process.memoryUsage.rss();
    heapsnap.snapshot({ stream: slow, dir: ${JSON.stringify(dir)}, compress: 'none' }).then((r) => {
      console.log(JSON.stringify({ bytes, rawBytes: r.rawBytes, before, base, peak, writes, ms: Date.now() - t0, stallMs: r.stallMs, dumpPeak: r.peakRssBytes, kept: keep.length }));
    });
  `,
    { timeout: 150_000, args: ['--expose-gc'] },
  )
  const MiB = 2 ** 20
  const growth = out.peak - out.base
  t.diagnostic(
    `slow consumer: ${(out.bytes / MiB).toFixed(1)} MiB in ${out.writes} writes over ${out.ms} ms; RSS before the dump ${(out.before / MiB).toFixed(1)} MiB, at the first write ${(out.base / MiB).toFixed(1)} MiB, peak while piping ${(out.peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB); the dump itself +${(out.dumpPeak / MiB).toFixed(1)} MiB`,
  )
  assert.equal(out.bytes, out.rawBytes)
  assert.ok(out.bytes > 40 * MiB, 'a stream much larger than the bound')
  assert.ok(growth < 24 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB while piping`)
  assert.deepEqual(ls(dir), [])
})
