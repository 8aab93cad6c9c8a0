#!/usr/bin/env node
'use strict'

// The cost of the monitor's allocation sites: V8's sampling heap profiler (one sample per
// 32 KiB allocated) on a request-serving loop. A node:http server on 127.0.0.1 answers a small
// JSON body; autocannon drives it for a fixed time, alternating runs without and with sampling.
//   node bench/sampling.js [--seconds 5] [--rounds 3]

const http = require('node:http')
const autocannon = require('autocannon')
const { startSampling, SAMPLING_INTERVAL } = require('../lib/allocation-sites')

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const seconds = arg('seconds', 5)
const rounds = arg('rounds', 3)

const server = http.createServer((req, res) => {
  const items = Array.from({ length: 20 }, (_, i) => ({ i, name: `item-${i}`, tags: ['a', 'b'] }))
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ url: req.url, items }))
})

function load(port) {
  return new Promise((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, duration: seconds }, (err, r) =>
      err ? reject(err) : resolve(r.requests.average),
    )
  })
}

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address()
  const off = []
  const on = []
  await load(port) // warm-up: the JIT, the sockets
  const sampled = async (r) => {
    const stop = await startSampling()
    on.push(await load(port))
    const sites = await stop()
    if (r === 0) console.log(`sampling every ${SAMPLING_INTERVAL} B: ${sites.length} sites`)
  }
  // A B, then B A: neither order always runs first.
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      off.push(await load(port))
      await sampled(r)
    } else {
      await sampled(r)
      off.push(await load(port))
    }
  }
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length
  console.log(`requests/s without sampling: ${off.map(Math.round).join(', ')} (mean ${Math.round(mean(off))})`)
  console.log(`requests/s with sampling:    ${on.map(Math.round).join(', ')} (mean ${Math.round(mean(on))})`)
  console.log(`throughput with sampling: ${((100 * mean(on)) / mean(off)).toFixed(1)}% of without`)
  server.close()
})
