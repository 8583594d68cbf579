// Generates sync/yjs cross-check cases with the real yjs package.
//
//   node gen.mjs [sessions] [seed] [out]
//   (defaults: 520 sessions, seed 7, ../cases.json.gz; the jssort vectors
//   are written only with the default output)
//
// Each session runs several Y.Doc clients that edit text, maps, arrays, XML
// and nested types concurrently (with unicode, emoji and deletions), then
// records the updates they emitted and yjs's own results for mergeUpdates,
// diffUpdate and encodeStateVectorFromUpdate on them. A share of sessions
// are hand-crafted updates that exercise normalization corners (legacy JSON
// content, odd "any" values, sub-document options, unusual info bits).
// Output: ../cases.json.gz, a JSON array of sessions; bytes are base64.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { gzipSync } from 'node:zlib'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const SESSIONS = Number(process.argv[2] || 520)
let seed = Number(process.argv[3] || 7) >>> 0

// mulberry32: deterministic, so regenerating gives the same data.
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const int = n => Math.floor(rand() * n)
const pick = a => a[int(a.length)]
const chance = p => rand() < p
const b64 = u => Buffer.from(u).toString('base64')

const pieces = [
  'a', 'b', 'hello', ' ', 'world', '\n', 'é', 'ß', 'ñ', '中文', '日本語', 'ä', 'Ω',
  '😀', '👍🏽', '🇩🇪', '👨‍👩‍👧', '𝄞', '🎉', '\u{10FFFF}', '\u{1F600}x', 'x\u{1F4A9}y', '\t', '"q"', '\\', '\u0000'
]
const randText = () => {
  let s = ''
  const n = 1 + int(4)
  for (let i = 0; i < n; i++) s += pick(pieces)
  return s
}

const randAny = (depth = 0) => {
  switch (int(depth > 2 ? 7 : 10)) {
    case 0: return int(1000) - 500
    case 1: return pick([0.5, -1.25, 3.14159, 1e21, 2 ** 31, 2 ** 40 + 1, -(2 ** 33), 1e-7, 123456.789])
    case 2: return randText()
    case 3: return chance(0.5)
    case 4: return null
    case 5: return pick(['', 'key', '😀'])
    case 6: return new Uint8Array([int(256), int(256), int(256)]).subarray(0, int(4))
    case 7: { const o = {}; const n = int(4); for (let i = 0; i < n; i++) o[pick(['a', 'b', '1', '0', 'z', 'é', '10', '2'])] = randAny(depth + 1); return o }
    case 8: { const a = []; const n = int(4); for (let i = 0; i < n; i++) a.push(randAny(depth + 1)); return a }
    default: return pick([undefined, 'undefined', -0, 7])
  }
}

// Shared types reachable in a doc, found by walking from its roots.
const collectTypes = doc => {
  const out = { text: [], map: [], array: [], xml: [], xmlText: [] }
  const seen = new Set()
  const visit = t => {
    if (!t || seen.has(t) || t._item?.deleted) return
    seen.add(t)
    if (t instanceof Y.XmlText) out.xmlText.push(t)
    else if (t instanceof Y.Text) out.text.push(t)
    else if (t instanceof Y.XmlElement || t instanceof Y.XmlFragment) out.xml.push(t)
    else if (t instanceof Y.Map) out.map.push(t)
    else if (t instanceof Y.Array) out.array.push(t)
    if (t instanceof Y.Map) t.forEach(v => visit(v))
    if (t instanceof Y.Array || t instanceof Y.XmlFragment) t.toArray().forEach(v => visit(v))
  }
  visit(doc.getText('text'))
  visit(doc.getMap('map'))
  visit(doc.getArray('array'))
  visit(doc.getXmlFragment('xml'))
  return out
}

const newNested = () => {
  switch (int(6)) {
    case 0: { const m = new Y.Map(); m.set('k', randAny()); return m }
    case 1: { const a = new Y.Array(); a.insert(0, [randAny() ?? 1, randAny() ?? 2]); return a }
    case 2: { const t = new Y.Text(); t.insert(0, randText()); return t }
    case 3: return new Y.Doc({ guid: 'sub-' + int(1000), meta: chance(0.5) ? { n: int(9) } : undefined, autoLoad: chance(0.3), gc: chance(0.7) })
    case 4: return new Uint8Array([1, 2, int(256)])
    default: { const x = new Y.XmlText(); x.insert(0, randText()); return x }
  }
}

