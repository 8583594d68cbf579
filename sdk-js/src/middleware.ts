import Dexie, { cmp } from "dexie";
import type { DBCore, DBCoreMutateRequest, DBCoreMutateResponse, DBCoreTable, DBCoreTransaction, Middleware } from "dexie";
import { generateId } from "./ids.js";
import type { Op } from "./protocol.js";
import { encodeKey, META_TABLE, OUTBOX_TABLE, VERSIONS_TABLE, type SyncedTable } from "./schema.js";

/** Transactions in which server changes are applied: the middleware lets them through untracked (no echo). */
const applyingTransactions = new WeakSet<object>();

/** Marks a transaction as applying server changes. */
export function markApplying(trans: object): void {
  applyingTransactions.add(trans);
}

/** The key of a row in the versions table. */
export function versionKey(tbl: string, key: string): string {
  return `${tbl}\u0000${key}`;
}

interface PendingMutation {
  mid: number;
  ts: number;
  ops: Op[];
}

export interface MiddlewareOptions {
  synced: Map<string, SyncedTable>;
  /** Ops per outbox mutation before a transaction is split (server default limit: 1000). */
  maxOpsPerMutation: number;
  /** Called once per tracked transaction, after it commits. */
  onCommitted: () => void;
}

/**
 * The DBCore middleware that writes the outbox: every add, put, update,
 * modify and delete on a synced table adds its ops to one outbox mutation
 * per transaction, in the same IndexedDB transaction, so an aborted
 * transaction loses both. It also fills in "@id" keys and widens every
 * read-write transaction on a synced table to include the SDK's tables.
 */
