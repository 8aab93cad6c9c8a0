'use strict'

// Where a snapshot is serialized: on a Rust thread once V8 has generated it ('background': the
// JS thread is blocked for generation alone), or on the JS thread ('inline'). Background is the
// default wherever nothing else may use V8's heap profiler of this isolate while the snapshot
// is serialized, because V8's Serialize reads state that the heap profiler's other users change
// on the JS thread: the allocation tracker (and on Node 18/20 Serialize itself prepares it), the
// id map's samples, and an inspector session may take, delete or clear snapshots and ids.
//
// So a dump serializes inline while any of these holds (each state is per isolate, i.e. per
// thread; this module's copy in each worker tracks its own):
// - HEAPSNAP_SERIALIZE=inline, or the option serialize: 'inline';
// - the engine is not 'native' (the JS engine's v8.writeHeapSnapshot is one call);
// - this library samples allocation sites (monitor(): the sampling heap profiler);
// - an in-process inspector session is connected (node:inspector Session.connect() or
//   connectToMainThread(), counted from the time this package is loaded);
// - the inspector is open (inspector.url(): a debugger may attach and use the heap profiler);
// - heap-object tracking is on (V8's allocation tracker, which Serialize reads and every
//   allocation changes): `--track-heap-objects`, or any session's
//   HeapProfiler.startTrackingHeapObjects until its stopTrackingHeapObjects, including sessions
//   connected before this package was loaded (the hooks are on Session.prototype).
// Not seen: tracking a session started before this package was loaded (use serialize:
// 'inline' or HEAPSNAP_SERIALIZE=inline there), and sessions of workers that never load this
// package (connectToMainThread) posting HeapProfiler.* while a serialization runs.
// And before anything else uses the heap profiler through Node's own API (v8.writeHeapSnapshot,
// v8.getHeapSnapshot, a session connecting or posting HeapProfiler.*), the running background
// serialization of this thread is waited for (binding.settleBackground()).

const v8 = require('node:v8')
const inspector = require('node:inspector')

const binding = require('./binding')
const { engine } = require('./engine')

/** Sessions connected now (this thread), counted by the hooks below. */
let sessions = 0
/** This library's own sampling heap profiler runs (lib/allocation-sites.js). */
let sampling = 0
/** Sessions that started heap-object tracking and have not stopped it. */
const tracking = new WeakSet()
let trackingCount = 0
/** V8's allocation tracker is on from the start. */
const trackFlag = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) =>
  /^--track[-_]heap[-_]objects$/.test(a),
)

/** Blocks until this thread's background serialization (if any) has ended. */
function settle() {
  if (engine === 'native') binding.settleBackground()
}

/** Marks the sampling heap profiler started by this library as running, or not. */
function samplingActive(on) {
  sampling += on ? 1 : -1
}

/**
 * Where the next dump serializes, and why.
 * @param {'background' | 'inline' | undefined} wanted the caller's option
 * @returns {{ mode: 'background' | 'inline', reason: string }}
 */
function serializeMode(wanted) {
  if (engine !== 'native') return { mode: 'inline', reason: `the ${engine} engine serializes in one call` }
  if (process.env.HEAPSNAP_SERIALIZE === 'inline') return { mode: 'inline', reason: 'HEAPSNAP_SERIALIZE=inline' }
  if (wanted === 'inline') return { mode: 'inline', reason: "options.serialize is 'inline'" }
  if (sampling > 0) return { mode: 'inline', reason: 'the sampling heap profiler is running (allocation sites)' }
  if (trackFlag || trackingCount > 0) return { mode: 'inline', reason: 'heap-object tracking is on' }
  if (sessions > 0) return { mode: 'inline', reason: 'an inspector session is connected' }
  if (inspector.url() !== undefined) return { mode: 'inline', reason: 'the inspector is open (a debugger may attach)' }
  return { mode: 'background', reason: 'nothing else uses the heap profiler' }
}

/**
 * What else may be using V8's object ids (so that they must stay as they are), or null.
 * @returns {string | null}
 */
