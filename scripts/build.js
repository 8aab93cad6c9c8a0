#!/usr/bin/env node
'use strict'

// Builds the addon for this machine: installs the npm dev dependencies (the napi-rs CLI) when
// they are missing, then runs `napi build`. `npm test` and `npm run demo` call this first, so a
// fresh clone needs only node, npm and a Rust toolchain.
//   node scripts/build.js            release build (default)
//   node scripts/build.js --debug    debug build

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function run(cmd, args) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  if (res.status !== 0) {
    console.error(`build: '${cmd} ${args.join(' ')}' failed (${res.error ? res.error.message : `exit ${res.status}`})`)
    process.exit(res.status || 1)
  }
}

// Every dev dependency present (the napi-rs CLI, the linters, the test oracles), else install.
const { devDependencies = {} } = require(path.join(root, 'package.json'))
const missing = Object.keys(devDependencies).filter(
  (name) => !fs.existsSync(path.join(root, 'node_modules', name, 'package.json')),
)
if (missing.length > 0) {
  // `npm install` (guided by package-lock.json) rather than `npm ci`: npm 11's `ci` rejects
  // lock files whose optional per-platform packages were resolved on another platform.
  run(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts'])
}

const napi = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
const args = [napi, 'build', '--platform', '--js', 'binding.js', '--dts', 'binding.d.ts']
if (!process.argv.includes('--debug')) args.push('--release')
run(process.execPath, args)
