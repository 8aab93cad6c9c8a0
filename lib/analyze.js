'use strict'

// The analyzer's JS API: summary, diff, retainers, stats, strings and inflate. The work
// (reading, inflating, dominators, aggregation) runs in Rust on libuv's thread pool, never on
// the JS thread; this file checks arguments, applies `top`, and turns native failures into
// Error objects with `code`, `path` and `syscall`. Requiring it arms nothing (the heapsnap CLI loads only this).

const binding = require('./binding')
const { fsError, typeError, optionsObject, fileArg, integer, boolean } = require('./errors')

const COUNT_MAX = 1e6
const OPTION_KEYS = {
  summary: ['top', 'progress', 'devtoolsRules'],
  diff: ['top', 'progress', 'devtoolsRules', 'sameProcess'],
  retainers: ['depth', 'limit', 'paths', 'maxDepth', 'progress', 'devtoolsRules'],
  inflate: ['force', 'progress'],
  stats: ['progress', 'devtoolsRules'],
  leaks: ['top', 'progress', 'devtoolsRules'],
  dominatorTop: ['classes', 'paths', 'children', 'progress', 'devtoolsRules'],
  strings: ['top', 'maxDepth', 'progress', 'devtoolsRules'],
}
const COUNT_KEYS = new Set(['top', 'paths', 'maxDepth', 'classes', 'children', 'limit'])
// The retainer tree's depth: 0 for no tree; at most 100 levels (the tree holds at most 100,000
// nodes whatever depth and limit ask).
const DEPTH = { min: 0, max: 100 }

/** The options of one analysis, checked: counts are integers, the rest booleans. */
function analysisOptions(command, options) {
  options = optionsObject(options, OPTION_KEYS[command], `${command}()`)
  const out = {}
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    out[key] =
      key === 'depth'
        ? integer(value, 'options.depth', DEPTH)
        : COUNT_KEYS.has(key)
          ? integer(value, `options.${key}`, { min: 1, max: COUNT_MAX })
          : boolean(value, `options.${key}`)
  }
  return out
}

/** Runs one native analysis; resolves to its result field or rejects with a coded Error. */
async function run(promise, field) {
  const result = await promise
  if (result.error) throw fsError(result.error, `heapsnap: ${result.error.message}`)
  return result[field]
}

/** The options the native side takes (`top` is applied here, except by `strings`). */
function nativeOptions({ top, ...rest }) {
  return rest
}

/**
 * DevTools' Summary view for one snapshot (plain or gzip).
 * @param {string | URL} file
 * @param {import('../index').SummaryOptions} [options]
 */
async function summary(file, options) {
  file = fileArg(file, 'file')
  const opts = analysisOptions('summary', options)
  const result = await run(binding.analyzeSummary(file, nativeOptions(opts)), 'summary')
  if (opts.top) result.classes = result.classes.slice(0, opts.top)
  return result
}

/**
 * DevTools' Comparison view: `target` against `base`, objects matched by id.
 * @param {string | URL} base
 * @param {string | URL} target
 * @param {import('../index').DiffOptions} [options]
 */
async function diff(base, target, options) {
  base = fileArg(base, 'base')
  target = fileArg(target, 'target')
  const opts = analysisOptions('diff', options)
  const result = await run(binding.analyzeDiff(base, target, nativeOptions(opts)), 'diff')
  if (result.allocatedBetween === undefined) result.allocatedBetween = null
  if (opts.top) {
    result.classes = result.classes.slice(0, opts.top)
    if (result.allocatedBetween) result.allocatedBetween = result.allocatedBetween.slice(0, opts.top)
  }
  return result
}

/**
 * DevTools' Retainers pane for the biggest instance of a class (or the object `@<id>`), as a
 * tree expanded to `depth`, and the shortest retainer paths from the GC roots to the `paths`
 * biggest instances.
 * @param {string | URL} file
 * @param {string} className a class name, or `@<id>` for one object
 * @param {import('../index').RetainersOptions} [options]
 */
