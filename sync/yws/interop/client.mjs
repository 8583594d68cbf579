// A real Yjs client (yjs + y-websocket's WebsocketProvider over the `ws`
// polyfill) driven by JSON lines on stdin; used by the Go interop tests.
//
// Request:  {"id": 1, "op": "...", ...}
// Reply:    {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": "..."}
// Events:   {"event": "status" | "synced" | "connection-close" | "closed", ...}
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import readline from 'node:readline'

/** @type {Y.Doc} */
let doc = new Y.Doc()
/** @type {WebsocketProvider | null} */
let provider = null

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const snapshot = () => ({
  text: doc.getText('text').toString(),
  map: doc.getMap('map').toJSON(),
  array: doc.getArray('array').toJSON()
})

const ops = {
  open ({ url, room, token, awareness }) {
    provider = new WebsocketProvider(url, room, doc, {
      WebSocketPolyfill: WebSocket,
      disableBc: true,
      params: token === undefined ? {} : { token },
      maxBackoffTime: 500
    })
    provider.on('status', (e) => emit({ event: 'status', status: e.status }))
    provider.on('sync', (s) => emit({ event: 'synced', synced: s }))
    provider.on('connection-close', (e) => emit({ event: 'connection-close', code: e ? e.code : null, reason: e ? String(e.reason) : null }))
    provider.on('closed', (e) => emit({ event: 'closed', code: e.code, reason: String(e.reason) }))
    if (awareness !== undefined) provider.awareness.setLocalState(awareness)
    return { clientID: doc.clientID }
  },
  disconnect () { provider.disconnect(); return null },
  connect () { provider.connect(); return null },
  synced () { return provider.synced },
  insertText ({ index, text }) { doc.getText('text').insert(index, text); return null },
  deleteText ({ index, length }) { doc.getText('text').delete(index, length); return null },
  mapSet ({ key, value }) { doc.getMap('map').set(key, value); return null },
  mapDelete ({ key }) { doc.getMap('map').delete(key); return null },
  arrayPush ({ values }) { doc.getArray('array').push(values); return null },
  arrayDelete ({ index, length }) { doc.getArray('array').delete(index, length); return null },
  snapshot () { return snapshot() },
  awareness () {
    const out = {}
    for (const [id, state] of provider.awareness.getStates()) {
      if (id !== doc.clientID) out[id] = state
    }
    return out
  },
  setAwareness ({ state }) { provider.awareness.setLocalState(state); return null },
  // Replace the document (a fresh client with no history), e.g. for reuse.
  reset () { if (provider) provider.destroy(); provider = null; doc = new Y.Doc(); return null },
  exit () { if (provider) provider.destroy(); setImmediate(() => process.exit(0)); return null }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch (err) {
    emit({ ok: false, error: 'bad json: ' + err.message })
    return
  }
  try {
    const fn = ops[req.op]
    if (!fn) throw new Error('unknown op ' + req.op)
    emit({ id: req.id, ok: true, result: fn(req) })
  } catch (err) {
    emit({ id: req.id, ok: false, error: String(err && err.stack ? err.stack : err) })
  }
})
rl.on('close', () => { if (provider) provider.destroy(); process.exit(0) })
