'use strict'

// memlab (@memlab/core), the analyzers' second reference: pinned, installed on first use into
// .cache/memlab (no browser download, no install scripts), outside the project's own
// dependencies. compare.js checks heapsnap's sizes against it; devtools.js times its load.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const MEMLAB_DIR = path.join(__dirname, '..', '..', '.cache', 'memlab')
const MEMLAB_VERSION = '2.0.5'

/** Installs memlab unless it is there; returns its version (throws when npm fails). */
function ensureMemlab() {
  const pkg = path.join(MEMLAB_DIR, 'node_modules', '@memlab', 'core', 'package.json')
  if (fs.existsSync(pkg)) return JSON.parse(fs.readFileSync(pkg, 'utf8')).version
  console.error(`installing @memlab/core@${MEMLAB_VERSION} into ${MEMLAB_DIR} …`)
  fs.mkdirSync(MEMLAB_DIR, { recursive: true })
  fs.writeFileSync(path.join(MEMLAB_DIR, 'package.json'), '{"private":true}\n')
  const res = spawnSync(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', `@memlab/core@${MEMLAB_VERSION}`],
    {
      cwd: MEMLAB_DIR,
      encoding: 'utf8',
      env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1', PUPPETEER_SKIP_CHROMIUM_DOWNLOAD: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  if (res.status !== 0)
    throw new Error(`npm install @memlab/core@${MEMLAB_VERSION} failed (${res.status ?? res.signal})`)
  return MEMLAB_VERSION
}

module.exports = { MEMLAB_DIR, MEMLAB_VERSION, ensureMemlab }
