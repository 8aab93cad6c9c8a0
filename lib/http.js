'use strict'

// Snapshots over HTTP, safe by default: createHandler() for node:http and the frameworks that
// pass Node's req/res (Express, Fastify's reply.raw, Koa's ctx.req/ctx.res), and listen(), a
// small dedicated server for processes that have none.
//
// Every request goes through the same gates, in this order, and gets one audit line:
//   URL too long → 414; non-loopback peer without allowRemote → 403; auth (token: none → 401,
//   wrong → 403; verify() false → 403); not GET → 405; bad query → 400; a dump already running
//   in this isolate → 429 + Retry-After; preflight refusal → 503 with the reason; then 200.
// The snapshot is spooled (lib/stream.js), so the status and headers are only sent once the
// dump has succeeded, with the exact Content-Length.

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')

const { typeError, valueError, optionsObject, pathString, integer, boolean, func, checkDirectory } = require('./errors')
const { pendingDumps } = require('./snapshot')
const { spoolOptions, takeSpool, sendSpool, isGone } = require('./stream')

const HANDLER_OPTION_KEYS = [
  'token',
  'verify',
  'unsafeNoAuth',
  'allowRemote',
  'dir',
  'level',
  'memoryCheck',
  'summary',
  'audit',
]
const LISTEN_OPTION_KEYS = [...HANDLER_OPTION_KEYS, 'port', 'host']
/** The shortest token accepted. */
const TOKEN_MIN_CHARS = 16
/** The longest request URL (path and query) the handler reads; longer gets 414. */
const MAX_URL_CHARS = 2048
/** listen()'s limit on the request line and headers together (node's default is 16 KiB); larger gets 431. */
const MAX_HEADER_BYTES = 8192
/** Retry-After (seconds) for a 429 before any HTTP dump has finished. */
const DEFAULT_RETRY_AFTER_S = 10
/** How many classes `?summary` returns unless it says (`?summary=50`). */
const SUMMARY_TOP = 100

// One HTTP dump at a time per isolate, across every handler, from the request's admission until
// its response has finished or closed (streaming included): the slot's holder, or null.
let active = null
/** How long the last HTTP dump took, for Retry-After. */
let lastDumpMs = null

/** Whether a socket address is a loopback address (127.0.0.0/8, ::1, IPv4-mapped 127.x). */
function isLoopbackAddress(address) {
  if (typeof address !== 'string') return false
  const a = address.toLowerCase()
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.')
}

/** Whether listen()'s `host` only accepts loopback connections. */
function isLoopbackHost(host) {
  const h = host.replace(/^\[(.*)\]$/, '$1')
  return h === 'localhost' || (net.isIP(h) !== 0 && isLoopbackAddress(h))
}

/** Constant-time token comparison: equal-length digests, whatever the lengths given. */
function digest(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest()
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearer(req) {
  const value = req.headers?.authorization
  if (typeof value !== 'string') return null
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(value)
  return m ? m[1] : null
}

/** The query parameters of a request URL; malformed input never throws (URLSearchParams is lenient). */
function queryOf(url) {
  const q = url.indexOf('?')
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
}

/** The default audit sink: one line on stderr. */
function auditLine(e) {
  process.stderr.write(
    `heapsnap: http ${e.time} ${e.remote} ${e.method} ${e.status} ${e.outcome} ${e.bytes} bytes ${Math.round(e.ms)} ms\n`,
  )
}

/** Validates createHandler()'s options; returns the handler's settings. */
function handlerSettings(options) {
  const { token, verify, unsafeNoAuth, allowRemote, dir, level, memoryCheck, summary, audit } = options
  if (token !== undefined) {
    if (typeof token !== 'string') throw typeError('options.token must be a string')
    if (token.length < TOKEN_MIN_CHARS) {
      throw valueError(`options.token must be at least ${TOKEN_MIN_CHARS} characters (use crypto.randomBytes(32))`)
    }
    if (/\s/.test(token)) throw valueError('options.token must not contain white space')
  }
  func(verify, 'options.verify')
  const noAuth = boolean(unsafeNoAuth, 'options.unsafeNoAuth', false)
  const ways = [token !== undefined, verify !== undefined, noAuth].filter(Boolean).length
  if (ways === 0) {
    throw typeError(
      'createHandler needs options.token or options.verify (or unsafeNoAuth: true, which serves heap snapshots to anyone who can connect)',
      'ERR_MISSING_ARGS',
    )
  }
  if (ways > 1) throw valueError('give one of options.token, options.verify and options.unsafeNoAuth')
  if (dir !== undefined) pathString(dir, 'options.dir')
  func(audit, 'options.audit')
  // Checked now, as the triggers do: a handler must not fail on its first request for a
  // directory or a level that is wrong now.
  const gzip = spoolOptions({ dir, compress: 'gzip', level, memoryCheck })
  checkDirectory(gzip.dir)
  return {
    tokenDigest: token !== undefined ? digest(token) : null,
    verify,
    noAuth,
    allowRemote: boolean(allowRemote, 'options.allowRemote', false),
    dir: gzip.dir,
    level,
    memoryCheck,
    summary: boolean(summary, 'options.summary', false),
    audit: audit ?? auditLine,
  }
}

/**
 * A request handler `(req, res) => Promise<void>` that answers GET with a fresh heap snapshot.
 * The promise never rejects: every failure becomes a response and an audit line.
 * @param {import('../index').HandlerOptions} options
 */
function createHandler(options) {
  const s = handlerSettings(optionsObject(options, HANDLER_OPTION_KEYS, 'createHandler', { required: true }))
  return function heapsnapHandler(req, res) {
    return handle(s, req, res)
  }
}

/** Sends a small JSON response (errors and summaries) unless the response is already gone. */
function reply(res, status, body, headers = {}) {
  if (res.headersSent || isGone(res)) return 0
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  })
  res.end(text)
  return Buffer.byteLength(text)
}

