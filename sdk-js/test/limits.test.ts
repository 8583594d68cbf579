import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { PayloadTooLargeError, WebHostClient, type RejectedMutation, type WebSocketConstructor } from "../src/index.js";
import { OUTBOX_TABLE } from "../src/schema.js";
import { CountingFetch, eventually, fastTiming, schema, type Tables } from "./helpers.js";
import { newKey, SyncServer, type TestKey } from "./server.js";

// A server with tiny limits: 5 mutations per push, 4 KiB bodies, 256-byte values.
const writer = newKey("cust_limits");
const writer2 = newKey("cust_limits2");
const writer3 = newKey("cust_limits3");
const reader = newKey("cust_limits", ["read"]);
let server: SyncServer;
const open: { close(): void }[] = [];

beforeAll(async () => {
  server = await SyncServer.start([writer, writer2, writer3, reader], {
    WEBHOST_ROWS_MAX_MUTATIONS: "5",
    WEBHOST_ROWS_MAX_REQUEST_BYTES: "4096",
    WEBHOST_ROWS_MAX_VALUE_BYTES: "256",
  });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

function dev(key: TestKey, extra: { fetch?: CountingFetch; onRejected?: (r: RejectedMutation[]) => void } = {}) {
  const client = new WebHostClient({ apiUrl: server.url, apiKey: key.token, fetch: extra.fetch?.fetch, WebSocket: WebSocket as unknown as WebSocketConstructor });
  const c = client.connect<Tables>(schema, { dbName: `lim-${Math.random()}`, timing: fastTiming, onRejected: extra.onRejected });
  open.push(c);
  return c;
}

test("413 on a batch: the client splits it and everything arrives", async () => {
  const counting = new CountingFetch();
  const a = dev(writer, { fetch: counting });
  a.pause();
  for (let i = 0; i < 12; i++) await a.db.posts.put({ id: `s${String(i).padStart(2, "0")}`, title: `row ${i}` });
  a.resume();
  await a.sync();
  const pushes = counting.bodies.filter((b) => b.path === "/v1/sync/push").map((b) => (b.body as { mutations: unknown[] }).mutations.length);
  // 12 and 6 are refused (413 too_many_mutations); halves of 3 go through.
  expect(pushes).toEqual([12, 6, 3, 3, 3, 3]);
  const b = dev(writer);
  await b.sync();
  expect(await b.db.posts.count()).toBe(12);
});

test("a rejected mutation is reported and rolled back locally", async () => {
  const rejected: RejectedMutation[] = [];
  const a = dev(writer2, { onRejected: (r) => rejected.push(...r) });
  await a.db.posts.put({ id: "ok", title: "fits" });
  await a.db.posts.put({ id: "big", title: "x".repeat(1000) }); // over the 256-byte value limit
  await a.sync();
  expect(rejected).toHaveLength(1);
  expect(rejected[0]!.error).toMatch(/^value_too_large/);
  expect(rejected[0]!.ops.map((o) => o.key)).toEqual(["big"]);
  await eventually(async () => expect(await a.db.posts.toArray()).toEqual([{ id: "ok", title: "fits" }]));
  await eventually(() => expect(a.status.get()).toMatchObject({ phase: "synced", pending: 0 }));
});

test("a read-only key's writes are rejected and rolled back; its pulls work", async () => {
  const w = dev(writer);
  await w.db.posts.put({ id: "from-writer", title: "visible to readers" });
  await w.sync();
  const rejected: RejectedMutation[] = [];
  const r = dev(reader, { onRejected: (x) => rejected.push(...x) });
  await r.db.posts.put({ id: "from-reader", title: "not allowed" });
  await r.sync();
  expect(rejected.map((x) => x.error)).toEqual(["forbidden: the API key is read-only"]);
  await eventually(async () => expect((await r.db.posts.toArray()).map((p) => p.id)).not.toContain("from-reader"));
  expect((await r.db.posts.toArray()).map((p) => p.id)).toContain("from-writer");
});

test("413 on a single transaction stops sync with PayloadTooLargeError until it is discarded", async () => {
  const a = dev(writer3);
  await a.db.posts.put({ id: "huge", title: "y".repeat(8000) }); // bigger than a whole request
  const s = await eventually(() => {
    const st = a.status.get();
    expect(st.phase).toBe("error");
    return st;
  });
  expect(s.error).toBeInstanceOf(PayloadTooLargeError);
  expect(s.error!.hint).toMatch(/discardPending/);
  expect(await a.db.table(OUTBOX_TABLE).count()).toBe(1);
  await a.discardPending();
  await a.db.posts.put({ id: "small", title: "fine" });
  await a.sync();
  expect(await a.db.posts.toArray()).toEqual([{ id: "small", title: "fine" }]);
  await eventually(() => expect(a.status.get()).toMatchObject({ phase: "synced", pending: 0 }));
});
