import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import * as Y from "yjs";
import { device, eventually } from "./helpers.js";
import { newKey, SyncServer, type TestKey } from "./server.js";

const tenants: TestKey[] = Array.from({ length: 4 }, (_, i) => newKey(`cust_docs_${i}`));
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

function dev(key: TestKey, opts: Parameters<typeof device>[2] = {}) {
  const d = device(server, key, opts);
  open.push(d);
  return d;
}

test("two devices converge on a Yjs document, online and after offline edits", async () => {
  const key = tenants[next++]!;
  const a = dev(key);
  const b = dev(key);
  const docA = a.doc("fleet");
  const docB = b.doc("fleet");
  expect(a.doc("fleet")).toBe(docA); // one instance per name
  await Promise.all([docA.whenSynced, docB.whenSynced]);

  const vehiclesA = docA.getMap<Y.Map<unknown>>("vehicles");
  const gpsB = docB.getArray<{ vehicle: string; lat: number; lng: number }>("gpsPositions");
  vehiclesA.set("truck-1", new Y.Map(Object.entries({ plate: "B-WH 1", driver: "Ada" })));
  gpsB.push([{ vehicle: "truck-1", lat: 52.52, lng: 13.405 }]);
  await eventually(() => {
    expect(docB.getMap("vehicles").toJSON()).toEqual({ "truck-1": { plate: "B-WH 1", driver: "Ada" } });
    expect(docA.getArray("gpsPositions").toJSON()).toEqual([{ vehicle: "truck-1", lat: 52.52, lng: 13.405 }]);
  });

  // Both go offline and edit the same map entry and the same array.
  a.pause();
  b.pause();
  (vehiclesA.get("truck-1") as Y.Map<unknown>).set("driver", "Grace");
  docA.getArray("gpsPositions").push([{ vehicle: "truck-1", lat: 52.53, lng: 13.41 }]);
  docB.getMap("vehicles").set("van-2", new Y.Map(Object.entries({ plate: "B-WH 2" })));
  gpsB.push([{ vehicle: "van-2", lat: 48.14, lng: 11.58 }]);
  a.resume();
  b.resume();
  await eventually(() => {
    expect(docA.getMap("vehicles").toJSON()).toEqual(docB.getMap("vehicles").toJSON());
    expect(docA.getArray("gpsPositions").toJSON()).toEqual(docB.getArray("gpsPositions").toJSON());
    expect(docA.getArray("gpsPositions").length).toBe(3);
  });
  expect(docA.getMap("vehicles").toJSON()).toEqual({
    "truck-1": { plate: "B-WH 1", driver: "Grace" },
    "van-2": { plate: "B-WH 2" },
  });
});

test("a document is persisted on the device: offline edits survive a restart and sync later", async () => {
  const key = tenants[next++]!;
  const first = device(server, key, { autoSync: false });
  const doc = first.doc("notes");
  await doc.whenLoaded;
  doc.getText("body").insert(0, "written offline");
  // y-indexeddb stores updates asynchronously; wait until it has them.
  await eventually(async () => {
    const probe = new Y.Doc();
    const { IndexeddbPersistence } = await import("y-indexeddb");
    const p = new IndexeddbPersistence(`${first.dbName}/yjs/notes`, probe);
    await p.whenSynced;
    const text = probe.getText("body").toString();
    await p.destroy();
    expect(text).toBe("written offline");
  });
  first.close();

  const again = dev(key, { dbName: first.dbName });
  const restored = again.doc("notes");
  await restored.whenLoaded;
  expect(restored.getText("body").toString()).toBe("written offline");
  await restored.whenSynced;

  const other = dev(key);
  const seen = other.doc("notes");
  await seen.whenSynced;
  await eventually(() => expect(seen.getText("body").toString()).toBe("written offline"));
});

test("destroy() disconnects and frees the document; doc(name) then makes a new one", async () => {
  const key = tenants[next++]!;
  const a = dev(key);
  const d = a.doc("temp");
  await d.whenSynced;
  expect(d.provider.wsconnected).toBe(true);
  d.destroy();
  expect(d.provider.wsconnected).toBe(false);
  expect(d.provider.shouldConnect).toBe(false);
  const again = a.doc("temp");
  expect(again).not.toBe(d);
  await again.whenSynced;
});
