#!/usr/bin/env node
'use strict'

// The install users get, checked: `npm pack` the main package and this platform's binary
// package, install both from the tarballs into an empty directory with a PATH that holds only
// `node` and `npm` (no cargo, rustc, cc, gcc, python, make), require the module and write a
// snapshot, then count a marker class in it. Run after `npm run build`.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')

const root = path.resolve(__dirname, '..')
const platform = `${process.platform}-${process.arch}${process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl') : process.platform === 'win32' ? '-msvc' : ''}`
const addonName = `heapsnap-native.${platform}.node`
const addon = path.join(root, addonName)
if (!fs.existsSync(addon)) {
  console.error(`packed-install: ${addonName} is missing; run npm run build first`)
  process.exit(1)
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'heapsnap-packed-'))
const tarballs = path.join(work, 'tarballs')
const app = path.join(work, 'app')
const bin = path.join(work, 'bin')
for (const d of [tarballs, app, bin]) fs.mkdirSync(d)

function run(cmd, args, opts = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr, r.error ?? '')
    throw new Error(`${cmd} failed with ${r.status}`)
  }
  return r.stdout.trim()
}

// 1. The two tarballs.
const npmBin = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const mainTgz = run(npmBin, ['pack', '--silent', '--pack-destination', tarballs], { cwd: root }).split('\n').pop()
const platDir = path.join(root, 'npm', platform)
fs.copyFileSync(addon, path.join(platDir, addonName))
let platTgz
try {
  platTgz = run(npmBin, ['pack', '--silent', '--pack-destination', tarballs], { cwd: platDir }).split('\n').pop()
} finally {
  fs.rmSync(path.join(platDir, addonName))
}
const listing = run('tar', ['tzf', path.join(tarballs, mainTgz)]).split('\n')
console.log(`main package files: ${listing.join(' ')}`)
for (const f of listing) {
  if (/\.(rs|node)$|__test__|bench\/|src\/|Cargo/.test(f)) throw new Error(`the main package ships ${f}`)
}

// 2. A PATH with only node and npm.
const realNpm = fs.realpathSync(run('sh', ['-c', 'command -v npm']))
fs.symlinkSync(process.execPath, path.join(bin, 'node'))
fs.symlinkSync(realNpm, path.join(bin, 'npm'))
const env = {
  HOME: process.env.HOME,
  PATH: bin,
  npm_config_cache: process.env.npm_config_cache || path.join(os.homedir(), '.npm'),
}
for (const tool of ['cargo', 'rustc', 'cc', 'gcc', 'python3', 'python', 'make', 'node-gyp']) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { env })
  if (r.status === 0) throw new Error(`${tool} is reachable on the restricted PATH`)
}

// 3. Install from the tarballs.
fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
run(
  path.join(bin, 'npm'),
  [
    'install',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts=false',
    path.join(tarballs, mainTgz),
    path.join(tarballs, platTgz),
  ],
  { cwd: app, env },
)
const installed = path.join(app, 'node_modules', `heapsnap-native-${platform}`, addonName)
if (!fs.existsSync(installed) || !fs.readFileSync(installed).equals(fs.readFileSync(addon))) {
  throw new Error(`${installed} is not the binary built here`)
}

// 4. Use it.
const out = run(
  path.join(bin, 'node'),
  [
    '-e',
    `
  const heapsnap = require('heapsnap-native');
  class PackedMarker {}
  globalThis.keep = Array.from({ length: 4321 }, () => new PackedMarker());
  const ok = heapsnap.writeSnapshot('packed.heapsnapshot.gz', (err) => { if (err) throw err });
  console.log(JSON.stringify({ ok, engine: heapsnap.capabilities().engine }));
`,
  ],
  { cwd: app, env },
)
const res = JSON.parse(out.split('\n').pop())
const snap = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(app, 'packed.heapsnapshot.gz'))).toString('latin1'))
const meta = snap.snapshot.meta
const stride = meta.node_fields.length
const nameAt = meta.node_fields.indexOf('name')
const typeAt = meta.node_fields.indexOf('type')
const obj = meta.node_types[0].indexOf('object')
let n = 0
for (let i = 0; i < snap.nodes.length; i += stride) {
  if (snap.nodes[i + typeAt] === obj && snap.strings[snap.nodes[i + nameAt]] === 'PackedMarker') n++
}
console.log(`packed install: ok=${res.ok}, engine=${res.engine}, PackedMarker instances=${n}`)
if (!res.ok || res.engine !== 'native' || n !== 4321) throw new Error('packed install check failed')

// 5. The `heapsnap` command the package installs reads the same file.
const summary = JSON.parse(
  run(path.join(app, 'node_modules', '.bin', 'heapsnap'), ['summary', 'packed.heapsnapshot.gz', '--json'], {
    cwd: app,
    env,
  }),
)
const row = summary.classes.find((c) => c.name === 'PackedMarker')
console.log(`packed install: heapsnap summary counts ${row && row.count} PackedMarker`)
if (!row || row.count !== 4321) throw new Error('the installed heapsnap command failed')
fs.rmSync(work, { recursive: true, force: true })
console.log('packed-install: PASS')
