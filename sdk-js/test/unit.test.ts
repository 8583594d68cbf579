import Dexie, { type EntityTable } from "dexie";
import { describe, expect, test } from "vitest";
import { AutoIncrementKeyError, InvalidKeyError, Observable, UnauthorizedError, WebHostClient } from "../src/index.js";
import { errorForStatus } from "../src/errors.js";
import { generateId } from "../src/ids.js";
import type { Mutation } from "../src/protocol.js";
import { encodeKey, decodeKey, idPrefix, OUTBOX_TABLE, parseSchema } from "../src/schema.js";

describe("schema", () => {
  test("synced tables: ++ rejected, @ generates, local tables untouched, internal tables added", () => {
    expect(() => parseSchema({ posts: "++id, title" })).toThrow(AutoIncrementKeyError);
    expect(() => parseSchema({ posts: "++, title" })).toThrow(AutoIncrementKeyError);
    const p = parseSchema({ posts: "@id, title", pairs: "[a+b], c", logs: "++id" }, ["logs"]);
    expect(p.dexieStores).toMatchObject({ posts: "id,title", pairs: "[a+b],c", logs: "++id", [OUTBOX_TABLE]: "mid" });
    expect(p.synced.get("posts")).toMatchObject({ keyPath: "id", generateId: true, idPrefix: "pst" });
    expect(p.synced.get("pairs")).toMatchObject({ keyPath: ["a", "b"], compound: true, generateId: false });
    expect(p.synced.has("logs")).toBe(false);
    expect(() => parseSchema({ _whOutbox: "mid" })).toThrow(/reserved/);
  });

  test("the schema hash depends on the synced schema only", () => {
    const h = (s: Record<string, string>, local: string[] = []) => parseSchema(s, local).schemaHash;
    expect(h({ posts: "id, title" })).toBe(h({ posts: "id,title" }));
    expect(h({ posts: "id, title" })).not.toBe(h({ posts: "id, title, date" }));
    expect(h({ posts: "id", scratch: "++id" }, ["scratch"])).toBe(h({ posts: "id" }));
  });

  test("keys: strings as they are, compound keys as JSON arrays, anything else refused", () => {
    const single = parseSchema({ t: "id" }).synced.get("t")!;
    const compound = parseSchema({ t: "[a+b]" }).synced.get("t")!;
    expect(encodeKey(single, "k1")).toBe("k1");
    expect(decodeKey(single, "k1")).toBe("k1");
    expect(encodeKey(compound, ["x", 2])).toBe('["x",2]');
    expect(decodeKey(compound, '["x",2]')).toEqual(["x", 2]);
    expect(() => encodeKey(single, 5)).toThrow(InvalidKeyError);
    expect(() => encodeKey(single, "")).toThrow(InvalidKeyError);
    expect(() => encodeKey(compound, ["x", { y: 1 }])).toThrow(InvalidKeyError);
  });

  test("id prefixes", () => {
    expect(idPrefix("posts")).toBe("pst");
    expect(idPrefix("vehicles")).toBe("vhc");
    expect(idPrefix("todos")).toBe("tds");
    expect(idPrefix("io")).toBe("io");
  });
});

test("generated IDs are time-ordered ULIDs behind the prefix", () => {
  const zeros = () => new Uint8Array(10);
  expect(generateId("pst", 0, zeros)).toBe("pst_" + "0".repeat(26));
  const a = generateId("pst", 1_700_000_000_000);
  const b = generateId("pst", 1_700_000_000_001);
  expect(a).toMatch(/^pst_[0-9A-HJKMNP-TV-Z]{26}$/);
  expect(a < b).toBe(true);
  expect(new Set(Array.from({ length: 1000 }, () => generateId("x"))).size).toBe(1000);
});

test("errors for statuses say what to do", () => {
  const e401 = errorForStatus(401, { error: "unauthenticated", message: "invalid, expired or revoked API key" });
  expect(e401).toBeInstanceOf(UnauthorizedError);
  expect(e401.retryable).toBe(false);
  expect(e401.hint).toMatch(/new key/);
  expect(errorForStatus(403, undefined).hint).toMatch(/write/);
  expect(errorForStatus(413, undefined).hint).toMatch(/fewer rows per transaction/);
  expect(errorForStatus(429, undefined).retryable).toBe(true);
  expect(errorForStatus(502, undefined).retryable).toBe(true);
  // problem+json bodies (the REST API)
  expect(errorForStatus(422, { title: "Unprocessable Entity", detail: "name is required" }).message).toMatch(/name is required/);
});

test("Observable: current value first, then changes, until unsubscribed", async () => {
  const o = new Observable(1);
  const seen: number[] = [];
  const sub = o.subscribe((v) => seen.push(v));
  o.set(2);
  const later = o.when((v) => v === 3);
  o.set(3);
  await expect(later).resolves.toBe(3);
  sub.unsubscribe();
  o.set(4);
  expect(seen).toEqual([1, 2, 3]);
  expect(sub.closed).toBe(true);
  expect(o.get()).toBe(4);
});

