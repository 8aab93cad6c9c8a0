'use strict'

// Allocation sites from V8's sampling heap profiler (what `--heap-prof` uses), through an
// in-process inspector session: a sample about every SAMPLING_INTERVAL bytes allocated; the
// profile lists the samples whose objects are still alive. Bytes allocated inside built-ins
// (no script URL: `String.prototype.repeat`, `Map.prototype.set`), Node's internals or this
// package count for the nearest caller in the user's code. A site is a function: its name, file,
// and the line and column where it starts (V8 inlines small functions into their callers, and
// then the caller is the site).

const path = require('node:path')

const SAMPLING_INTERVAL = 32 * 1024
/** This package's own code (lib/ and index.js): its allocations are not the user's. */
const OWN_DIR = __dirname + path.sep
const OWN_INDEX = path.join(path.dirname(__dirname), 'index.js')
const isOwn = (url) => url.startsWith(OWN_DIR) || url === OWN_INDEX

/** A frame in the user's code: a script URL, not Node's internals, not this package. */
const isUser = (url) => url !== '' && !url.startsWith('node:') && !isOwn(url)

/** Starts sampling; resolves to `stop()`, which resolves to the sites, biggest first. */
async function startSampling() {
  const { Session } = require('node:inspector')
  const { samplingActive } = require('./serialize')
  const session = new Session()
  session.connect()
  // Dumps taken while this session samples serialize inline (see lib/serialize.js).
  samplingActive(true)
  let active = true
  const done = () => {
    if (active) samplingActive(false)
    active = false
    session.disconnect()
  }
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    )
  try {
    await post('HeapProfiler.enable')
    await post('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL })
  } catch (e) {
    done()
    throw e
  }
  return async function stop() {
    try {
      const { profile } = await post('HeapProfiler.stopSampling')
      return sites(profile)
    } finally {
      done()
    }
  }
}

/** Sums the sampled bytes per user-code site (1-based line and column). */
function sites(profile) {
  const bySite = new Map()
  const visit = (node, owner) => {
    const f = node.callFrame
    // The nearest user frame; where there is none, a Node-internal frame stands for itself.
    const here = isUser(f.url) ? f : (owner ?? (f.url && !isOwn(f.url) ? f : null))
    if (node.selfSize > 0 && here) {
      const key = `${here.functionName}\0${here.url}\0${here.lineNumber}\0${here.columnNumber}`
      const s = bySite.get(key) ?? {
        functionName: here.functionName,
        url: here.url,
        line: here.lineNumber + 1,
        column: here.columnNumber + 1,
        bytes: 0,
      }
      s.bytes += node.selfSize
      bySite.set(key, s)
    }
    for (const child of node.children ?? []) visit(child, isUser(f.url) ? f : owner)
  }
  visit(profile.head, null)
  return [...bySite.values()].sort((a, b) => b.bytes - a.bytes)
}

module.exports = { startSampling, sites, SAMPLING_INTERVAL }
