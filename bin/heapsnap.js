#!/usr/bin/env node
'use strict'

// heapsnap: DevTools' Summary, Comparison, Retainers and Statistics views and its duplicated strings in
// the terminal, for plain and gzip snapshots of any size. The analysis runs in Rust (see lib/analyze.js); this file parses the
// command line and prints tables, or JSON with --json.

// Only the analyzer is loaded: the CLI arms no signal and hooks nothing.
const { parseArgs } = require('node:util')
const heapsnap = require('../lib/analyze.js')
const { leaks, formatLeakReport } = require('../lib/leaks.js')
const { report } = require('../lib/report.js')
const { formatBytes } = require('../lib/binding.js')
const { version } = require('../package.json')

const USAGE = `heapsnap ${version}: heap snapshot analysis without DevTools (plain or .gz files)

Usage:
  heapsnap summary <file> [--top N]
      Per class: distance, count, shallow size, retained size (DevTools' Summary view).
  heapsnap diff <base> <target> [--top N] [--same-process | --other-process]
      # New, # Deleted, # Delta, Alloc. Size, Freed Size, Size Delta per class, objects
      matched by id (DevTools' Comparison view); when both files come from one process, also
      the objects allocated between the two snapshots.
  heapsnap retainers <file> <class|@id> [--depth N] [--limit N]
      DevTools' Retainers pane as a tree for the biggest instance of the class (by retained
      size) or the object @id: every edge pointing at it, then their retainers, to --depth
      levels (default 3), at most --limit retainers under each (default 10), sorted as
      DevTools sorts them (distance, then name), with distance, shallow and retained size.
  heapsnap retainers <file> <class|@id> --paths N [--max-depth N]
      The shortest retainer path from the GC roots to each of the N biggest instances.
  heapsnap stats <file>
      Total, code, strings, JS arrays, typed arrays, system, native (DevTools' Statistics).
  heapsnap strings <file> [--top N] [--max-depth N]
      Duplicated strings: texts held by more than one heap string, their count, total size and
      the bytes all copies but the largest waste, most wasted first, each with the retainer
      path of its copy nearest the roots (DevTools' "Duplicated strings" filter).
  heapsnap inflate <file.gz> [out] [--force]
      Writes the plain .heapsnapshot that DevTools loads.
  heapsnap leaks <first> <second> <third> [--top N]
      Three snapshots of one process, in the order taken: the objects allocated between the
      first two and still alive in the third, of classes that keep growing, grouped by class
      and retainer path (array indices and table slots collapsed), biggest retained size first.
  heapsnap report <file> [--baseline <file>] [--leaks <report.json>] [-o report.html]
      One self-contained HTML page (no network, opens from file://): header and Statistics,
      a retained-size treemap, the Summary with the biggest instances' retainer paths, the
      Comparison with --baseline, the leak report first with --leaks. Aggregates only: the
      page stays small whatever the snapshot's size. Default output: <file>.report.html.

Options:
  --json              print the result as JSON on stdout
  --top N             rows to print (default 20; with --json, all rows unless given)
  --no-devtools-rules V8's own self sizes, the older class names ((closure), (regexp),
                      Object) and no page-owned or WeakMap rules (retained sizes as
                      memlab computes them); DevTools' rules are the default
  --no-progress       never draw the progress bar (drawn on stderr when it is a terminal)
  -h, --help          this text
  -v, --version       the version

Exit status: 0 on success, 1 when the analysis fails (or finds no objects of the class),
2 on a usage error.`

class UsageError extends Error {}

function parse(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      top: { type: 'string' },
      paths: { type: 'string' },
      'max-depth': { type: 'string' },
      depth: { type: 'string' },
      limit: { type: 'string' },
      'same-process': { type: 'boolean' },
      'other-process': { type: 'boolean' },
      'no-devtools-rules': { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      force: { type: 'boolean' },
      baseline: { type: 'string' },
      leaks: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  })
  return { values, positionals }
}

function count(value, flag) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${value}'`)
  return n
}

// ---------------------------------------------------------------------------------------------
// Formatting

const group = (n) => Math.round(n).toLocaleString('en-US')
const signed = (n) => (n > 0 ? '+' : '') + group(n)

/** Sizes in binary units, as the native side prints them everywhere. */
const bytes = (n) => (n < 0 ? `-${formatBytes(-n)}` : formatBytes(n))

function percent(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-'
}

