'use strict'

// The analyzer's JS API: summary, diff, retainers and inflate. The work (reading, inflating,
// dominators, aggregation) runs in Rust on libuv's thread pool, never on the JS thread; this
// file checks arguments, applies `top`, and turns native failures into Error objects with
// `code`, `path` and `syscall`.

const { fileURLToPath } = require('node:url')

/**
 * @param {object} binding the native binding
 * @param {{ codedError: Function, fsError: Function }} errors
 */
module.exports = function analyzer(binding, { codedError, fsError }) {
  const OPTION_KEYS = {
    summary: ['top', 'progress', 'devtoolsRules'],
    diff: ['top', 'progress', 'devtoolsRules', 'sameProcess'],
    retainers: ['paths', 'maxDepth', 'progress', 'devtoolsRules'],
    inflate: ['force', 'progress'],
  }

  function fileArg(value, name) {
    if (value instanceof URL) value = fileURLToPath(value)
    if (typeof value !== 'string' || value === '') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `heapsnap: ${name} must be a non-empty string or file URL`)
    }
    if (value.includes('\0')) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `heapsnap: ${name} must not contain NUL bytes`)
    }
    return value
  }

  function optionsArg(command, options) {
    if (options === undefined || options === null) return {}
    if (typeof options !== 'object' || Array.isArray(options)) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'heapsnap: options must be an object')
    }
    const allowed = OPTION_KEYS[command]
    const out = {}
    for (const key of Object.keys(options)) {
      const value = options[key]
      if (value === undefined) continue
      if (!allowed.includes(key)) {
        throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `heapsnap: unknown option '${key}' for ${command}()`)
      }
      if (key === 'top' || key === 'paths' || key === 'maxDepth') {
        if (typeof value !== 'number') {
          throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `heapsnap: options.${key} must be a number`)
        }
        if (!Number.isInteger(value) || value < 1 || value > 1e6) {
          throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `heapsnap: options.${key} must be an integer from 1 to 1000000, got ${value}`)
        }
      } else if (typeof value !== 'boolean') {
        throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `heapsnap: options.${key} must be a boolean`)
      }
      out[key] = value
    }
    return out
  }

  /** Runs one native analysis; resolves to its result field or rejects with a coded Error. */
  async function run(promise, field) {
    const result = await promise
    if (result.error) throw fsError(result.error, `heapsnap: ${result.error.message}`)
    return result[field]
  }

  function native(options) {
    const { top, ...rest } = options
    return rest
  }

  /**
   * DevTools' Summary view for one snapshot (plain or gzip).
   * @param {string | URL} file
   * @param {{ top?: number, progress?: boolean, devtoolsRules?: boolean }} [options]
   */
  async function summary(file, options) {
    file = fileArg(file, 'file')
    const opts = optionsArg('summary', options)
    const result = await run(binding.analyzeSummary(file, native(opts)), 'summary')
    if (opts.top) result.classes = result.classes.slice(0, opts.top)
    return result
  }

  /**
   * DevTools' Comparison view: `target` against `base`, objects matched by id.
   * @param {string | URL} base
   * @param {string | URL} target
   * @param {{ top?: number, progress?: boolean, devtoolsRules?: boolean, sameProcess?: boolean }} [options]
   */
  async function diff(base, target, options) {
    base = fileArg(base, 'base')
    target = fileArg(target, 'target')
    const opts = optionsArg('diff', options)
    const result = await run(binding.analyzeDiff(base, target, native(opts)), 'diff')
    if (result.allocatedBetween === undefined) result.allocatedBetween = null
    if (opts.top) {
      result.classes = result.classes.slice(0, opts.top)
      if (result.allocatedBetween) result.allocatedBetween = result.allocatedBetween.slice(0, opts.top)
    }
    return result
  }

  /**
   * Shortest retainer paths from the GC roots to the biggest instances of a class.
   * @param {string | URL} file
   * @param {string} className
   * @param {{ paths?: number, maxDepth?: number, progress?: boolean, devtoolsRules?: boolean }} [options]
   */
  async function retainers(file, className, options) {
    file = fileArg(file, 'file')
    if (typeof className !== 'string' || className === '') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'heapsnap: className must be a non-empty string')
    }
    const opts = optionsArg('retainers', options)
    return run(binding.analyzeRetainers(file, className, opts), 'retainers')
  }

  /**
   * Writes the plain `.heapsnapshot` inside a gzip one (atomically; refuses to overwrite
   * unless `force`). `output` defaults to the input name without `.gz`.
   * @param {string | URL} input
   * @param {string | URL} [output]
   * @param {{ force?: boolean, progress?: boolean }} [options]
   */
  async function inflate(input, output, options) {
    input = fileArg(input, 'input')
    if (output !== undefined && output !== null && typeof output === 'object' && !(output instanceof URL)) {
      options = output
      output = undefined
    }
    output = output === undefined || output === null ? undefined : fileArg(output, 'output')
    const opts = optionsArg('inflate', options)
    return run(binding.analyzeInflate(input, output, opts), 'inflate')
  }

  // Rejections, not throws, for bad arguments: these are async functions.
  return { summary, diff, retainers, inflate }
}
