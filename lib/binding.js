'use strict'

// Loads the prebuilt addon (binding.js is the loader napi-rs generates). Loading it has no side
// effects: nothing is armed until index.js says so.

const path = require('node:path')

/**
 * `HEAPSNAP_NATIVE_PATH` points at a `.node` file built from source (it is handed to the
 * napi-rs loader as `NAPI_RS_NATIVE_LIBRARY_PATH`). When nothing loads, the error names the
 * platform and the package that provides its binary.
 */
function load() {
  if (process.env.HEAPSNAP_NATIVE_PATH) {
    process.env.NAPI_RS_NATIVE_LIBRARY_PATH = path.resolve(process.env.HEAPSNAP_NATIVE_PATH)
  }
  try {
    return require('../binding.js')
  } catch (cause) {
    let libc = ''
    if (process.platform === 'linux') {
      const glibc = process.report?.getReport?.().header?.glibcVersionRuntime
      libc = glibc ? '-gnu' : '-musl'
    } else if (process.platform === 'win32') libc = '-msvc'
    const pkgName = `heapsnap-native-${process.platform}-${process.arch}${libc}`
    const err = new Error(
      `heapsnap-native: no prebuilt binary loaded for ${process.platform}-${process.arch}${libc} ` +
        `(Node ${process.version}). Install the package that provides it: npm install ${pkgName} ` +
        '(npm skips optional dependencies when installed with --no-optional or from a lock file made ' +
        'on another platform). To use a binary built from source, set HEAPSNAP_NATIVE_PATH=/path/to/heapsnap-native.node.',
      { cause },
    )
    err.code = 'ERR_HEAPSNAP_NO_BINARY'
    throw err
  }
}

module.exports = load()
