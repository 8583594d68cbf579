// Confirms whether Go results that differ from yjs's bytes still give the
// same document state when applied in yjs.
//
//   node check.mjs <in.json>   (prints a JSON array of verdicts)
//
// Input: {"pairs": [{"id", "got", "want", "context": [update...]}]} with
// base64 bytes. For each pair, got and want are applied to a fresh Y.Doc
// and to a Y.Doc that already holds every context update; the pair is
// state-equal when both docs end up with the same encoded state, the same
// pending structs and the same pending delete set.
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'

const fromB64 = s => new Uint8Array(Buffer.from(s, 'base64'))
const b64 = u => Buffer.from(u).toString('base64')

const describeContent = c => {
  const name = c.constructor.name
  if (name === 'ContentType') return [name, c.type.constructor.name, c.type.nodeName ?? c.type.hookName ?? null]
  if (name === 'ContentDeleted') return [name, c.len]
  if (name === 'ContentDoc') return [name, c.doc.guid, c.opts]
  if (name === 'ContentBinary') return [name, b64(c.content)]
  if (name === 'ContentString') return [name, c.str]
  if (name === 'ContentFormat') return [name, c.key, c.value]
  if (name === 'ContentEmbed') return [name, c.embed]
  return [name, c.getContent().map(v => v instanceof Uint8Array ? ['bytes', b64(v)] : v === undefined ? ['undefined'] : v)]
}

// Pending structs as a list of (kind, id, length, content), split into
// single clock ticks where possible so that different but equivalent
// slicings compare equal.
const describePending = update => {
  if (!update) return null
  const { structs, ds } = Y.decodeUpdateV2(update)
  const out = structs.map(s => {
    const base = [s.constructor.name, s.id.client, s.id.clock, s.length]
    if (s.constructor.name !== 'Item') return base
    return [...base, s.origin, s.rightOrigin, s.parent, s.parentSub, describeContent(s.content)]
  })
  return JSON.stringify({ out, ds: [...ds.clients.entries()] }, (k, v) => typeof v === 'bigint' ? String(v) : v)
}

const stateOf = (update, context) => {
  const doc = new Y.Doc()
  for (const u of context) {
    // Context updates that yjs itself cannot apply are left out.
    try { Y.applyUpdate(doc, u) } catch (e) {}
  }
  Y.applyUpdate(doc, update)
  return JSON.stringify({
    state: b64(Y.encodeStateAsUpdate(doc)),
    json: doc.toJSON(),
    pending: describePending(doc.store.pendingStructs?.update),
    pendingDs: describePending(doc.store.pendingDs)
  }, (k, v) => typeof v === 'bigint' ? String(v) : v)
}

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const verdicts = input.pairs.map(p => {
  const got = fromB64(p.got)
  const want = fromB64(p.want)
  const context = (p.context || []).map(fromB64)
  try {
    const fresh = stateOf(got, []) === stateOf(want, [])
    const withContext = stateOf(got, context) === stateOf(want, context)
    return { id: p.id, equal: fresh && withContext, fresh, withContext }
  } catch (e) {
    return { id: p.id, equal: false, error: String(e && e.stack || e) }
  }
})
process.stdout.write(JSON.stringify(verdicts))