async function retainers(file, className, options) {
  file = fileArg(file, 'file')
  if (typeof className !== 'string' || className === '') throw typeError('className must be a non-empty string')
  const opts = analysisOptions('retainers', options)
  const result = await run(binding.analyzeRetainers(file, className, opts), 'retainers')
  if (result.tree === undefined) result.tree = null
  return result
}

/**
 * DevTools' Statistics for one snapshot (plain or gzip): total, code, strings, JS arrays,
 * typed arrays, system, native.
 * @param {string | URL} file
 * @param {import('../index').StatsOptions} [options]
 */
async function stats(file, options) {
  file = fileArg(file, 'file')
  const opts = analysisOptions('stats', options)
  return run(binding.analyzeStats(file, opts), 'stats')
}

/**
 * Writes the plain `.heapsnapshot` inside a gzip one (atomically; refuses to overwrite
 * unless `force`). `output` defaults to the input name without `.gz`.
 * @param {string | URL} input
 * @param {string | URL} [output]
 * @param {import('../index').InflateOptions} [options]
 */
async function inflate(input, output, options) {
  input = fileArg(input, 'input')
  if (output !== undefined && output !== null && typeof output === 'object' && !(output instanceof URL)) {
    options = output
    output = undefined
  }
  output = output === undefined || output === null ? undefined : fileArg(output, 'output')
  const opts = analysisOptions('inflate', options)
  return run(binding.analyzeInflate(input, output, opts), 'inflate')
}

/**
 * The three-snapshot leak analysis of three files of one process, in the order taken (the
 * native result; `lib/leaks.js` builds the public report from it).
 * @param {string | URL} first
 * @param {string | URL} second
 * @param {string | URL} third
 * @param {{ top?: number, progress?: boolean, devtoolsRules?: boolean }} [options]
 */
async function leakRows(first, second, third, options) {
  const files = [fileArg(first, 'first'), fileArg(second, 'second'), fileArg(third, 'third')]
  const opts = analysisOptions('leaks', options)
  const result = await run(binding.analyzeLeaks(...files, nativeOptions(opts)), 'leaks')
  if (opts.top) result.rows = result.rows.slice(0, opts.top)
  return result
}

/**
 * The top of the dominator tree by class, in one read of the snapshot: the `classes` (default
 * 10) classes of biggest retained size, the `paths` (default 5) biggest instances of each with
 * their retainer path, and the `children` (default 5) biggest objects each of those retains.
 * Used by the HTML report.
 * @param {string | URL} file
 * @param {{ classes?: number, paths?: number, children?: number, progress?: boolean, devtoolsRules?: boolean }} [options]
 */
async function dominatorTop(file, options) {
  file = fileArg(file, 'file')
  const opts = analysisOptions('dominatorTop', options)
  return run(binding.analyzeDominatorTop(file, opts), 'dominatorTop')
}

/**
 * Duplicated strings (DevTools' "Duplicated strings" filter): heap strings with identical
 * text, most wasted bytes first, each with the retainer path of its copy nearest the roots.
 * `top` is applied natively: only the groups returned get a path.
 * @param {string | URL} file
 * @param {import('../index').StringsOptions} [options]
 */
async function strings(file, options) {
  file = fileArg(file, 'file')
  const opts = analysisOptions('strings', options)
  return run(binding.analyzeStrings(file, opts), 'strings')
}

/**
 * DevTools' Statistics as the parts of the total it draws (label, bytes), without the total.
 * The CLI's table and the HTML report's bar both use this.
 * @param {{ code: number, strings: number, jsArrays: number, typedArrays: number, system: number, v8Heap: number, native: number }} s
 */
function statisticsParts(s) {
  return [
    ['Code', s.code],
    ['Strings', s.strings],
    ['JS arrays', s.jsArrays],
    ['Typed arrays', s.typedArrays],
    ['System objects', s.system],
    ['Other JS objects', s.v8Heap - s.code - s.strings - s.jsArrays - s.system],
    ['Other non-JS objects', s.native - s.typedArrays],
  ]
}

// Rejections, not throws, for bad arguments: these are async functions.
module.exports = { summary, diff, retainers, inflate, stats, strings, leakRows, dominatorTop, statisticsParts }
