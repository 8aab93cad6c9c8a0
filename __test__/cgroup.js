'use strict'

// A real memory cgroup for a test's child process: v2 (a directory under the cgroup2 mount with
// the memory controller) or else v1 (/sys/fs/cgroup/memory/<name>). Needs root; `make()`
// returns `{ skip: reason }` where no cgroup can be made. The child is started through `bash`
// that writes its own pid into the cgroup and then execs node, so all of its memory is charged
// to the cgroup from the start.

const fs = require('node:fs')
const path = require('node:path')
const { randomBytes } = require('node:crypto')

function mountOf(fstype, option) {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ')
    if (!right) continue
    const [type, , superOpts = ''] = right.split(' ')
    if (type === fstype && (!option || superOpts.split(',').includes(option))) return left.split(' ')[4]
  }
  return null
}

/** Creates a memory cgroup limited to `limitBytes`. */
function make(limitBytes) {
  if (process.platform !== 'linux') return { skip: 'memory cgroups are Linux only' }
  if (process.getuid?.() !== 0) return { skip: 'creating a memory cgroup needs root' }
  const name = `heapsnap-test-${randomBytes(4).toString('hex')}`
  const errors = []
  const v2 = mountOf('cgroup2')
  if (v2) {
    try {
      const controllers = fs.readFileSync(path.join(v2, 'cgroup.controllers'), 'utf8')
      if (!controllers.split(/\s+/).includes('memory')) throw new Error(`no memory controller in ${v2}`)
      const dir = path.join(v2, name)
      fs.mkdirSync(dir)
      try {
        fs.writeFileSync(path.join(dir, 'memory.max'), String(limitBytes))
        try {
          fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0')
        } catch {}
      } catch (e) {
        fs.rmdirSync(dir)
        throw e
      }
      return cgroup(dir, 'cgroup2')
    } catch (e) {
      errors.push(`cgroup2: ${e.message}`)
    }
  }
  const v1 = mountOf('cgroup', 'memory')
  if (v1) {
    try {
      const dir = path.join(v1, name)
      fs.mkdirSync(dir)
      try {
        fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
        try {
          fs.writeFileSync(path.join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes))
        } catch {}
      } catch (e) {
        fs.rmdirSync(dir)
        throw e
      }
      return cgroup(dir, 'cgroup1')
    } catch (e) {
      errors.push(`cgroup1: ${e.message}`)
    }
  }
  return { skip: `no writable memory cgroup (${errors.join('; ') || 'none mounted'})` }
}

function cgroup(dir, version) {
  return {
    dir,
    version,
    /** A shell prefix that moves the shell (and the node it execs) into the cgroup. */
    enter: `echo $$ > ${dir}/cgroup.procs`,
    /** The bytes charged to the cgroup now. */
    usage() {
      const file = version === 'cgroup2' ? 'memory.current' : 'memory.usage_in_bytes'
      return Number(fs.readFileSync(path.join(dir, file), 'utf8'))
    },
    /** Sets a new limit (above the usage: the kernel reclaims, then refuses, below it). */
    setLimit(bytes) {
      if (version === 'cgroup2') fs.writeFileSync(path.join(dir, 'memory.max'), String(bytes))
      else {
        // v1 keeps memory+swap ≥ memory: lower the memory limit first, then the other.
        fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(bytes))
        try {
          fs.writeFileSync(path.join(dir, 'memory.memsw.limit_in_bytes'), String(bytes))
        } catch {}
      }
    },
    /** How many processes the kernel's OOM killer killed in this cgroup. */
    oomKills() {
      const file = version === 'cgroup2' ? 'memory.events' : 'memory.oom_control'
      const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(path.join(dir, file), 'utf8'))
      return m ? Number(m[1]) : 0
    },
    remove() {
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(dir)
          return
        } catch (e) {
          if (e.code !== 'EBUSY') return
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100) // the child is exiting
        }
      }
    },
  }
}

module.exports = { make }
