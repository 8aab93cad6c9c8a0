'use strict'

// Runs heapsnap's summary() on one file in a fresh Node process and measures it: the
// benchmarks' way to get wall time and peak RSS of exactly one analysis.

const path = require('node:path')
const { spawnSync } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..', '..')

/**
 * @param {string} file
 * @param {object} [options] summary() options
 * @returns {{ wallMs: number, peakRss: number, result: object }}
 */
function summaryInChild(file, options = {}) {
  const code = `
    const h = require(${JSON.stringify(ROOT)});
    h.summary(${JSON.stringify(file)}, ${JSON.stringify(options)}).then((r) => {
      process.stdout.write(JSON.stringify({ r, peakRss: process.resourceUsage().maxRSS * 1024 }) + '\\n');
    }, (e) => { console.error(e); process.exit(1) });`
  const t = process.hrtime.bigint()
  const res = spawnSync(process.execPath, ['-e', code], {
    encoding: 'utf8',
    env: { ...process.env, NODE_HEAPDUMP_OPTIONS: 'nosignal' },
    maxBuffer: 1 << 28,
  })
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6
  if (res.status !== 0) throw new Error(`summary of ${file} failed (${res.status ?? res.signal}):\n${res.stderr}`)
  const { r, peakRss } = JSON.parse(res.stdout.trim().split('\n').pop())
  return { wallMs, peakRss, result: r }
}

module.exports = { summaryInChild }
