'use strict'

// The baseline for bench/analyzer/devtools.js: Chrome DevTools' own heap snapshot model in
// Node (heap-snapshot-toolkit, which bundles DevTools' front_end heap_snapshot_worker), doing
// what DevTools does to show a snapshot's Summary, or its Comparison of two snapshots.
//
//   node --max-old-space-size=N bench/analyzer/devtools-child.js summary <file>
//   node --max-old-space-size=N bench/analyzer/devtools-child.js diff <base> <target>
//
// summary: `parse` (DevTools' HeapSnapshotLoader and JSHeapSnapshot initialisation: nodes and
//   edges into typed arrays, the strings, retainers, distances, dominator tree and retained
//   sizes, class names, interface definitions, statistics) then `aggregatesWithFilter({})` (the
//   Summary rows: per class count, shallow size, retained size, distance).
// diff: `diffFromStreams` (the base parsed, its aggregates for diff taken and the base freed,
//   then the target parsed and `calculateSnapshotDiff` run: what DevTools' Comparison view
//   computes), the toolkit's memory-frugal way of comparing two files.
//
// Prints one JSON line: phase times (ms), row count, and the process's peak RSS (VmHWM).

const fs = require('node:fs')
const { performance } = require('node:perf_hooks')

/** The peak resident set size of this process, in bytes (VmHWM; maxRSS where /proc is absent). */
function peakRss() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    if (m) return Number(m[1]) * 1024
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}

async function main() {
  const [mode, ...files] = process.argv.slice(2)
  const t0 = performance.now()
  const toolkit = await import('heap-snapshot-toolkit')
  const stream = (f) => fs.createReadStream(f, { encoding: 'utf8', highWaterMark: 1 << 20 })
  const out = { tool: 'devtools', mode }
  if (mode === 'summary') {
    const t1 = performance.now()
    const snapshot = await toolkit.parse(stream(files[0]))
    const t2 = performance.now()
    const rows = snapshot.aggregatesWithFilter({})
    const t3 = performance.now()
    Object.assign(out, {
      nodeCount: snapshot.nodeCount,
      edgeCount: snapshot.containmentEdges.length / snapshot.edgeFieldsCount,
      rows: Object.keys(rows).length,
      importMs: Math.round(t1 - t0),
      parseMs: Math.round(t2 - t1),
      aggregateMs: Math.round(t3 - t2),
    })
  } else if (mode === 'diff') {
    const t1 = performance.now()
    const marks = {}
    let rows = 0
    for await (const step of toolkit.diffFromStreams(stream(files[0]), stream(files[1]))) {
      marks[step.type] = performance.now()
      if (step.type === 'diff') rows = Object.keys(step.result).length
    }
    Object.assign(out, {
      rows,
      importMs: Math.round(t1 - t0),
      parseBaseMs: Math.round(marks.start - t1),
      parseTargetMs: Math.round(marks.end - marks.start),
      diffMs: Math.round(marks.diff - marks.end),
    })
  } else {
    throw new Error('usage: devtools-child.js summary <file> | diff <base> <target>')
  }
  out.peakRssBytes = peakRss()
  const cpu = process.cpuUsage()
  out.cpuMs = Math.round((cpu.user + cpu.system) / 1000)
  process.stdout.write(`${JSON.stringify(out)}\n`)
  // The toolkit can leave handles open; the answer is out.
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