const randomOp = doc => {
  const ts = collectTypes(doc)
  const kind = pick(['text', 'text', 'text', 'map', 'map', 'array', 'array', 'xml', 'xmlText', 'nested'])
  if (kind === 'text' || (kind === 'xmlText' && ts.xmlText.length > 0)) {
    const t = pick(kind === 'text' ? ts.text : ts.xmlText)
    const len = t.length
    const r = int(10)
    if (r < 5 || len === 0) {
      t.insert(int(len + 1), randText(), chance(0.2) ? { bold: true } : undefined)
    } else if (r < 8) {
      const at = int(len)
      t.delete(at, 1 + int(Math.min(len - at, 6)))
    } else if (r < 9) {
      const at = int(len)
      t.format(at, 1 + int(Math.min(len - at, 5)), pick([{ bold: true }, { italic: true }, { bold: null }, { color: '#ff0000' }]))
    } else {
      t.insertEmbed(int(len + 1), pick([{ image: 'a.png' }, { formula: 'e=mc²' }, [1, 2]]))
    }
  } else if (kind === 'map') {
    const m = pick(ts.map)
    if (chance(0.25) && m.size > 0) m.delete(pick([...m.keys()]))
    else m.set(pick(['a', 'b', 'c', 'ключ', '😀', 'n']), chance(0.25) ? newNested() : randAny())
  } else if (kind === 'array') {
    const a = pick(ts.array)
    if (chance(0.3) && a.length > 0) {
      const at = int(a.length)
      a.delete(at, 1 + int(Math.min(a.length - at, 3)))
    } else {
      const n = 1 + int(3)
      const vals = []
      for (let i = 0; i < n; i++) { const v = chance(0.2) ? newNested() : randAny(); vals.push(v === undefined ? null : v) }
      a.insert(int(a.length + 1), vals)
    }
  } else if (kind === 'xml' || kind === 'xmlText') {
    const x = pick(ts.xml)
    if (chance(0.25) && x.length > 0) {
      x.delete(int(x.length), 1)
    } else if (chance(0.3) && x instanceof Y.XmlElement) {
      x.setAttribute(pick(['class', 'id', 'data-ü']), randText())
    } else {
      const r = int(4)
      let node
      if (r === 0) { node = new Y.XmlElement(pick(['p', 'div', 'h1', 'my-élément'])); node.setAttribute('id', String(int(99))) } else if (r === 1) { node = new Y.XmlText(); node.insert(0, randText()) } else if (r === 2) { node = new Y.XmlHook(pick(['hook', 'embed-😀'])); node.set('v', randAny()) } else { node = new Y.XmlElement('span') }
      x.insert(int(x.length + 1), [node])
    }
  } else {
    // Delete a whole nested type (its children get garbage-collected).
    const m = pick(ts.map)
    const keys = [...m.keys()].filter(k => m.get(k) instanceof Y.AbstractType)
    if (keys.length > 0) m.delete(pick(keys))
    else m.set('nested', newNested())
  }
}

const randomStateVector = (clients, maxClock) => {
  const sv = new Map()
  for (const c of clients) if (chance(0.7)) sv.set(c, int(maxClock + 2))
  if (chance(0.2)) sv.set(int(2 ** 32), int(5))
  return Y.encodeStateVector(sv)
}