/** An error response, `{ error, reason, ...extra }`, and its audit outcome (`reason`). */
function refuse(entry, res, status, outcome, message, extra = {}, headers = {}) {
  entry.status = status
  entry.outcome = outcome
  entry.bytes = reply(res, status, { error: `heapsnap: ${message}`, reason: outcome, ...extra }, headers)
}

async function handle(s, req, res) {
  const started = performance.now()
  const entry = {
    time: new Date().toISOString(),
    remote: req.socket?.remoteAddress ?? 'unknown',
    method: typeof req.method === 'string' ? req.method : '?',
    status: 0,
    outcome: 'error',
    bytes: 0,
    ms: 0,
  }
  let release = null
  try {
    await gate(s, req, res, entry, () => {
      // Released as soon as the response is done: a client may send its next request on the
      // same connection before this function has returned.
      const holder = {}
      active = holder
      release = () => {
        if (active === holder) active = null
      }
      res.once('finish', release)
      res.once('close', release)
    })
  } catch (e) {
    // A bug or an exotic req/res: answer 500 rather than crash the server.
    if (res.headersSent) res.destroy()
    else refuse(entry, res, 500, 'error', String(e?.message ?? e).replace(/^heapsnap: /, ''), { code: e?.code })
  } finally {
    release?.()
    entry.ms = performance.now() - started
    try {
      s.audit(entry)
    } catch {}
  }
}

/** The request's gates, then the dump. `admit()` runs when this request takes the isolate's slot. */
async function gate(s, req, res, entry, admit) {
  const url = typeof req.url === 'string' ? req.url : '/'
  if (url.length > MAX_URL_CHARS) return refuse(entry, res, 414, 'url-too-long', 'request URL too long')
  if (!s.allowRemote && !isLoopbackAddress(req.socket?.remoteAddress)) {
    return refuse(entry, res, 403, 'remote-refused', 'remote address refused (see the allowRemote option)')
  }
  if (s.tokenDigest) {
    const given = bearer(req)
    if (given === null) {
      return refuse(
        entry,
        res,
        401,
        'no-token',
        'authorization required',
        {},
        {
          'WWW-Authenticate': 'Bearer realm="heapsnap"',
        },
      )
    }
    if (!crypto.timingSafeEqual(digest(given), s.tokenDigest)) {
      return refuse(entry, res, 403, 'bad-token', 'wrong token')
    }
  } else if (s.verify) {
    let ok
    try {
      ok = await s.verify(req)
    } catch {
      return refuse(entry, res, 403, 'verify-error', 'verify() failed')
    }
    if (ok !== true) return refuse(entry, res, 403, 'verify-refused', 'forbidden')
  } else {
    process.emitWarning(
      `heapsnap: serving a heap snapshot without authentication to ${entry.remote} (unsafeNoAuth: true)`,
      'HeapsnapWarning',
    )
  }
  if (req.method !== 'GET') {
    return refuse(entry, res, 405, 'method', `method ${entry.method} not allowed`, {}, { Allow: 'GET' })
  }
  const query = queryOf(url)
  const compress = query.get('compress') ?? 'gzip'
  if (compress !== 'gzip' && compress !== 'none') {
    return refuse(entry, res, 400, 'bad-query', "compress must be 'gzip' or 'none'")
  }
  const wantSummary = query.has('summary')
  if (wantSummary && !s.summary) return refuse(entry, res, 404, 'no-summary', '?summary is not enabled')
  if (active !== null || pendingDumps() > 0) {
    const retry = lastDumpMs === null ? DEFAULT_RETRY_AFTER_S : Math.min(600, Math.max(1, Math.ceil(lastDumpMs / 1000)))
    return refuse(entry, res, 429, 'busy', 'a snapshot is already being taken', {}, { 'Retry-After': String(retry) })
  }
  admit()
  return wantSummary ? serveSummary(s, query, res, entry) : serveSnapshot(s, compress, res, entry)
}

