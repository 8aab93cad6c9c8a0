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
  const mounts = [
    ['cgroup2', () => mountOf('cgroup2')],
    ['cgroup1', () => mountOf('cgroup', 'memory')],
  ]
  for (const [version, mount] of mounts) {
    const root = mount()
    if (!root) continue
    try {
      if (version === 'cgroup2') {
        const controllers = fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8')
        if (!controllers.split(/\s+/).includes('memory')) throw new Error(`no memory controller in ${root}`)
      }
      const dir = path.join(root, name)
      fs.mkdirSync(dir)
      const cg = cgroup(dir, version)
      try {
        cg.setLimit(limitBytes)
      } catch (e) {
        fs.rmdirSync(dir)
        throw e
      }
      return cg
    } catch (e) {
      errors.push(`${version}: ${e.message}`)
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
    /**
     * Sets the limit, with no swap beyond it where the kernel accounts swap (above the usage:
     * below it, the kernel reclaims, then refuses).
     */
    setLimit(bytes) {
      if (version === 'cgroup2') {
        fs.writeFileSync(path.join(dir, 'memory.max'), String(bytes))
        try {
          fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0')
        } catch {}
      } else {
        // v1 keeps memory+swap ≥ memory: the memory limit first, then the other (this order
        // lowers a limit; a raise would need the other order).
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