const shuffle = a => {
  const out = a.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

// Runs yjs on inputs; a thrown error is recorded as the expected outcome.
const expect = fn => {
  try {
    return b64(fn())
  } catch (e) {
    return { error: String(e && e.message || e) }
  }
}

const session = (id, long = false) => {
  const nClients = long ? 2 + int(2) : 2 + int(3)
  const maxUpdates = long ? 400 : 40
  const docs = []
  const updates = []
  const clientIds = []
  for (let i = 0; i < nClients; i++) {
    const doc = new Y.Doc({ gc: chance(0.6) })
    // yjs picks 32-bit client IDs; other implementations may use up to 2^53.
    doc.clientID = chance(0.8) ? 1 + int(2 ** 32 - 1) : chance(0.5) ? 1 + int(50) : 2 ** 32 + int(2 ** 53 - 2 ** 32)
    if (clientIds.includes(doc.clientID)) doc.clientID += 1000
    clientIds.push(doc.clientID)
    doc.on('update', u => { if (updates.length < maxUpdates) updates.push(u) })
    docs.push(doc)
  }
  const rounds = long ? 60 + int(100) : 2 + int(7)
  const snapshots = []
  for (let r = 0; r < rounds; r++) {
    const doc = pick(docs)
    const ops = long ? 1 : 1 + int(4)
    doc.transact(() => { for (let i = 0; i < ops; i++) randomOp(doc) })
    if (chance(long ? 0.2 : 0.5)) {
      const a = pick(docs); const b = pick(docs)
      if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
    }
    // Full states taken mid-session (as a sync step 2 would send them):
    // merged with later ones they overlap at different struct boundaries.
    if (chance(long ? 0.05 : 0.2)) snapshots.push(Y.encodeStateAsUpdate(pick(docs)))
  }
  updates.push(...snapshots.slice(0, 6))
  for (const d of docs) updates.push(Y.encodeStateAsUpdate(d))
  const checks = []
  const all = updates.map((u, i) => i)
  const merged = Y.mergeUpdates(updates)
  updates.push(merged)
  const mergedIdx = updates.length - 1
  checks.push({ op: 'merge', in: all, out: b64(merged) })
  const order = shuffle(all).slice(0, 1 + int(all.length))
  const partial = Y.mergeUpdates(order.map(i => updates[i]))
  updates.push(partial)
  const partialIdx = updates.length - 1
  checks.push({ op: 'merge', in: order, out: b64(partial) })
  const other = shuffle(all).slice(0, 1 + int(all.length))
  checks.push({ op: 'merge', in: [partialIdx, ...other], out: expect(() => Y.mergeUpdates([updates[partialIdx], ...other.map(i => updates[i])])) })
  for (const i of [...shuffle(all).slice(0, 3), mergedIdx, partialIdx]) {
    checks.push({ op: 'sv', in: i, out: b64(Y.encodeStateVectorFromUpdate(updates[i])) })
  }
  const maxState = Math.max(...docs.map(d => Math.max(0, ...Y.decodeStateVector(Y.encodeStateVector(d)).values())))
  const diffs = [
    [mergedIdx, Y.encodeStateVector(pick(docs))],
    [mergedIdx, randomStateVector(clientIds, maxState)],
    [partialIdx, randomStateVector(clientIds, maxState)],
    [int(updates.length), randomStateVector(clientIds, maxState)]
  ]
  for (const [i, sv] of diffs) {
    checks.push({ op: 'diff', in: i, sv: b64(sv), out: b64(Y.diffUpdate(updates[i], sv)) })
  }
  // Tails of the full state cut at random clocks (inside items, possibly
  // inside surrogate pairs), merged with each other and with updates: the
  // merge has to slice structs at those offsets.
  const full = Y.encodeStateAsUpdate(pick(docs))
  const tails = []
  for (let k = 0; k < 3; k++) {
    tails.push(Y.diffUpdate(full, randomStateVector(clientIds, maxState)))
    updates.push(tails[k])
  }
  const tailIdx = [updates.length - 3, updates.length - 2, updates.length - 1]
  const mix = shuffle([...tailIdx, ...shuffle(all).slice(0, 2)])
  checks.push({ op: 'merge', in: mix, out: b64(Y.mergeUpdates(mix.map(i => updates[i]))) })
  if (long) {
    const rev = all.slice().reverse()
    checks.push({ op: 'merge', in: rev, out: b64(Y.mergeUpdates(rev.map(i => updates[i]))) })
    const sh = shuffle(all)
    checks.push({ op: 'merge', in: sh, out: b64(Y.mergeUpdates(sh.map(i => updates[i]))) })
  }
  // yjs's own re-encoding of each update (V1 -> V2 -> V1 goes through the
  // same struct reader and writer as merge and diff).
  const canon = updates.map(u => b64(Y.convertUpdateFormatV2ToV1(Y.convertUpdateFormatV1ToV2(u))))
  return { id: `session-${id}`, updates: updates.map(b64), canon, checks }
}

// ---- crafted updates: normalization and corner cases -------------------

const enc = () => encoding.createEncoder()
const vu = (e, n) => encoding.writeVarUint(e, n)
const vs = (e, s) => encoding.writeVarString(e, s)
const u8 = (e, n) => encoding.writeUint8(e, n)
const bytes = e => encoding.toUint8Array(e)
// A one-client update whose structs are written by fns; ds is [[client, [[clock, len]...]]...].
const raw = (client, clock, fns, ds = [], trailer = null) => {
  const e = enc()
  vu(e, 1); vu(e, fns.length); vu(e, client); vu(e, clock)
  for (const f of fns) f(e)
  vu(e, ds.length)
  for (const [c, ranges] of ds) { vu(e, c); vu(e, ranges.length); for (const [k, l] of ranges) { vu(e, k); vu(e, l) } }
  if (trailer) encoding.writeUint8Array(e, trailer)
  return bytes(e)
}
// Item in root "arr" (no origins) with content written by c.
const rootItem = (ref, c, name = 'arr') => e => { u8(e, ref); vu(e, 1); vs(e, name); c(e) }
const originItem = (ref, client, clock, c) => e => { u8(e, ref | 0x80); vu(e, client); vu(e, clock); c(e) }
const anyC = vals => e => { vu(e, vals.length); for (const v of vals) v(e) }
const rawAny = bs => e => encoding.writeUint8Array(e, new Uint8Array(bs))
const anyV = v => e => encoding.writeAny(e, v)
const jsonC = strs => e => { vu(e, strs.length); for (const s of strs) vs(e, s) }
const typeC = (ref, name) => e => { vu(e, ref); if (name !== undefined) vs(e, name) }
const f32 = x => { const b = Buffer.alloc(4); b.writeFloatBE(x); return [124, ...b] }
const f64 = x => { const b = Buffer.alloc(8); b.writeDoubleBE(x); return [123, ...b] }

const craftedUpdates = () => {
  const C = 77
  const list = []
  const add = (name, u) => list.push([name, u])
  add('json-legacy', raw(C, 0, [rootItem(2, jsonC(['1', '"a"', 'undefined', '{"x":[1,2,{"y":null}]}', 'true']))]))
  add('json-whitespace', raw(C, 0, [rootItem(2, jsonC([' 1 ', '{ "b" : 1, "a" : 2 }', '[ 1 , 2 ]', '1.0', '1e2', '-0', '"\\u0041\\u00e9"', '{"2":1,"1":2,"b":3}', '{"a":1,"a":2}', '1E400', '0.1e-7', '"\\ud800"', '"\\/"', '123456789012345678901234567890', '{"__proto__":1}']))]))
  add('any-numbers', raw(C, 0, [rootItem(8, anyC([rawAny([125, 0x40]), rawAny(f64(0.5)), rawAny(f64(2 ** 31)), rawAny(f64(1e300)), rawAny(f32(NaN)), rawAny(f64(NaN)), rawAny(f64(Infinity)), rawAny(f64(-Infinity)), rawAny(f32(1.5)), rawAny(f64(3)), rawAny([125, 0x80, 0x00]), rawAny([125, 0xff, 0xff, 0xff, 0xff, 0x07]), rawAny([122, 0, 0, 0, 0, 0, 0, 1, 0]), rawAny(f64(-0))]))]))
  add('any-nan-payloads', raw(C, 0, [rootItem(8, anyC([rawAny([123, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1]), rawAny([123, 0xff, 0xf0, 0, 0, 0, 0, 0, 5]), rawAny([124, 0x7f, 0xc0, 0, 1]), rawAny([124, 0xff, 0x80, 0, 3]), rawAny([123, 0x41, 0xe0, 0, 0, 0, 0, 0, 0]), rawAny([124, 0x4f, 0, 0, 0])]))]))
  add('any-objects', raw(C, 0, [rootItem(8, anyC([rawAny([118, 3, 1, 98, 125, 1, 1, 49, 125, 2, 1, 48, 125, 3]), rawAny([118, 2, 1, 97, 125, 1, 1, 97, 125, 2]), rawAny([118, 2, 9, 95, 95, 112, 114, 111, 116, 111, 95, 95, 125, 1, 1, 120, 126]), rawAny([118, 2, 9, 95, 95, 112, 114, 111, 116, 111, 95, 95, 118, 0, 1, 120, 127]), rawAny([118, 1, 10, 52, 50, 57, 52, 57, 54, 55, 50, 57, 53, 125, 1]), rawAny([117, 2, 116, 2, 1, 2, 119, 0])]))]))
  add('doc-options', raw(C, 0, [
    rootItem(9, e => { vs(e, 'g1'); encoding.writeAny(e, { gc: false, autoLoad: true, meta: { a: 1 }, shouldLoad: true, extra: 5 }) }),
    rootItem(9, e => { vs(e, 'g2'); encoding.writeAny(e, { gc: 0, autoLoad: 'yes', meta: null }) }),
    rootItem(9, e => { vs(e, 'g3'); encoding.writeAny(e, { gc: true, autoLoad: 0 }) }),
    rootItem(9, e => { vs(e, 'g4'); encoding.writeAny(e, { guid: 'other', meta: 'm' }) }),
    rootItem(9, e => { vs(e, 'g5'); encoding.writeAny(e, [1, 2]) }),
    rootItem(9, e => { vs(e, 'g6'); encoding.writeAny(e, 7) }),
    rootItem(9, e => { vs(e, 'g7'); encoding.writeAny(e, {}) })
  ]))
  add('doc-null-opts', raw(C, 0, [rootItem(9, e => { vs(e, 'g'); encoding.writeAny(e, null) })]))
  add('types', raw(C, 0, [0, 1, 2, 4, 6].map(r => rootItem(7, typeC(r))).concat([rootItem(7, typeC(3, 'élément')), rootItem(7, typeC(5, 'hook'))])))
  add('type-unknown', raw(C, 0, [rootItem(7, typeC(7))]))
  add('embed-format', raw(C, 0, [rootItem(5, e => vs(e, '{ "image" : "a.png" }'), 'text'), rootItem(6, e => { vs(e, 'bold'); vs(e, ' true ') }, 'text'), rootItem(6, e => { vs(e, 'bold'); vs(e, 'null') }, 'text')]))
  add('embed-invalid-json', raw(C, 0, [rootItem(5, e => vs(e, '{x'), 'text')]))
  add('info-bits', raw(C, 0, [
    rootItem(4 | 0x20, e => { vs(e, 'key'); vs(e, 'v') }, 'map'),
    e => { u8(e, 4 | 0x80 | 0x20); vu(e, C); vu(e, 0); vs(e, 'xy') },
    e => { u8(e, 0x40 | 0x20); vu(e, 5); vu(e, 5) },
    e => { u8(e, 4); vu(e, 2); vu(e, 9); vu(e, 9); vs(e, 'pid') },
    e => { u8(e, 10); vu(e, 3) },
    e => { u8(e, 4 | 0x80); vu(e, C); vu(e, 0x80); vs(e, 'late') }
  ], [[C, [[1, 2], [0, 1]]], [5, []]], new Uint8Array([9, 9, 9])))
  add('skip-content-ref', raw(C, 0, [e => { u8(e, 10 | 0x80); vu(e, 1); vu(e, 1) }]))
  add('unknown-content-ref', raw(C, 0, [e => { u8(e, 11 | 0x80); vu(e, 1); vu(e, 1) }]))
  add('bad-utf8', raw(C, 0, [rootItem(4, e => { vu(e, 2); u8(e, 0xc3); u8(e, 0x28) })]))
  add('nonminimal-varuint', (() => { const e = enc(); u8(e, 0x81); u8(e, 0x00); u8(e, 1); u8(e, 0x80 | C); u8(e, 0); u8(e, 0); rootItem(4, x => vs(x, 'ab'))(e); u8(e, 0); return bytes(e) })())
  add('surrogates', raw(C, 0, [rootItem(4, e => vs(e, 'a😀b🇩🇪c'), 'text'), originItem(4, C, 7, e => vs(e, '👨‍👩‍👧'))]))
  add('big-client', raw(2 ** 53 - 1, 0, [rootItem(4, e => vs(e, 'x'))], [[2 ** 53 - 1, [[0, 1]]]]))
  add('zero-length', raw(C, 0, [rootItem(4, e => vs(e, '')), rootItem(8, anyC([])), e => { u8(e, 0); vu(e, 0) }, rootItem(1, e => vu(e, 0)), rootItem(4, e => vs(e, 'z'))]))
  add('deleted-gc', raw(C, 0, [rootItem(1, e => vu(e, 5)), e => { u8(e, 0); vu(e, 3) }, e => { u8(e, 0xe0); vu(e, 2) }, originItem(4, C, 9, e => vs(e, 'after'))]))
  add('trailing-after-ds', raw(C, 0, [rootItem(4, e => vs(e, 'x'))], [], new Uint8Array([1, 2, 3, 255])))
  add('truncated', raw(C, 0, [rootItem(4, e => vs(e, 'xyz'))]).slice(0, 9))
  add('truncated-delete-set', raw(C, 0, [rootItem(4, e => vs(e, 'xyz'))], [[C, [[0, 1], [2, 1]]]]).slice(0, 15))
  add('empty', new Uint8Array([0, 0]))
  // Several groups per update: the same client twice (out of order, and
  // with a gap), an empty group, a group starting with a Skip, and a
  // delete set with unsorted, overlapping and empty ranges.
  add('groups', (() => {
    const e = enc()
    const str = t => x => { u8(x, 4 | 0x80); vu(x, C); vu(x, 0); vs(x, t) }
    vu(e, 5)
    vu(e, 1); vu(e, C); vu(e, 6); str('late')(e)
    vu(e, 0); vu(e, 9); vu(e, 0)
    vu(e, 2); vu(e, 3); vu(e, 0); rootItem(4, x => vs(x, 'c3'))(e); str('x')(e)
    vu(e, 2); vu(e, C); vu(e, 0); rootItem(4, x => vs(x, 'a😀b'))(e); u8(e, 0); vu(e, 1)
    vu(e, 2); vu(e, 4); vu(e, 2); u8(e, 10); vu(e, 3); u8(e, 0); vu(e, 2)
    vu(e, 3)
    vu(e, C); vu(e, 4); vu(e, 5); vu(e, 2); vu(e, 0); vu(e, 3); vu(e, 4); vu(e, 0); vu(e, 1); vu(e, 2)
    vu(e, 3); vu(e, 0)
    vu(e, C); vu(e, 1); vu(e, 9); vu(e, 1)
    return bytes(e)
  })())
  // Map entries with several values in one item: slicing keeps parentSub.
  add('map-multi', raw(C, 0, [rootItem(8 | 0x20, e => { vs(e, 'k'); anyC([anyV(1), anyV('two'), anyV({ three: 3 }), anyV([4])])(e) }, 'map'), originItem(8 | 0x20, C, 3, anyC([anyV(5), anyV(6)]))]))
  add('json-multi', raw(C, 0, [rootItem(2, jsonC(['1', '{"a":2}', 'undefined', '[3]', '"4"']))]))
  add('deleted-multi', raw(C, 0, [rootItem(1, e => vu(e, 7)), originItem(1, C, 6, e => vu(e, 3))]))
  return list
}

const craftedSession = (id, list) => {
  // Crafted updates are merged with each other and with overlapping
  // slices of themselves, diffed at every clock, and measured.
  const updates = list.map(([, u]) => u)
  const checks = []
  const names = list.map(([n]) => n)
  for (let i = 0; i < updates.length; i++) {
    checks.push({ op: 'sv', in: i, out: expect(() => Y.encodeStateVectorFromUpdate(updates[i])) })
    checks.push({ op: 'merge', in: [i, i], out: expect(() => Y.mergeUpdates([updates[i], updates[i]])) })
    checks.push({ op: 'merge', in: [i, (i + 1) % updates.length], out: expect(() => Y.mergeUpdates([updates[i], updates[(i + 1) % updates.length]])) })
    checks.push({ op: 'merge', in: [i], out: expect(() => Y.mergeUpdates([updates[i]])) })
    for (let clock = 0; clock <= 12; clock++) {
      const sv = Y.encodeStateVector(new Map([[77, clock]]))
      checks.push({ op: 'diff', in: i, sv: b64(sv), out: expect(() => Y.diffUpdate(updates[i], sv)) })
    }
  }
  return { id: `crafted-${id}`, names, updates: updates.map(b64), checks }
}

// Surrogate-pair splitting through merge: an update that holds only the
// tail of a text item (a diff cut inside an emoji) merged with the whole.
const surrogateSession = id => {
  const doc = new Y.Doc()
  doc.clientID = 5 + id
  const updates = []
  doc.on('update', u => updates.push(u))
  doc.getText('text').insert(0, pick(['😀😀😀', 'a😀b👍🏽c', '🇩🇪🇫🇷', '𝄞x𝄞']))
  doc.getText('text').insert(1 + int(3), pick(['é😀', 'xy']))
  const full = Y.encodeStateAsUpdate(doc)
  updates.length = 0
  updates.push(full)
  const len = doc.getText('text').length + 4
  const checks = []
  for (let clock = 0; clock <= len; clock++) {
    const sv = Y.encodeStateVector(new Map([[doc.clientID, clock]]))
    const tail = Y.diffUpdate(full, sv)
    updates.push(tail)
    const ti = updates.length - 1
    checks.push({ op: 'diff', in: 0, sv: b64(sv), out: b64(tail) })
    checks.push({ op: 'merge', in: [ti, 0], out: b64(Y.mergeUpdates([tail, updates[0]])) })
    checks.push({ op: 'merge', in: [0, ti], out: b64(Y.mergeUpdates([updates[0], tail])) })
  }
  return { id: `surrogate-${id}`, updates: updates.map(b64), checks }
}

const sessions = []
for (let i = 0; i < SESSIONS; i++) sessions.push(session(i))
// Compaction-sized sessions: 60 to 400 small updates merged at once.
for (let i = 0; i < 24; i++) sessions.push(session(SESSIONS + i, true))
sessions.push(craftedSession(0, craftedUpdates()))
for (let i = 0; i < 12; i++) sessions.push(surrogateSession(i))

// V8's sort order under yjs's merge comparator, which is inconsistent for
// an Item and a GC at the same ID: Go's jsSort must reproduce it exactly.
const sortCases = []
for (let i = 0; i < 300; i++) {
  const n = i < 100 ? 2 + int(62) : 64 + int(i < 250 ? 200 : 1500)
  const clients = 1 + int(4)
  const clocks = 1 + int(i % 3 === 0 ? 3 : 40)
  const els = []
  for (let k = 0; k < n; k++) els.push({ i: k, client: int(clients), clock: int(clocks), gc: chance(0.5) })
  if (i % 4 === 0) {
    // Nearly sorted input, as merge sees it from one step to the next.
    els.sort((a, b) => b.client - a.client || a.clock - b.clock)
    els.forEach((e, k) => { e.i = k })
  }
  const sorted = els.slice().sort((dec1, dec2) => {
    if (dec1.client === dec2.client) {
      const clockDiff = dec1.clock - dec2.clock
      if (clockDiff === 0) return dec1.gc === dec2.gc ? 0 : -1
      return clockDiff
    }
    return dec2.client - dec1.client
  })
  sortCases.push({ els: els.map(e => [e.client, e.clock, e.gc ? 1 : 0]), order: sorted.map(e => e.i) })
}
const out = process.argv[4] || join(dirname(fileURLToPath(import.meta.url)), '..', 'cases.json.gz')
if (!process.argv[4]) {
  const sortOut = join(dirname(fileURLToPath(import.meta.url)), '..', 'jssort.json.gz')
  writeFileSync(sortOut, gzipSync(JSON.stringify(sortCases), { level: 9 }))
}
const json = JSON.stringify({ yjs: '13.6.33', seed: Number(process.argv[3] || 7), sessions })
writeFileSync(out, gzipSync(json, { level: 9 }))
const nChecks = sessions.reduce((n, s) => n + s.checks.length, 0)
console.log(`wrote ${out}: ${sessions.length} sessions, ${nChecks} checks, ${json.length} bytes of JSON`)
