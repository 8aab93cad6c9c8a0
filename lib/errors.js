'use strict'

// Coded errors and the option validators every API shares. Each message starts with
// 'heapsnap: ' and each error has a `code`: Node's own codes for argument errors, fs-style
// `code`/`errno`/`syscall`/`path` for I/O, `ERR_HEAPSNAP_*` for the rest.

const fs = require('node:fs')
const os = require('node:os')
const { fileURLToPath } = require('node:url')

function codedError(Ctor, code, message) {
  const err = new Ctor(message)
  err.code = code
  return err
}

/** An Error shaped like Node's fs errors, from the native side's `{ code, errno, syscall, path, message }`. */
function fsError(native, message) {
  const err = new Error(message ?? native.message)
  err.code = native.code
  if (native.errno) err.errno = -native.errno // Node's fs errors carry the negative errno
  err.syscall = native.syscall
  err.path = native.path
  if (native.limitSource != null) {
    // ERR_HEAPSNAP_NO_HEADROOM: what the dump needed against what the tightest limit left.
    err.needed = native.needed
    err.available = native.available
    err.limitSource = native.limitSource
  }
  return err
}

/**
 * A trigger's dump the memory check refused: its message is already the whole stderr line
 * ('heapsnap: not enough memory for a heap snapshot: …'). Prints it and returns true; any
 * other error: false.
 */
function reportRefusal(err) {
  if (err?.code !== 'ERR_HEAPSNAP_NO_HEADROOM') return false
  process.stderr.write(`${err.message}\n`)
  return true
}

const typeError = (message, code = 'ERR_INVALID_ARG_TYPE') => codedError(TypeError, code, `heapsnap: ${message}`)
const valueError = (message) => codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `heapsnap: ${message}`)
const rangeError = (message) => codedError(RangeError, 'ERR_OUT_OF_RANGE', `heapsnap: ${message}`)

/**
 * `options` as a plain object (undefined/null: `{}`), with every key in `keys`.
 * @param {unknown} options
 * @param {Iterable<string>} keys the accepted option names
 * @param {string} where how the messages name the call (e.g. 'watch')
 * @param {{ required?: boolean }} [how]
 */
function optionsObject(options, keys, where, { required = false } = {}) {
  if ((options === undefined || options === null) && !required) return {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(`${where} options must be an object`)
  }
  const allowed = keys instanceof Set ? keys : new Set(keys)
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) throw valueError(`unknown ${where} option '${key}'`)
  }
  return options
}

/** A non-empty string without NUL bytes (file names). */
function pathString(value, name) {
  if (typeof value !== 'string' || value === '') throw typeError(`${name} must be a non-empty string`)
  if (value.includes('\0')) throw valueError(`${name} must not contain NUL bytes`)
  return value
}

/** A file name or `file:` URL, as a path string. */
function fileArg(value, name) {
  if (value instanceof URL) value = fileURLToPath(value)
  if (typeof value !== 'string' || value === '') throw typeError(`${name} must be a non-empty string or file URL`)
  if (value.includes('\0')) throw valueError(`${name} must not contain NUL bytes`)
  return value
}

/** An integer in [min, max]; `dflt` when undefined. */
function integer(value, name, { min = 1, max = Number.MAX_SAFE_INTEGER, dflt } = {}) {
  if (value === undefined) return dflt
  if (typeof value !== 'number') throw typeError(`${name} must be a number`)
  if (!Number.isInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 1
          ? 'a positive integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`
    throw rangeError(`${name} must be ${range}, got ${value}`)
  }
  return value
}

/** A finite number > 0, or undefined. */
function positiveNumber(value, name) {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw typeError(`${name} must be a number`)
  if (!(value > 0) || !Number.isFinite(value)) throw rangeError(`${name} must be a positive number, got ${value}`)
  return value
}

function boolean(value, name, dflt) {
  if (value === undefined) return dflt
  if (typeof value !== 'boolean') throw typeError(`${name} must be a boolean`)
  return value
}

function func(value, name) {
  if (value !== undefined && typeof value !== 'function') throw typeError(`${name} must be a function`)
  return value
}

/** One of `choices` (strings), or `dflt` when undefined. */
function oneOf(value, name, choices, dflt) {
  if (value === undefined) return dflt
  if (!choices.includes(value)) throw valueError(`${name} must be ${choices.map((c) => `'${c}'`).join(' or ')}`)
  return value
}

/** Dumps that fire later must not fail then for a directory that is wrong now. */
function checkDirectory(dir) {
  const st = fs.statSync(dir) // throws ENOENT & co. with code, path, syscall
  if (!st.isDirectory()) {
    const err = new Error(`ENOTDIR: not a directory, '${dir}'`)
    Object.assign(err, { code: 'ENOTDIR', errno: -os.constants.errno.ENOTDIR, syscall: 'stat', path: dir })
    throw err
  }
  return dir
}

module.exports = {
  codedError,
  fsError,
  reportRefusal,
  typeError,
  valueError,
  rangeError,
  optionsObject,
  pathString,
  fileArg,
  integer,
  positiveNumber,
  boolean,
  func,
  oneOf,
  checkDirectory,
}
