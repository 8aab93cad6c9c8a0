'use strict'

// heapsnap report: one self-contained HTML page (inline CSS and JS, no network, works from
// file://) built from the analyzer's aggregates: Summary, Statistics, the biggest instances of
// the top classes with their retainer paths, the Comparison with a baseline, and a leak report.
// It never embeds the graph, so the page stays small whatever the snapshot's size.
//
// Safety: the data goes into a <script type="application/json"> block with `<`, `>`, `&`,
// U+2028 and U+2029 written as \uXXXX escapes (so no `</script>` or `<!--` can appear in it),
// and the page's script renders every string with textContent, never innerHTML.

const fs = require('node:fs')
const fsp = require('node:fs/promises')
const path = require('node:path')
const analyze = require('./analyze')
const { optionsObject, fileArg, integer, boolean, typeError } = require('./errors')
const { version } = require('../package.json')

const CLASSES_MAX = 300
const DIFF_MAX = 300
const SIDECAR_MAX = 1 << 20

/** JSON that is safe inside <script type="application/json">: no `<`, `>`, `&`, U+2028/2029. */
function safeJson(value) {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** The sidecar `<file>.json` when it exists and is a small JSON object; otherwise null. */
async function readSidecar(file) {
  const candidates = [`${file}.json`]
  if (file.endsWith('.gz')) candidates.push(`${file.slice(0, -3)}.json`)
  for (const name of candidates) {
    try {
      const st = await fsp.stat(name)
      if (!st.isFile() || st.size > SIDECAR_MAX) continue
      const value = JSON.parse(await fsp.readFile(name, 'utf8'))
      if (value && typeof value === 'object' && !Array.isArray(value)) return value
    } catch {}
  }
  return null
}

/** The leak report JSON (as `heapsnap leaks --json` or monitor() writes it). */
async function readLeaks(file) {
  const text = await fsp.readFile(file, 'utf8')
  let value
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw Object.assign(new Error(`heapsnap: ${file} is not a leak report (${e.message})`), {
      code: 'ERR_HEAPSNAP_BAD_LEAK_REPORT',
      path: file,
    })
  }
  if (!value || !Array.isArray(value.rows)) {
    throw Object.assign(new Error(`heapsnap: ${file} is not a leak report (no rows)`), {
      code: 'ERR_HEAPSNAP_BAD_LEAK_REPORT',
      path: file,
    })
  }
  return {
    snapshots: Array.isArray(value.snapshots) ? value.snapshots.map(String) : [],
    rows: value.rows.slice(0, 100).map((r) => ({
      className: String(r.className),
      count: Number(r.count) || 0,
      shallowSize: Number(r.shallowSize) || 0,
      retainedSize: Number(r.retainedSize) || 0,
      growth: r.growth && Array.isArray(r.growth.count) ? r.growth : null,
      path: String(r.path ?? ''),
      allocationSites: Array.isArray(r.allocationSites) ? r.allocationSites.slice(0, 10) : [],
    })),
    allocationSites: Array.isArray(value.allocationSites) ? value.allocationSites.slice(0, 20) : [],
  }
}

const node = (n) => ({
  id: n.id,
  name: n.name,
  selfSize: n.selfSize,
  retainedSize: n.retainedSize,
  distance: n.distance ?? null,
})

/** One instance as the page shows it: the object, its retainer path (the last 12 steps), what it retains. */
function compactInstance(p) {
  return {
    object: node(p.object),
    path: p.path.slice(-12).map((s) => ({ name: s.node.name, id: s.node.id, edge: s.edge ?? null })),
    truncated: p.path.length > 12,
    children: (p.children ?? []).map(node),
  }
}

/**
 * Gathers the report's data (aggregates only).
 * @param {string} file
 * @param {{ baseline?: string, leaks?: string, instances: number, paths: number, children: number, devtoolsRules?: boolean }} opts
 */
