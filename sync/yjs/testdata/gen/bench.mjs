// Baseline for sync/yjs benchmarks: runs yjs's own mergeUpdates, diffUpdate
// and encodeStateVectorFromUpdate on the inputs the Go benchmark sends.
//
// Protocol (one JSON object per line on stdin, one reply per line on
// stdout):
//   {"cmd":"load","id":"x","op":"merge|diff|sv","inputs":[base64...]}  -> {"ok":true}
//   {"cmd":"run","id":"x","n":N}                                       -> {"ns":total}
// For "diff" the inputs are [update, stateVector]; for "sv" [update].
import * as Y from 'yjs'
import { createInterface } from 'node:readline'

const loaded = new Map()
const fromB64 = s => new Uint8Array(Buffer.from(s, 'base64'))

const makeRunner = (op, inputs) => {
  switch (op) {
    case 'merge': return () => Y.mergeUpdates(inputs)
    case 'diff': return () => Y.diffUpdate(inputs[0], inputs[1])
    case 'sv': return () => Y.encodeStateVectorFromUpdate(inputs[0])
    default: throw new Error('unknown op ' + op)
  }
}

const rl = createInterface({ input: process.stdin })
rl.on('line', line => {
  const msg = JSON.parse(line)
  if (msg.cmd === 'load') {
    const run = makeRunner(msg.op, msg.inputs.map(fromB64))
    for (let i = 0; i < 20; i++) run() // warm up the JIT
    loaded.set(msg.id, run)
    process.stdout.write(JSON.stringify({ ok: true }) + '\n')
  } else if (msg.cmd === 'run') {
    const run = loaded.get(msg.id)
    const start = process.hrtime.bigint()
    for (let i = 0; i < msg.n; i++) run()
    const ns = Number(process.hrtime.bigint() - start)
    process.stdout.write(JSON.stringify({ ns }) + '\n')
  }
})
