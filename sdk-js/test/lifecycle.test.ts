import { afterEach, expect, test } from "vitest";
import { UnauthorizedError } from "../src/index.js";
import { OUTBOX_TABLE } from "../src/schema.js";
import { CountingFetch, countingWebSocket, device, eventually, fastTiming } from "./helpers.js";
import { newKey, SyncServer } from "./server.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("a revoked key makes the client report 401 and stop retrying", async () => {
  const revoked = newKey("cust_revoke");
  const kept = newKey("cust_revoke");
  const server = await SyncServer.start([revoked, kept]);
  cleanups.push(() => server.close());
  const counting = new CountingFetch();
  const sockets = countingWebSocket();
  const a = device(server, revoked, { fetch: counting, WS: sockets.WS });
  cleanups.push(() => a.close());
  const doc = a.doc("board");
  await doc.whenSynced;
  await a.db.posts.put({ id: "before", title: "synced before the revocation" });
  await a.sync();

  // A key-file server revokes a key by restarting without it.
  server.setKeys([kept]);
  await server.restart();

  const status = await eventually(() => {
    const s = a.status.get();
    expect(s.phase).toBe("error");
    return s;
  });
  expect(status.error).toBeInstanceOf(UnauthorizedError);
  expect(status.error!.status).toBe(401);
  expect(status.error!.retryable).toBe(false);
  expect(status.error!.message).toMatch(/invalid, expired or revoked/);
  expect(status.error!.message).toMatch(/Create a new key/);
  await expect(a.sync()).rejects.toBeInstanceOf(UnauthorizedError);

  // Stopped: local writes still land in the outbox, but nothing is sent,
  // through several backoff periods.
  const requests = counting.total();
  const connects = sockets.opened.length;
  await a.db.posts.put({ id: "after", title: "kept locally for a new key" });
  await new Promise((r) => setTimeout(r, 4 * fastTiming.maxBackoffMs));
  expect(counting.total()).toBe(requests);
  expect(sockets.opened.length).toBe(connects);
  expect(await a.db.table(OUTBOX_TABLE).count()).toBe(1);
  expect(a.status.get()).toMatchObject({ phase: "error", pending: 1 });
  expect(doc.provider.shouldConnect).toBe(false);

  // The other key of the same customer still works and sees the synced row.
  const b = device(server, kept);
  cleanups.push(() => b.close());
  await b.sync();
  expect(await b.db.posts.toArray()).toEqual([{ id: "before", title: "synced before the revocation" }]);
});

test("a server restart mid-sync loses nothing (rows and documents)", async () => {
  const key = newKey("cust_restart");
  const server = await SyncServer.start([key]);
  cleanups.push(() => server.close());
  const a = device(server, key);
  const b = device(server, key);
  cleanups.push(() => a.close(), () => b.close());
  const docA = a.doc("log");
  const docB = b.doc("log");
  await Promise.all([docA.whenSynced, docB.whenSynced]);

  const rows = 120;
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    // Separate transactions, so pushes are in flight when the server dies.
    writes.push(a.db.posts.put({ id: `row-${String(i).padStart(3, "0")}`, title: `written ${i}` }));
    docA.getArray<number>("entries").push([i]);
    if (i === 40) {
      await Promise.all(writes);
      await server.stop("SIGKILL");
    }
    if (i === 80) {
      await Promise.all(writes);
      await server.restart();
    }
  }
  await Promise.all(writes);
  await a.sync();
  await b.sync();
  const got = await b.db.posts.orderBy("id").toArray();
  expect(got).toHaveLength(rows);
  expect(got.map((p) => p.title)).toEqual(Array.from({ length: rows }, (_, i) => `written ${i}`));
  expect(await a.db.table(OUTBOX_TABLE).count()).toBe(0);
  await eventually(() => expect(docB.getArray<number>("entries").toArray()).toEqual(Array.from({ length: rows }, (_, i) => i)));
});