async function collect(file, opts) {
  const common = opts.devtoolsRules === undefined ? {} : { devtoolsRules: opts.devtoolsRules }
  const t0 = Date.now()
  const sum = await analyze.summary(file, common)
  const st = await analyze.stats(file, common)
  const classes = sum.classes.slice(0, CLASSES_MAX)
  // The top of the dominator tree (one more read): the biggest instances of the top classes
  // with their retainer paths, and what each retains.
  const instances = {}
  if (opts.instances > 0) {
    const top = await analyze.dominatorTop(file, {
      ...common,
      classes: opts.instances,
      paths: opts.paths,
      children: opts.children,
    })
    for (const c of top.classes) instances[c.name] = c.instances.map(compactInstance)
  }
  let comparison = null
  if (opts.baseline) {
    const d = await analyze.diff(opts.baseline, file, common)
    comparison = {
      base: d.base,
      sameProcess: d.sameProcess,
      classes: d.classes.slice(0, DIFF_MAX),
      allocatedBetween: d.allocatedBetween ? d.allocatedBetween.slice(0, DIFF_MAX) : null,
    }
  }
  return {
    generator: `heapsnap-native ${version}`,
    generatedAt: new Date().toISOString(),
    analysisMs: Date.now() - t0,
    file: sum.file,
    classCount: sum.classes.length,
    sidecar: await readSidecar(file),
    statistics: st.statistics,
    statisticsParts: analyze.statisticsParts(st.statistics),
    classes,
    instances,
    comparison,
    leaks: opts.leaks ? await readLeaks(opts.leaks) : null,
  }
}

/** The page: the template with the data, the CSS and the script inlined. */
function html(data) {
  const dir = path.join(__dirname, 'report')
  const css = fs.readFileSync(path.join(dir, 'page.css'), 'utf8')
  const js = fs.readFileSync(path.join(dir, 'page.js'), 'utf8')
  const title = `heapsnap report: ${path.basename(data.file.path)}`
  const escapeText = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="color-scheme" content="light dark">
<title>${escapeText(title)}</title>
<style>${css}</style>
</head>
<body>
<main id="app" aria-busy="true"><p class="loading">Rendering the report…</p></main>
<script type="application/json" id="heapsnap-data">${safeJson(data)}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`
}

/**
 * Writes one self-contained HTML report for `file`. Resolves to `{ output, bytes }`.
 * @param {string | URL} file
 * @param {import('../index').ReportOptions} [options]
 */
async function report(file, options) {
  file = fileArg(file, 'file')
  const o = optionsObject(
    options,
    ['baseline', 'leaks', 'output', 'instances', 'paths', 'children', 'devtoolsRules'],
    'report()',
  )
  const opts = {
    baseline: o.baseline === undefined || o.baseline === null ? undefined : fileArg(o.baseline, 'options.baseline'),
    leaks: o.leaks === undefined || o.leaks === null ? undefined : fileArg(o.leaks, 'options.leaks'),
    instances: o.instances === undefined ? 10 : integer(o.instances, 'options.instances', { min: 0, max: 100 }),
    paths: o.paths === undefined ? 5 : integer(o.paths, 'options.paths', { min: 1, max: 50 }),
    children: o.children === undefined ? 5 : integer(o.children, 'options.children', { min: 1, max: 50 }),
    devtoolsRules: o.devtoolsRules === undefined ? undefined : boolean(o.devtoolsRules, 'options.devtoolsRules'),
  }
  let output = o.output === undefined || o.output === null ? undefined : fileArg(o.output, 'options.output')
  if (output === undefined) {
    const base = path
      .basename(file)
      .replace(/\.gz$/, '')
      .replace(/\.heapsnapshot$/, '')
    output = path.join(path.dirname(file), `${base}.report.html`)
  }
  if (output === file) throw typeError('options.output must differ from the snapshot file')
  const data = await collect(file, opts)
  const page = html(data)
  const tmp = `${output}.${process.pid}.tmp`
  await fsp.writeFile(tmp, page)
  await fsp.rename(tmp, output)
  return { output, bytes: Buffer.byteLength(page) }
}

module.exports = { report, safeJson, html, collect }
