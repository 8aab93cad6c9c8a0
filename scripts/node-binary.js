'use strict'

// Other Node versions for the matrix and the benches: the npm registry's `node-linux-<arch>`
// packages (the official builds), the newest release of a major, cached in .cache/node-matrix.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const cache = path.join(root, '.cache', 'node-matrix')
const pkgName = `node-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error}`)
  return r.stdout
}

/** The newest published version of `major`, compared numerically (npm lists them as text). */
function latest(major) {
  const versions = JSON.parse(sh(npm, ['view', `${pkgName}@${major}`, 'version', '--json']))
  const list = (Array.isArray(versions) ? versions : [versions]).filter((v) => /^\d+\.\d+\.\d+$/.test(v))
  list.sort((a, b) => {
    const [x, y] = [a, b].map((v) => v.split('.').map(Number))
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
  })
  return list[list.length - 1]
}

/** The `node` binary of `major`, installed into the cache on first use. */
function nodeBinary(major) {
  const dir = path.join(cache, String(major))
  const bin = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const tgz = sh(npm, ['pack', `${pkgName}@${latest(major)}`, '--silent'], { cwd: dir })
    .trim()
    .split('\n')
    .pop()
  sh('tar', ['xzf', tgz], { cwd: dir })
  fs.rmSync(path.join(dir, tgz))
  return bin
}

module.exports = { nodeBinary, sh }
