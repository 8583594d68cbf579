import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { AutoIncrementKeyError, WebHostClient } from "../src/index.js";
import { OUTBOX_TABLE } from "../src/schema.js";
import { byId, CountingFetch, device, eventually } from "./helpers.js";
import { newKey, sql, SyncServer, type TestKey } from "./server.js";

// One server for the file; every test gets its own customer (tenant), so
// tests never see each other's rows.
const tenants: TestKey[] = Array.from({ length: 16 }, (_, i) => newKey(`cust_rows_${i}`));
let next = 0;
let server: SyncServer;
const open: { close(): void }[] = [];

beforeAll(async () => {
  server = await SyncServer.start(tenants);
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

function tenant(): TestKey {
  return tenants[next++]!;
}
function dev(key: TestKey, opts: Parameters<typeof device>[2] = {}) {
  const d = device(server, key, opts);
  open.push(d);
  return d;
}

describe("two devices", () => {
  test("converge on rows online, through live pokes", async () => {
    const key = tenant();
    const a = dev(key);
    const b = dev(key);
    await a.sync();
    await b.sync();
    await a.db.posts.bulkPut([
      { id: "p1", title: "first" },
      { id: "p2", title: "second" },
    ]);
    // No sync() call: B hears of it through a poke.
    await eventually(async () => expect(byId(await b.db.posts.toArray())).toEqual([
      { id: "p1", title: "first" },
      { id: "p2", title: "second" },
    ]));
    await b.db.posts.update("p1", { title: "first, edited on B" });
    await b.db.posts.delete("p2");
    await eventually(async () => expect(await a.db.posts.toArray()).toEqual([{ id: "p1", title: "first, edited on B" }]));
    await eventually(() => expect(a.status.get()).toMatchObject({ phase: "synced", pending: 0 }));
  });

  test("converge after offline edits on both sides", async () => {
    const key = tenant();
    const a = dev(key);
    const b = dev(key);
    await a.db.posts.put({ id: "shared", title: "v1" });
    await a.sync();
    await b.sync();
    expect(await b.db.posts.get("shared")).toEqual({ id: "shared", title: "v1" });

    a.pause();
    b.pause();
    expect(a.status.get().phase).toBe("offline");
    await a.db.posts.put({ id: "a-only", title: "from A" });
    await a.db.todos.add({ id: undefined as unknown as string, text: "todo from A", done: 0 });
    await b.db.posts.put({ id: "b-only", title: "from B" });
    await b.db.posts.update("shared", { body: "B wrote a body" });
    await eventually(() => expect(a.status.get().pending).toBe(2));
    await eventually(() => expect(b.status.get().pending).toBe(2));

    a.resume();
    b.resume();
    await a.sync();
    await b.sync();
    await a.sync();
    const expected = [
      { id: "a-only", title: "from A" },
      { id: "b-only", title: "from B" },
      { id: "shared", title: "v1", body: "B wrote a body" },
    ];
    expect(byId(await a.db.posts.toArray())).toEqual(expected);
    expect(byId(await b.db.posts.toArray())).toEqual(expected);
    const todosA = await a.db.todos.toArray();
    expect(todosA).toHaveLength(1);
    expect(todosA[0]!.id).toMatch(/^tds_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(await b.db.todos.toArray()).toEqual(todosA);
    expect(a.status.get().pending).toBe(0);
    expect(b.status.get().pending).toBe(0);
  });
});

test("the outbox survives a restart: a new client instance on the same database pushes it", async () => {
  const key = tenant();
  const first = device(server, key, { autoSync: false });
  await first.db.posts.bulkPut([
    { id: "o1", title: "written offline" },
    { id: "o2", title: "also offline" },
  ]);
  await first.db.posts.update("o1", { title: "written offline, edited" });
  expect(await first.db.table(OUTBOX_TABLE).count()).toBe(2);
  const clientId = first.clientId;
  first.close(); // the app is closed before it ever reached the server

  const again = dev(key, { dbName: first.dbName });
  await again.sync();
  expect(again.clientId).toBe(clientId);
  expect(await again.db.table(OUTBOX_TABLE).count()).toBe(0);

  const other = dev(key);
  await other.sync();
  expect(byId(await other.db.posts.toArray())).toEqual([
    { id: "o1", title: "written offline, edited" },
    { id: "o2", title: "also offline" },
  ]);
});

test("no echo: applying server changes writes nothing to the outbox and pushes nothing", async () => {
  const key = tenant();
  const fa = new CountingFetch();
  const fb = new CountingFetch();
  const a = dev(key, { fetch: fa });
  const b = dev(key, { fetch: fb });
  await a.sync();
  await b.sync();
  await a.db.posts.put({ id: "e1", title: "once" });
  await a.sync();
  await eventually(async () => expect(await b.db.posts.get("e1")).toBeDefined());
  // A's own change came back in its pull; B received it: neither queued anything.
  await a.sync();
  await b.sync();
  expect(await a.db.table(OUTBOX_TABLE).count()).toBe(0);
  expect(await b.db.table(OUTBOX_TABLE).count()).toBe(0);
  expect(fb.count("/v1/sync/push")).toBe(0);
  const aPushes = fa.bodies.filter((x) => x.path === "/v1/sync/push");
  expect(aPushes).toHaveLength(1);
  expect((aPushes[0]!.body as { mutations: unknown[] }).mutations).toHaveLength(1);
  expect(a.status.get().pending).toBe(0);
});

describe("conflicts resolve as ROW-SYNC.md says", () => {
  async function pair() {
    const key = tenant();
    const a = dev(key);
    const b = dev(key);
    await a.db.posts.put({ id: "c", title: "original", body: "original body" });
    await a.sync();
    await b.sync();
    expect(await b.db.posts.get("c")).toEqual({ id: "c", title: "original", body: "original body" });
    a.pause();
    b.pause();
    return { a, b };
  }
  async function settle(a: { sync(): Promise<void> }, b: { sync(): Promise<void> }) {
    await a.sync();
    await b.sync();
    await a.sync();
  }

  test("patch: last write wins per field, in the server's receive order", async () => {
    const { a, b } = await pair();
    await a.db.posts.update("c", { title: "title by A" });
    await b.db.posts.update("c", { title: "title by B", body: "body by B" });
    await a.db.posts.update("c", { body: "body by A" }); // A edits later on its clock...
    // ...but B reaches the server first, then A: A's fields land last.
    b.resume();
    await b.sync();
    a.resume();
    await settle(a, b);
    const want = { id: "c", title: "title by A", body: "body by A" };
    expect(await a.db.posts.get("c")).toEqual(want);
    expect(await b.db.posts.get("c")).toEqual(want);
  });

  test("patches of different fields merge", async () => {
    const { a, b } = await pair();
    await a.db.posts.update("c", { title: "title by A" });
    await b.db.posts.update("c", { body: "body by B" });
    a.resume();
    b.resume();
    await settle(a, b);
    const want = { id: "c", title: "title by A", body: "body by B" };
    expect(await a.db.posts.get("c")).toEqual(want);
    expect(await b.db.posts.get("c")).toEqual(want);
  });

  test("put replaces the whole row", async () => {
    const { a, b } = await pair();
    await a.db.posts.update("c", { body: "patched by A" });
    await b.db.posts.put({ id: "c", title: "replaced by B" });
    a.resume();
    await a.sync();
    b.resume();
    await settle(a, b);
    const want = { id: "c", title: "replaced by B" };
    expect(await a.db.posts.get("c")).toEqual(want);
    expect(await b.db.posts.get("c")).toEqual(want);
  });

  test("deletes win over edits based on the deleted row", async () => {
    const { a, b } = await pair();
    await a.db.posts.delete("c");
    await b.db.posts.update("c", { title: "edited after the delete" });
    await b.db.posts.put({ id: "c", title: "put based on version 1" });
    a.resume();
    await a.sync();
    b.resume();
    await settle(a, b);
    expect(await a.db.posts.get("c")).toBeUndefined();
    expect(await b.db.posts.get("c")).toBeUndefined();
  });

  test("a put with no base version brings a deleted row back", async () => {
    const { a, b } = await pair();
    a.resume();
    b.resume();
    await a.db.posts.delete("c");
    await a.sync();
    await b.sync();
    expect(await b.db.posts.get("c")).toBeUndefined();
    await b.db.posts.put({ id: "c", title: "re-created" });
    await settle(a, b);
    expect(await a.db.posts.get("c")).toEqual({ id: "c", title: "re-created" });
    expect(await b.db.posts.get("c")).toEqual({ id: "c", title: "re-created" });
  });
});

test("++id on a synced table fails with the documented error", () => {
  const key = tenant();
  const client = new WebHostClient({ apiUrl: server.url, apiKey: key.token });
  let err: unknown;
  try {
    client.connect({ notes: "++id, text" }, { dbName: "never-opened" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(AutoIncrementKeyError);
  const e = err as AutoIncrementKeyError;
  expect(e.code).toBe("auto_increment_key");
  expect(e.table).toBe("notes");
  expect(e.message).toContain('Table "notes" is synced');
  expect(e.message).toContain('"@id"');
  // The same schema is fine for a table kept on the device.
  const local = client.connect({ notes: "++id, text" }, { dbName: `local-${Date.now()}`, localTables: ["notes"] });
  open.push(local);
});

test("410 reset: the client clears its synced tables, pulls from null and keeps pending changes", async () => {
  const key = tenant();
  const a = dev(key);
  const b = dev(key);
  await a.db.posts.bulkPut([
    { id: "r1", title: "kept" },
    { id: "r2", title: "deleted while B was away" },
  ]);
  await a.sync();
  await b.sync();
  b.pause();
  await a.db.posts.delete("r2");
  await a.sync();
  await b.db.posts.put({ id: "r3", title: "pending on B" });
  // A restored database gets a new epoch: every old cursor answers 410.
  await sql(server.databaseURL, "UPDATE rowsync.meta SET epoch = gen_random_uuid()");
  b.resume();
  await b.sync();
  await a.sync();
  const want = [
    { id: "r1", title: "kept" },
    { id: "r3", title: "pending on B" },
  ];
  expect(byId(await b.db.posts.toArray())).toEqual(want);
  expect(byId(await a.db.posts.toArray())).toEqual(want);
});

test("409 gap: pending mutations are renumbered from the mid the server expects", async () => {
  const key = tenant();
  const a = dev(key);
  await a.db.posts.put({ id: "g1", title: "one" });
  await a.db.posts.put({ id: "g2", title: "two" });
  await a.sync();
  a.pause();
  await a.db.posts.put({ id: "g3", title: "three" });
  // The server forgets this client (as after a restore): it expects mid 1 again.
  await sql(
    server.databaseURL,
    `DELETE FROM rowsync.acks WHERE tenant = '${key.customerId}'; DELETE FROM rowsync.clients WHERE tenant = '${key.customerId}'`,
  );
  a.resume();
  await a.sync();
  expect(await a.db.table(OUTBOX_TABLE).count()).toBe(0);
  const b = dev(key);
  await b.sync();
  expect((await b.db.posts.toArray()).map((p) => p.id).sort()).toEqual(["g1", "g2", "g3"]);
});

test("two tabs on one database share the outbox and cursor safely", async () => {
  const key = tenant();
  const tab1 = dev(key);
  const tab2 = dev(key, { dbName: tab1.dbName });
  const other = dev(key);
  await Promise.all([tab1.sync(), tab2.sync()]);
  for (let i = 0; i < 10; i++) {
    await (i % 2 ? tab1 : tab2).db.posts.put({ id: `t${i}`, title: `tab write ${i}` });
    await other.db.posts.put({ id: `o${i}`, title: `other write ${i}` });
  }
  await Promise.all([tab1.sync(), tab2.sync(), other.sync()]);
  await other.sync();
  await tab1.sync();
  const want = (await other.db.posts.orderBy("id").toArray()).map((p) => p.id);
  expect(want).toHaveLength(20);
  expect((await tab1.db.posts.orderBy("id").toArray()).map((p) => p.id)).toEqual(want);
  expect(await tab1.db.table(OUTBOX_TABLE).count()).toBe(0);
});

test("pending local ops are rebased on top of pulled server changes", async () => {
  const key = tenant();
  const a = dev(key);
  const fb = new CountingFetch();
  const b = dev(key, { fetch: fb });
  await a.db.posts.put({ id: "rb", title: "v1", body: "b1" });
  await a.sync();
  await b.sync();
  // B's pushes fail (its pulls still work), so its edits stay pending.
  fb.blocked.add("/v1/sync/push");
  await b.db.posts.update("rb", { body: "body from B" });
  await b.db.posts.put({ id: "b-new", title: "created on B" });
  await a.db.posts.update("rb", { title: "title from A" });
  await a.sync();
  // B pulls A's row; its pending patch is re-applied on top; its pending row stays.
  await eventually(async () => expect(await b.db.posts.get("rb")).toEqual({ id: "rb", title: "title from A", body: "body from B" }));
  expect(await b.db.posts.get("b-new")).toEqual({ id: "b-new", title: "created on B" });
  expect(b.status.get().pending).toBe(2);
  fb.blocked.clear();
  await b.sync();
  await a.sync();
  expect(await a.db.posts.get("rb")).toEqual({ id: "rb", title: "title from A", body: "body from B" });
  expect(await a.db.posts.get("b-new")).toEqual({ id: "b-new", title: "created on B" });
});