describe("the outbox middleware (no server: autoSync off)", () => {
  interface Row {
    id: string;
    n?: number;
    nested?: { a?: number; b?: number };
  }
  function open() {
    const client = new WebHostClient({ apiUrl: "http://127.0.0.1:9", apiKey: "whs_live_x", fetch: () => Promise.reject(new Error("offline")) });
    return client.connect<{ rows: EntityTable<Row, "id">; gen: EntityTable<Row, "id">; scratch: Dexie.Table<{ id?: number }, number> }>(
      { rows: "id", gen: "@id", scratch: "++id" },
      { dbName: `unit-${Math.random()}`, autoSync: false, localTables: ["scratch"] },
    );
  }
  const outbox = async (c: ReturnType<typeof open>) => (await c.db.table(OUTBOX_TABLE).orderBy("mid").toArray()) as Mutation[];

  test("each write kind becomes the matching op; one transaction is one mutation", async () => {
    const c = open();
    await c.db.rows.put({ id: "a", n: 1, nested: { a: 1 } });
    await c.db.rows.update("a", { n: 2, "nested.b": 3 } as never);
    await c.db.rows.where("id").equals("a").modify({ n: 3 });
    await c.db.rows.bulkUpdate([{ key: "a", changes: { n: 4 } }]);
    await c.db.rows.where("id").equals("a").modify((r) => {
      r.n = 5;
    });
    await c.db.transaction("rw", c.db.rows, async () => {
      await c.db.rows.add({ id: "b" });
      await c.db.rows.add({ id: "c" });
      await c.db.rows.delete("b");
    });
    await c.db.rows.clear();
    await c.db.scratch.add({}); // local table: not recorded
    const muts = await outbox(c);
    expect(muts.map((m) => m.mid)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(muts.map((m) => m.ops.map((o) => [o.op, o.key, o.op === "patch" ? o.patch : o.op === "put" ? o.value : null]))).toEqual([
      [["put", "a", { id: "a", n: 1, nested: { a: 1 } }]],
      [["patch", "a", { n: 2, "nested.b": 3 }]],
      [["patch", "a", { n: 3 }]],
      [["patch", "a", { n: 4 }]],
      [["put", "a", { id: "a", n: 5, nested: { a: 1, b: 3 } }]],
      [
        ["put", "b", { id: "b" }],
        ["put", "c", { id: "c" }],
        ["delete", "b", null],
      ],
      [
        ["delete", "a", null],
        ["delete", "c", null],
      ],
    ]);
    expect(muts.every((m) => m.ops.every((o) => o.baseVersion === null))).toBe(true);
    await c.status.when((s) => s.pending === 7);
    c.close();
  });

  test("an aborted transaction leaves no outbox row", async () => {
    const c = open();
    await expect(
      c.db.transaction("rw", c.db.rows, async () => {
        await c.db.rows.put({ id: "x" });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await c.db.rows.count()).toBe(0);
    expect(await outbox(c)).toEqual([]);
    c.close();
  });

  test("@id fills in missing keys and keeps given ones", async () => {
    const c = open();
    const id = await c.db.gen.add({} as Row);
    expect(id).toMatch(/^gne_[0-9A-HJKMNP-TV-Z]{26}$/);
    await c.db.gen.put({ id: "mine" });
    const row = { n: 1 } as Row;
    await c.db.gen.add(row);
    expect(row.id).toMatch(/^gne_/); // Dexie writes the key back onto the object
    expect((await c.db.gen.toCollection().primaryKeys()).sort()).toContain("mine");
    const keys = (await outbox(c)).flatMap((m) => m.ops.map((o) => o.key));
    expect(keys).toEqual([id, "mine", row.id]);
    c.close();
  });

  test("non-string keys on a synced table fail with InvalidKeyError", async () => {
    const c = open();
    await expect(c.db.rows.put({ id: 5 as unknown as string })).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await c.db.rows.count()).toBe(0);
    c.close();
  });

  test("large transactions are split into mutations of at most maxOpsPerMutation ops", async () => {
    const client = new WebHostClient({ apiUrl: "http://127.0.0.1:9", apiKey: "whs_live_x" });
    const c = client.connect<{ rows: EntityTable<Row, "id"> }>({ rows: "id" }, { dbName: `unit-split-${Math.random()}`, autoSync: false, maxOpsPerMutation: 4 });
    await c.db.rows.bulkPut(Array.from({ length: 10 }, (_, i) => ({ id: `r${i}` })));
    const muts = (await c.db.table(OUTBOX_TABLE).orderBy("mid").toArray()) as Mutation[];
    expect(muts.map((m) => m.ops.length)).toEqual([4, 4, 2]);
    c.close();
  });
});