/** Takes the spool; a refusal or failure becomes the response. */
async function spool(s, compress, level, res, entry) {
  const t0 = performance.now()
  let result
  try {
    result = await takeSpool(spoolOptions({ dir: s.dir, compress, level, memoryCheck: s.memoryCheck }), 'http')
  } catch (e) {
    if (e.code === 'ERR_HEAPSNAP_NO_HEADROOM') {
      refuse(entry, res, 503, 'no-headroom', e.message.replace(/^heapsnap: /, ''), {
        code: e.code,
        needed: e.needed,
        available: e.available,
        limitSource: e.limitSource,
      })
    } else {
      refuse(entry, res, 500, 'failed', e.message.replace(/^heapsnap: /, ''), { code: e.code })
    }
    return null
  } finally {
    lastDumpMs = performance.now() - t0
  }
  if (isGone(res)) {
    // The client left while V8 was generating: nothing to send.
    fs.rmSync(result.path, { force: true })
    entry.outcome = 'client-gone'
    return null
  }
  return result
}

async function serveSnapshot(s, compress, res, entry) {
  const result = await spool(s, compress, compress === 'gzip' ? s.level : undefined, res, entry)
  if (!result) return
  const name = path.basename(result.path)
  try {
    entry.bytes = await sendSpool(result.path, res, {
      onOpen(size) {
        res.writeHead(200, {
          'Content-Type': compress === 'gzip' ? 'application/gzip' : 'application/json',
          'Content-Length': size,
          'Content-Disposition': `attachment; filename="${name}"`,
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        })
        entry.status = 200
      },
    })
    entry.outcome = 'ok'
  } catch (e) {
    entry.outcome = e.code === 'ERR_HEAPSNAP_STREAM' ? 'aborted' : 'failed'
    entry.bytes = e.bytes ?? 0
    if (!res.headersSent) refuse(entry, res, 500, 'failed', e.message.replace(/^heapsnap: /, ''))
    else res.destroy() // a partial body must not look complete
  }
}

async function serveSummary(s, query, res, entry) {
  let top = SUMMARY_TOP
  const asked = query.get('summary')
  if (asked && /^\d{1,7}$/.test(asked) && Number(asked) >= 1) top = Number(asked)
  // Level 1: the file only lives until the analyzer has read it.
  const result = await spool(s, 'gzip', 1, res, entry)
  if (!result) return
  try {
    // Loaded here: the analyzer's API is only needed by this route.
    const summary = await require('./analyze').summary(result.path, { top })
    entry.status = 200
    entry.outcome = 'summary'
    entry.bytes = reply(res, 200, summary)
  } catch (e) {
    refuse(entry, res, 500, 'failed', e.message.replace(/^heapsnap: /, ''), { code: e.code })
  } finally {
    fs.rmSync(result.path, { force: true })
  }
}

/**
 * A small dedicated HTTP server serving createHandler() on every path. Loopback only unless
 * `allowRemote`; never keeps the process alive (`unref`); `close()` stops it.
 * @param {import('../index').ListenOptions} options
 * @returns {Promise<import('node:http').Server>}
 */
function listen(options) {
  let handler
  let port
  let host
  try {
    options = optionsObject(options, LISTEN_OPTION_KEYS, 'listen', { required: true })
    const { port: p, host: h, ...handlerOptions } = options
    if (p === undefined) throw typeError('listen needs options.port (0: any free port)', 'ERR_MISSING_ARGS')
    port = integer(p, 'options.port', { min: 0, max: 65535 })
    host = h === undefined ? '127.0.0.1' : pathString(h, 'options.host')
    if (!isLoopbackHost(host) && options.allowRemote !== true) {
      throw valueError(`listen on '${host}' accepts remote connections: pass allowRemote: true to mean it`)
    }
    handler = createHandler(handlerOptions)
  } catch (e) {
    return Promise.reject(e)
  }
  return new Promise((resolve, reject) => {
    const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler)
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      server.unref()
      resolve(server)
    })
  })
}

module.exports = { createHandler, listen }