function objectIdUser() {
  if (trackFlag || trackingCount > 0) return 'heap-object tracking is on'
  if (sessions > 0) return 'an inspector session is connected'
  if (inspector.url() !== undefined) return 'the inspector is open (a debugger may compare snapshots)'
  return null
}

/** Marks the functions this copy of the module wrapped (another copy, with its own addon, wraps them once more). */
const HOOKED = Symbol('heapsnap-native.hooked')

/** Wraps `obj[name]` so that `before(...args)` runs first. */
function hook(obj, name, before) {
  const original = obj?.[name]
  if (typeof original !== 'function' || original[HOOKED]) return
  const wrapped = function (...args) {
    before.apply(this, args)
    return original.apply(this, args)
  }
  Object.defineProperty(wrapped, HOOKED, { value: true })
  Object.defineProperty(wrapped, 'name', { value: original.name })
  obj[name] = wrapped
}

/** Installs the hooks once per thread (at load). */
function installGuards() {
  if (engine !== 'native') return
  // Node's own snapshots also add to V8's id map, which the memory check counts.
  const foreignSnapshot = () => {
    settle()
    binding.objectIdsUsedElsewhere(false)
  }
  hook(v8, 'writeHeapSnapshot', foreignSnapshot)
  hook(v8, 'getHeapSnapshot', foreignSnapshot)
  const proto = inspector.Session?.prototype
  if (proto) hookSessions(proto)
  // ES modules that import these names from node:v8 / node:inspector see the hooked ones too.
  require('node:module').syncBuiltinESMExports?.()
}

/** HeapProfiler methods that add entries to V8's id map (a snapshot, or the allocation tracker's walk of the heap). */
const FOREIGN_IDS = new Set([
  'HeapProfiler.takeHeapSnapshot',
  'HeapProfiler.startTrackingHeapObjects',
  'HeapProfiler.stopTrackingHeapObjects',
  'HeapProfiler.getHeapObjectId',
])

/** Counts connected sessions; settles before one connects or posts HeapProfiler.* . */
function hookSessions(proto) {
  const connected = Symbol('heapsnapConnected')
  const onConnect = function () {
    settle()
    if (!this[connected]) {
      this[connected] = true
      sessions++
    }
  }
  const mainThread = Symbol('heapsnapMainThread')
  hook(proto, 'connect', onConnect)
  hook(proto, 'connectToMainThread', function () {
    onConnect.call(this)
    this[mainThread] = true
  })
  hook(proto, 'disconnect', function () {
    // The session's HeapProfiler agent stops tracking when it goes.
    if (tracking.has(this)) {
      tracking.delete(this)
      trackingCount--
    }
    if (this[connected]) {
      this[connected] = false
      sessions--
    }
    // V8 clears the object ids when a session's heap profiler agent is disabled, at its end
    // (sessions connected before this package loaded too): the next dump's memory check must
    // count the id map it builds again. A worker's connectToMainThread() session is the main
    // thread's, whose history this thread cannot name: every thread forgets.
    binding.forgetObjectIds(this[mainThread] === true)
  })
  hook(proto, 'post', function (method) {
    if (typeof method !== 'string' || !method.startsWith('HeapProfiler.')) return
    settle()
    // The session's isolate: this thread's, or the main thread's (connectToMainThread).
    if (method === 'HeapProfiler.disable') binding.forgetObjectIds(this[mainThread] === true)
    if (FOREIGN_IDS.has(method)) binding.objectIdsUsedElsewhere(this[mainThread] === true)
    if (method === 'HeapProfiler.startTrackingHeapObjects' && !tracking.has(this)) {
      tracking.add(this)
      trackingCount++
    } else if (
      (method === 'HeapProfiler.stopTrackingHeapObjects' || method === 'HeapProfiler.disable') &&
      tracking.has(this)
    ) {
      tracking.delete(this)
      trackingCount--
    }
  })
}

module.exports = { serializeMode, objectIdUser, samplingActive, settle, installGuards }
