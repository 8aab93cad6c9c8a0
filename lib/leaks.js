'use strict'

// The leak report: which objects were allocated between snapshots 1 and 2, are still alive in
// 3 and belong to classes that keep growing, grouped by class and retainer path (computed in
// Rust, src/analyze/leaks.rs), with the allocation sites the sampling heap profiler saw. One
// shape for the API, the CLI and the monitor; one text rendering for the CLI and the files.

const { leakRows } = require('./analyze')
const { formatBytes } = require('./binding')

/** How many allocation sites a report keeps. */
const TOP_SITES = 5
/** Rows the text report prints. */
const TEXT_ROWS = 10

/**
 * The public report of three snapshot files.
 * @param {[string, string, string]} files in the order taken
 * @param {{ top?: number, progress?: boolean, devtoolsRules?: boolean, allocationSites?: object[] }} [options]
 * @returns {Promise<import('../index').LeakReport>}
 */
async function leakReport(files, options = {}) {
  const { allocationSites = [], ...analysis } = options
  const r = await leakRows(files[0], files[1], files[2], analysis)
  const sites = allocationSites.slice(0, TOP_SITES)
  return {
    snapshots: r.files.map((f) => f.path),
    maxJsIds: r.maxJsIds,
    rows: r.rows.map((row) => ({
      className: row.className,
      count: row.count,
      shallowSize: row.shallowSize,
      retainedSize: row.retainedSize,
      growth: row.growth,
      path: row.path,
      // The sampling profiler does not record what class it sampled: these are where the
      // sampled bytes still alive at the end of the window were allocated, biggest first.
      allocationSites: sites,
    })),
    allocationSites: sites,
  }
}

/** The public API: `leaks(first, second, third, options?)`, three files of one process in the order taken. */
function leaks(first, second, third, options) {
  return leakReport([first, second, third], options)
}

const site = (s) => `${s.functionName || '(anonymous)'} ${s.url}:${s.line}:${s.column} (${formatBytes(s.bytes)})`

/** The plain-text report (what `heapsnap leaks` prints and the monitor writes beside the JSON). */
function formatLeakReport(report) {
  const out = []
  out.push(`Leak report: objects allocated between snapshot 1 and 2 and still alive in 3`)
  report.snapshots.forEach((p, i) => out.push(`  ${i + 1}. ${p}`))
  out.push('')
  if (report.rows.length === 0) {
    out.push('No growing class kept objects allocated between snapshots 1 and 2.')
  }
  report.rows.slice(0, TEXT_ROWS).forEach((r, i) => {
    const g = r.growth.count.map((n) => Math.round(n).toLocaleString('en-US')).join(' → ')
    out.push(
      `#${i + 1} ${r.className}: ${Math.round(r.count).toLocaleString('en-US')} objects, retained ${formatBytes(r.retainedSize)} (class count ${g})`,
    )
    out.push(`   path: ${r.path || '(a GC root)'}`)
    if (i === 0 && r.allocationSites.length > 0) {
      out.push('   allocated at (sampled, still alive):')
      for (const s of r.allocationSites) out.push(`     ${site(s)}`)
    }
  })
  if (report.rows.length > TEXT_ROWS) out.push(`… ${report.rows.length - TEXT_ROWS} more rows in the JSON`)
  if (report.error) out.push(`The attempt ended early: ${report.error.message}`)
  return `${out.join('\n')}\n`
}

module.exports = { leaks, leakReport, formatLeakReport }