export function createSyncMiddleware(opts: MiddlewareOptions): Middleware<DBCore> {
  const { synced } = opts;
  const perTransaction = new WeakMap<object, PendingMutation>();

  return {
    stack: "dbcore",
    name: "webhost-sync",
    create(down: DBCore): DBCore {
      const outbox = () => down.table(OUTBOX_TABLE);
      const meta = () => down.table(META_TABLE);
      const versions = () => down.table(VERSIONS_TABLE);

      async function record(trans: DBCoreTransaction, ops: Op[]): Promise<void> {
        if (ops.length === 0) return;
        // Base versions: the server version of each row as this device last
        // saw it. A delete forgets it, so a later put re-creates the row.
        const vkeys = ops.map((o) => versionKey(o.tbl, o.key));
        const known = await versions().getMany({ trans, keys: vkeys });
        const forget: string[] = [];
        ops.forEach((o, i) => {
          o.baseVersion = (known[i] as { v: number } | undefined)?.v ?? null;
          if (o.op === "delete") forget.push(vkeys[i]!);
        });
        if (forget.length > 0) await versions().mutate({ trans, type: "delete", keys: forget });

        let pending = perTransaction.get(trans);
        if (!pending) {
          const t = trans as unknown as EventTarget;
          if (typeof t.addEventListener === "function") t.addEventListener("complete", () => opts.onCommitted());
        }
        const dirty = new Set<PendingMutation>();
        for (const op of ops) {
          if (!pending || pending.ops.length >= opts.maxOpsPerMutation) {
            const next = (await meta().get({ trans, key: "nextMid" })) as { v: number } | undefined;
            const mid = next?.v ?? 1;
            await meta().mutate({ trans, type: "put", values: [{ k: "nextMid", v: mid + 1 }] });
            pending = { mid, ts: Date.now(), ops: [] };
            perTransaction.set(trans, pending);
          }
          pending.ops.push(op);
          dirty.add(pending);
        }
        const rows = [...dirty].map((m) => ({ mid: m.mid, ts: m.ts, ops: m.ops }));
        await outbox().mutate({ trans, type: "put", values: rows });
      }

      function wrapTable(table: DBCoreTable, info: SyncedTable): DBCoreTable {
        const pk = table.schema.primaryKey;
        const keyOf = (value: unknown, i: number, keys: readonly unknown[] | undefined | null): unknown =>
          keys && keys[i] !== undefined ? keys[i] : pk.extractKey ? pk.extractKey(value) : undefined;

        const withIds = (values: readonly unknown[], keys: readonly unknown[] | undefined | null): readonly unknown[] => {
          if (!info.generateId || pk.outbound || typeof info.keyPath !== "string") return values;
          const keyPath = info.keyPath;
          return values.map((v, i) => {
            if (keyOf(v, i, keys) != null) return v;
            const copy = Dexie.deepClone(v as object) as object;
            Dexie.setByKeyPath(copy, keyPath, generateId(info.idPrefix));
            return copy;
          });
        };

        const succeeded = (res: DBCoreMutateResponse, i: number) => !(res.failures && i in res.failures);

        return {
          ...table,
          async mutate(req: DBCoreMutateRequest): Promise<DBCoreMutateResponse> {
            if (applyingTransactions.has(req.trans)) return table.mutate(req);
            const ops: Op[] = [];
            switch (req.type) {
              case "add": {
                const values = withIds(req.values, req.keys);
                const keys = values.map((v, i) => keyOf(v, i, req.keys));
                const wireKeys = keys.map((k) => (k === undefined ? undefined : encodeKey(info, k)));
                const res = await table.mutate({ ...req, values });
                values.forEach((v, i) => {
                  if (!succeeded(res, i)) return;
                  const key = wireKeys[i] ?? encodeKey(info, res.results?.[i]);
                  ops.push({ tbl: info.name, op: "put", key, value: v, baseVersion: null });
                });
                await record(req.trans, ops);
                return res;
              }
              case "put": {
                const values = withIds(req.values, req.keys);
                const keys = values.map((v, i) => keyOf(v, i, req.keys));
                const wireKeys = keys.map((k) => encodeKey(info, k));
                const res = await table.mutate({ ...req, values });
                values.forEach((v, i) => {
                  if (!succeeded(res, i)) return;
                  const fields = changedFields(req, keys[i]);
                  if (fields && fields.length > 0) {
                    const patch: Record<string, unknown> = {};
                    for (const f of fields) {
                      const value = Dexie.getByKeyPath(v as object, f);
                      patch[f] = value === undefined ? null : value;
                    }
                    ops.push({ tbl: info.name, op: "patch", key: wireKeys[i]!, patch, baseVersion: null });
                  } else {
                    ops.push({ tbl: info.name, op: "put", key: wireKeys[i]!, value: v, baseVersion: null });
                  }
                });
                await record(req.trans, ops);
                return res;
              }
              case "delete": {
                const wireKeys = req.keys.map((k) => encodeKey(info, k));
                const res = await table.mutate(req);
                wireKeys.forEach((key, i) => {
                  if (succeeded(res, i)) ops.push({ tbl: info.name, op: "delete", key, baseVersion: null });
                });
                await record(req.trans, ops);
                return res;
              }
              case "deleteRange": {
                const found = await table.query({
                  trans: req.trans,
                  values: false,
                  query: { index: pk, range: req.range },
                });
                const res = await table.mutate(req);
                for (const k of found.result) ops.push({ tbl: info.name, op: "delete", key: encodeKey(info, k), baseVersion: null });
                await record(req.trans, ops);
                return res;
              }
            }
          },
        };
      }

      return {
        ...down,
        transaction(stores, mode, options) {
          if (mode === "readwrite" && stores.some((s) => synced.has(s))) {
            const all = new Set([...stores, OUTBOX_TABLE, META_TABLE, VERSIONS_TABLE]);
            return down.transaction([...all], mode, options);
          }
          return down.transaction(stores, mode, options);
        },
        table(name: string): DBCoreTable {
          const table = down.table(name);
          const info = synced.get(name);
          return info ? wrapTable(table, info) : table;
        },
      };
    },
  };
}

/**
 * The fields a put changed, when it came from update()/modify() with a
 * change object (sent as a patch: last write wins per field); undefined for
 * a whole-row put. Upserts are sent as puts, since the row may not exist.
 */
function changedFields(req: Extract<DBCoreMutateRequest, { type: "put" }>, key: unknown): string[] | undefined {
  if (req.upsert) return undefined;
  if (req.changeSpec && typeof req.changeSpec === "object") return Object.keys(req.changeSpec);
  if (req.updates) {
    const i = req.updates.keys.findIndex((k) => cmp(k, key) === 0);
    if (i >= 0) return Object.keys(req.updates.changeSpecs[i] ?? {});
  }
  return undefined;
}
