// Load generator for scripts/bench.d/yws.sh: N documents x M real Yjs
// clients against one server, either ours (y-websocket's WebsocketProvider)
// or @hocuspocus/server (its own HocuspocusProvider: Hocuspocus does not
// speak the plain y-websocket protocol). Every client edits its documents
// at a fixed rate; each edit carries its send time, and every other client
// of the document records the fan-out latency when the edit arrives.
//
// The server's CPU time (utime+stime) and RSS come from /proc/<pid>.
// Prints one JSON line with the results.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import WebSocket from 'ws'
import fs from 'node:fs'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({
  options: {
    target: { type: 'string' }, // yws | hocuspocus
    url: { type: 'string' },
    token: { type: 'string', default: '' },
    pid: { type: 'string' },
    docs: { type: 'string', default: '20' },
    clients: { type: 'string', default: '5' },
    rate: { type: 'string', default: '5' }, // edits per second per client
    warmup: { type: 'string', default: '3' },
    duration: { type: 'string', default: '15' },
    clktck: { type: 'string', default: '100' }
  }
})
process.setMaxListeners(0) // every provider adds an exit listener
const docs = Number(opt.docs)
const clientsPerDoc = Number(opt.clients)
const rate = Number(opt.rate)
const pid = Number(opt.pid)
const clkTck = Number(opt.clktck)
const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const cpuSeconds = () => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clkTck // utime, stime
}
const rssBytes = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1]) * 1024
}

let measuring = false
let deliveries = 0
const latencies = []

const clients = []
const connect = (docIndex, clientIndex) => {
  const doc = new Y.Doc()
  const name = `bench/doc-${docIndex}`
  const key = `c${clientIndex}`
  let provider
  let synced
  if (opt.target === 'yws') {
    provider = new WebsocketProvider(opt.url, name, doc, {
      WebSocketPolyfill: WebSocket, disableBc: true, params: { token: opt.token }
    })
    synced = new Promise((resolve) => provider.once('sync', resolve))
  } else {
    const websocketProvider = new HocuspocusProviderWebsocket({ url: opt.url, WebSocketPolyfill: WebSocket })
    synced = new Promise((resolve) => {
      provider = new HocuspocusProvider({ websocketProvider, name, document: doc, token: opt.token || 'bench', onSynced: resolve })
      provider.attach()
    })
  }
  const map = doc.getMap('edits')
  map.observe((event) => {
    if (event.transaction.local || !measuring) return
    const t = now()
    for (const k of event.keysChanged) {
      if (k === key) continue
      const sent = map.get(k)
      if (typeof sent === 'number') {
        deliveries++
        latencies.push(t - sent)
      }
    }
  })
  const text = doc.getText('text')
  const edit = () => doc.transact(() => {
    text.insert(text.length, 'x')
    map.set(key, now())
  })
  clients.push({ doc, provider, edit })
  return synced
}

const percentile = (sorted, p) => sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

const rssBefore = rssBytes()
const pending = []
for (let d = 0; d < docs; d++) {
  for (let c = 0; c < clientsPerDoc; c++) pending.push(connect(d, c))
}
const connectDeadline = sleep(30000).then(() => { throw new Error('clients did not sync within 30s') })
await Promise.race([Promise.all(pending), connectDeadline])
await sleep(1000)
const rssConnected = rssBytes()

const timers = clients.map((cl) => {
  const start = Math.random() * (1000 / rate)
  let interval
  const timeout = setTimeout(() => { interval = setInterval(cl.edit, 1000 / rate) }, start)
  return () => { clearTimeout(timeout); clearInterval(interval) }
})
await sleep(Number(opt.warmup) * 1000)
measuring = true
const cpu0 = cpuSeconds()
const t0 = now()
await sleep(Number(opt.duration) * 1000)
const cpu1 = cpuSeconds()
const elapsed = (now() - t0) / 1000
measuring = false
const rssLoaded = rssBytes()
timers.forEach((stop) => stop())

latencies.sort((a, b) => a - b)
const connections = docs * clientsPerDoc
const cpu = cpu1 - cpu0
process.stdout.write(JSON.stringify({
  target: opt.target,
  docs,
  clientsPerDoc,
  connections,
  editsPerSecond: connections * rate,
  deliveries,
  deliveriesPerSecond: deliveries / elapsed,
  p50ms: percentile(latencies, 0.5),
  p95ms: percentile(latencies, 0.95),
  p99ms: percentile(latencies, 0.99),
  cpuSeconds: cpu,
  cpuSecondsPer1000Deliveries: deliveries > 0 ? cpu / deliveries * 1000 : null,
  rssBaseMiB: rssBefore / 1048576,
  rssConnectedMiB: rssConnected / 1048576,
  rssLoadedMiB: rssLoaded / 1048576,
  rssPerConnectionKiB: (rssLoaded - rssBefore) / connections / 1024
}) + '\n')
for (const cl of clients) cl.provider.destroy()
setTimeout(() => process.exit(0), 200)