/** Prints rows as a table; columns whose spec says `right` are right-aligned. */
function table(columns, rows) {
  const cells = rows.map((r) => columns.map((c) => String(c.value(r))))
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)))
  const line = (values) =>
    values
      .map((v, i) => (columns[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [line(columns.map((c) => c.title))]
  for (const r of cells) out.push(line(r))
  return out.join('\n')
}

function clip(name, max = 60) {
  const oneLine = name.replace(/\s+/g, ' ')
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine
}

function describeFile(f) {
  return (
    `${f.path} (${f.gzip ? 'gzip, ' : ''}${bytes(f.fileSize)}): ${group(f.nodeCount)} nodes, ` +
    `${group(f.edgeCount)} edges, ${bytes(f.totalSize)} in all`
  )
}

/** '−' for objects no path reaches (-5) and those reached only from system roots (≥ 100000000). */
function distance(d) {
  if (d === undefined || d === null) return ''
  return d < 0 || d >= 100000000 ? '−' : String(d)
}

function printStats(r) {
  console.log(describeFile(r.file))
  const s = r.statistics
  const rows = [...heapsnap.statisticsParts(s), ['Total', s.total]]
  console.log(
    '\n' +
      table(
        [
          { title: 'Statistics', value: (x) => x[0] },
          { title: 'Bytes', right: true, value: (x) => group(x[1]) },
          { title: '', right: true, value: (x) => bytes(x[1]) },
          { title: '%', right: true, value: (x) => percent(x[1], s.total) },
        ],
        rows,
      ),
  )
}

function summaryTable(classes, total) {
  return table(
    [
      { title: 'Class', value: (r) => clip(r.name) },
      { title: 'Distance', right: true, value: (r) => distance(r.distance) },
      { title: 'Count', right: true, value: (r) => group(r.count) },
      { title: 'Shallow size', right: true, value: (r) => group(r.shallowSize) },
      { title: '%', right: true, value: (r) => percent(r.shallowSize, total) },
      { title: 'Retained size', right: true, value: (r) => group(r.retainedSize) },
      { title: '%', right: true, value: (r) => percent(r.retainedSize, total) },
    ],
    classes,
  )
}

function printSummary(r, top) {
  console.log(describeFile(r.file))
  const t = r.timings
  console.log(
    `analysed in ${((t.readMs + t.dominatorsMs + t.aggregateMs) / 1000).toFixed(2)} s ` +
      `(read ${(t.readMs / 1000).toFixed(2)} s, dominators ${(t.dominatorsMs / 1000).toFixed(2)} s); sizes in bytes\n`,
  )
  console.log(summaryTable(r.classes.slice(0, top), r.file.totalSize))
  if (r.classes.length > top) console.log(`… ${group(r.classes.length - top)} more classes (--top N)`)
}

function printDiff(r, top) {
  console.log(`base:   ${describeFile(r.base)}`)
  console.log(`target: ${describeFile(r.target)}\n`)
  if (r.classes.length === 0) console.log('No objects were allocated or freed between the two snapshots.')
  else {
    console.log(
      table(
        [
          { title: 'Class', value: (d) => clip(d.name) },
          { title: '# New', right: true, value: (d) => group(d.newCount) },
          { title: '# Deleted', right: true, value: (d) => group(d.deletedCount) },
          { title: '# Delta', right: true, value: (d) => signed(d.deltaCount) },
          { title: 'Alloc. Size', right: true, value: (d) => group(d.allocSize) },
          { title: 'Freed Size', right: true, value: (d) => group(d.freedSize) },
          { title: 'Size Delta', right: true, value: (d) => signed(d.sizeDelta) },
        ],
        r.classes.slice(0, top),
      ),
    )
    if (r.classes.length > top) console.log(`… ${group(r.classes.length - top)} more classes (--top N)`)
  }
  console.log('')
  if (r.allocatedBetween) {
    console.log(`Objects allocated between the two snapshots (in the target, id > ${r.baseMaxJsId}):\n`)
    if (r.allocatedBetween.length === 0) console.log('(none)')
    else console.log(summaryTable(r.allocatedBetween.slice(0, top), r.target.totalSize))
  } else {
    console.log(
      'The files do not look like two snapshots of one process (only ' +
        `${(100 * r.sameProcessScore).toFixed(1)}% of the object ids found in both name objects of the same class), ` +
        'so there is no "allocated between" view; --same-process forces it.',
    )
  }
}

function printRetainersHeader(r) {
  console.log(describeFile(r.file))
  console.log(
    `${r.className}: ${group(r.count)} objects, shallow ${group(r.shallowSize)} B, ` +
      `retained ${group(r.retainedSize)} B\n`,
  )
}

function printRetainers(r) {
  printRetainersHeader(r)
  r.paths.forEach((p, i) => {
    const o = p.object
    console.log(
      `#${i + 1} ${o.name} @${o.id}: self ${group(o.selfSize)} B, retained ${group(o.retainedSize)} B` +
        (o.distance === undefined ? ', unreachable' : `, distance ${o.distance}`),
    )
    if (p.path.length === 0) {
      console.log('   (no retainer path: held only by weak references, or garbage the snapshot still listed)')
    } else {
      console.log(`   ${pathLine(p.path)}`)
    }
  })
}

function pathLine(steps) {
  return steps.map((s) => `${clip(s.node.name, 50)} @${s.node.id}${s.edge ? ` ${clip(s.edge, 40)}` : ''}`).join(' → ')
}

function printStrings(r, top) {
  console.log(describeFile(r.file))
  if (r.groupCount === 0) return console.log('\nNo duplicated strings.')
  console.log(
    `${group(r.groupCount)} texts held by more than one string: ${group(r.stringCount)} strings, ` +
      `${group(r.totalSize)} B, of which ${group(r.wastedSize)} B (${percent(r.wastedSize, r.file.totalSize)} ` +
      'of the heap) are copies beyond the largest; sizes in bytes\n',
  )
  const rows = r.strings.slice(0, top).map((s, i) => ({ ...s, n: i + 1 }))
  console.log(
    table(
      [
        { title: '#', right: true, value: (s) => s.n },
        { title: 'Wasted', right: true, value: (s) => group(s.wastedSize) },
        { title: 'Count', right: true, value: (s) => group(s.count) },
        { title: 'Size', right: true, value: (s) => group(s.selfSize) },
        { title: 'Total', right: true, value: (s) => group(s.totalSize) },
        { title: 'Length', right: true, value: (s) => group(s.length) },
        { title: 'String', value: (s) => clip(JSON.stringify(s.value), 60) },
      ],
      rows,
    ),
  )
  if (r.groupCount > rows.length) console.log(`… ${group(r.groupCount - rows.length)} more texts (--top N)`)
  console.log('\nRetainer path of the copy nearest the roots:')
  for (const s of rows) {
    console.log(
      `#${s.n} ${s.path.length === 0 ? `(string) @${s.object.id}: no retainer path (held only weakly)` : pathLine(s.path)}`,
    )
  }
}

/** A node as the Retainers pane writes it (`createObjectCell`): `name()`, `/re/`, `a[]`, `@id`. */
function objectCell(n) {
  const name = clip(n.name, 50)
  const shown =
    n.type === 'closure'
      ? `${name}()`
      : n.type === 'regexp'
        ? `/${name}/`
        : n.type === 'array'
          ? name
            ? `${name}[]`
            : '(internal array)[]'
          : name
  return `${shown} @${n.id}`
}

/** An edge's name as the Retainers pane writes it: `[i]` for elements, `(empty)` for none. */
function edgeCell(e) {
  const name = clip(e.edgeName, 40) || '(empty)'
  return e.edgeType === 'element' ? `[${name}]` : name
}

function printTree(r) {
  const t = r.tree
  const rows = [{ text: objectCell(t.object), node: t.object }]
  const more = (total, shown, indent) => {
    if (total > shown) rows.push({ text: `${indent}… ${group(total - shown)} more (--limit N)` })
  }
  const walk = (list, total, indent) => {
    for (const e of list) {
      rows.push({
        text: `${indent}↳ ${edgeCell(e)} in ${objectCell(e.node)}${e.cycle ? ' (cycle: on the path already)' : ''}`,
        node: e.node,
      })
      if (e.retainers.length > 0) walk(e.retainers, e.retainerCount, indent + '  ')
    }
    more(total, list.length, indent)
  }
  walk(t.retainers, t.retainerCount, '')
  console.log(
    `Retainers of ${t.object.className} @${t.object.id}: ${group(t.retainerCount)} retainer${t.retainerCount === 1 ? '' : 's'}; ` +
      'sorted as DevTools sorts them (distance, then name); sizes in bytes\n',
  )
  console.log(
    table(
      [
        { title: 'Object', value: (x) => x.text },
        { title: 'Distance', right: true, value: (x) => (x.node ? distance(x.node.distance) : '') },
        { title: 'Shallow size', right: true, value: (x) => (x.node ? group(x.node.selfSize) : '') },
        { title: 'Retained size', right: true, value: (x) => (x.node ? group(x.node.retainedSize) : '') },
      ],
      rows,
    ),
  )
}

// ---------------------------------------------------------------------------------------------

async function main(argv) {
  let values, positionals
  try {
    ;({ values, positionals } = parse(argv))
  } catch (e) {
    throw new UsageError(e.message)
  }
  if (values.version) return console.log(version)
  const [command, ...args] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return
  }
  const progress = !values['no-progress'] && Boolean(process.stderr.isTTY)
  const devtoolsRules = values['no-devtools-rules'] ? false : undefined
  const top = count(values.top, '--top')
  const show = top ?? 20
  const want = (n, usage) => {
    if (args.length < n[0] || args.length > n[1]) throw new UsageError(`usage: heapsnap ${usage}`)
  }
  const emit = (result, print) => (values.json ? console.log(JSON.stringify(result, null, 2)) : print(result))

  switch (command) {
    case 'summary': {
      want([1, 1], 'summary <file> [--top N]')
      const r = await heapsnap.summary(args[0], { top, progress, devtoolsRules })
      return emit(r, (x) => printSummary(x, show))
    }
    case 'diff': {
      want([2, 2], 'diff <base> <target> [--top N]')
      if (values['same-process'] && values['other-process']) {
        throw new UsageError('give --same-process or --other-process, not both')
      }
      const sameProcess = values['same-process'] ? true : values['other-process'] ? false : undefined
      const r = await heapsnap.diff(args[0], args[1], { top, progress, devtoolsRules, sameProcess })
      return emit(r, (x) => printDiff(x, show))
    }
    case 'retainers': {
      want([2, 2], 'retainers <file> <class|@id> [--depth N] [--limit N] [--paths N] [--max-depth N]')
      // --paths (or --max-depth) prints the shortest paths; the tree is printed without them,
      // or with them when --depth or --limit asks for it too.
      const paths = count(values.paths, '--paths')
      const maxDepth = count(values['max-depth'], '--max-depth')
      const depth = count(values.depth, '--depth')
      const limit = count(values.limit, '--limit')
      const pathsMode = paths !== undefined || maxDepth !== undefined
      const tree = !pathsMode || depth !== undefined || limit !== undefined
      const r = await heapsnap.retainers(args[0], args[1], {
        paths,
        maxDepth,
        depth: tree ? depth : 0,
        limit,
        progress,
        devtoolsRules,
      })
      emit(r, (x) => {
        if (pathsMode) printRetainers(x)
        else printRetainersHeader(x)
        if (tree && x.tree) {
          if (pathsMode) console.log('')
          printTree(x)
        }
      })
      if (r.count === 0) {
        console.error(
          `heapsnap: no objects of class '${args[1]}' in ${args[0]} (class names are case-sensitive; see heapsnap summary)`,
        )
        process.exitCode = 1
      }
      return
    }
    case 'stats': {
      want([1, 1], 'stats <file>')
      const r = await heapsnap.stats(args[0], { progress, devtoolsRules })
      return emit(r, printStats)
    }
    case 'strings': {
      want([1, 1], 'strings <file> [--top N] [--max-depth N]')
      const r = await heapsnap.strings(args[0], {
        top: top ?? (values.json ? undefined : show),
        maxDepth: count(values['max-depth'], '--max-depth'),
        progress,
        devtoolsRules,
      })
      return emit(r, (x) => printStrings(x, show))
    }
    case 'inflate': {
      want([1, 2], 'inflate <file.gz> [out] [--force]')
      const r = await heapsnap.inflate(args[0], args[1], { force: values.force, progress })
      return emit(r, (x) =>
        console.log(`${x.output}: ${group(x.bytesOut)} bytes (from ${group(x.bytesIn)} gzip bytes)`),
      )
    }
    case 'leaks': {
      want([3, 3], 'leaks <first> <second> <third> [--top N]')
      const r = await leaks(args[0], args[1], args[2], {
        top: top ?? (values.json ? undefined : show),
        progress,
        devtoolsRules,
      })
      return emit(r, (x) => process.stdout.write(formatLeakReport(x)))
    }
    case 'report': {
      want([1, 1], 'report <file> [--baseline <file>] [--leaks <report.json>] [-o report.html]')
      const r = await report(args[0], {
        baseline: values.baseline,
        leaks: values.leaks,
        output: values.output,
        devtoolsRules,
      })
      return emit(r, (x) => console.log(`${x.output}: ${group(x.bytes)} bytes`))
    }
    default:
      throw new UsageError(
        `unknown command '${command}' (summary, diff, retainers, stats, strings, inflate, leaks, report)`,
      )
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) {
    console.error(`heapsnap: ${err.message}\nRun 'heapsnap --help' for usage.`)
    process.exitCode = 2
    return
  }
  console.error(err.code ? `${err.message} [${err.code}]` : `heapsnap: ${err.stack || err}`)
  process.exitCode = 1
})
