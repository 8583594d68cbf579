import type { IndexableType } from "dexie";
import { AutoIncrementKeyError, InvalidKeyError } from "./errors.js";

/** Names of the SDK's own tables, kept next to the app's tables. */
export const OUTBOX_TABLE = "_whOutbox";
export const META_TABLE = "_whMeta";
export const VERSIONS_TABLE = "_whVersions";
export const INTERNAL_TABLES = [OUTBOX_TABLE, META_TABLE, VERSIONS_TABLE] as const;

/** How one synced table's primary key is shaped. */
export interface SyncedTable {
  name: string;
  /** Key path(s) of the primary key; null for outbound keys. */
  keyPath: string | string[] | null;
  compound: boolean;
  /** The SDK generates the key (schema "@id"). */
  generateId: boolean;
  /** Prefix of generated keys, e.g. "pst" for "posts". */
  idPrefix: string;
}

/** The schema passed to connect(), split into what Dexie and the SDK need. */
export interface ParsedSchema {
  /** Stores for Dexie's version().stores(), with "@" markers removed and the SDK's tables added. */
  dexieStores: Record<string, string>;
  synced: Map<string, SyncedTable>;
  /** Identifies the synced schema; sent with every push as schemaHash. */
  schemaHash: string;
}

/**
 * Parses a Dexie schema. Synced tables may not use auto-increment keys
 * ("++id" throws {@link AutoIncrementKeyError}); "@id" makes the SDK
 * generate globally unique IDs. Tables in localTables stay on the device.
 */
export function parseSchema(schema: Record<string, string | null>, localTables: readonly string[] = []): ParsedSchema {
  const dexieStores: Record<string, string> = {};
  const synced = new Map<string, SyncedTable>();
  const local = new Set(localTables);
  for (const [name, spec] of Object.entries(schema)) {
    if ((INTERNAL_TABLES as readonly string[]).includes(name)) {
      throw new Error(`Table name "${name}" is reserved by @webhost.systems/client.`);
    }
    if (spec === null) {
      dexieStores[name] = spec as unknown as string; // deletes the table in Dexie
      continue;
    }
    const parts = spec.split(",").map((s) => s.trim());
    const primary = parts[0] ?? "";
    if (local.has(name)) {
      if (primary.startsWith("@")) throw new Error(`Local table "${name}" cannot use "@" keys; "@" is for synced tables.`);
      dexieStores[name] = spec;
      continue;
    }
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) || name.length > 63) {
      throw new Error(`Synced table name "${name}" must be an identifier of at most 63 characters.`);
    }
    if (primary.startsWith("++")) throw new AutoIncrementKeyError(name, primary);
    let generateId = false;
    let pk = primary;
    if (pk.startsWith("@")) {
      generateId = true;
      pk = pk.slice(1);
      if (pk === "" || pk.startsWith("[")) {
        throw new Error(`Table "${name}": "@" needs a single key path, e.g. "@id".`);
      }
    }
    pk = pk.replace(/^&/, "");
    let keyPath: string | string[] | null;
    let compound = false;
    if (pk === "") keyPath = null;
    else if (pk.startsWith("[") && pk.endsWith("]")) {
      keyPath = pk.slice(1, -1).split("+").map((s) => s.trim());
      compound = true;
    } else keyPath = pk;
    parts[0] = pk;
    dexieStores[name] = parts.join(",");
    synced.set(name, { name, keyPath, compound, generateId, idPrefix: idPrefix(name) });
  }
  dexieStores[OUTBOX_TABLE] = "mid";
  dexieStores[META_TABLE] = "k";
  dexieStores[VERSIONS_TABLE] = "k";
  const canonical = [...synced.keys()]
    .sort()
    .map((n) => `${n}:${dexieStores[n]}`)
    .join(";");
  return { dexieStores, synced, schemaHash: `v1-${hash53(canonical)}` };
}

/** A short prefix for generated keys: the first letter and the next consonants, e.g. posts → "pst". */
export function idPrefix(table: string): string {
  const letters = table.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (letters === "") return "row";
  let out = letters[0]!;
  for (const ch of letters.slice(1)) {
    if (out.length >= 3) break;
    if (!"aeiou".includes(ch)) out += ch;
  }
  for (const ch of letters.slice(1)) {
    if (out.length >= 3) break;
    if ("aeiou".includes(ch)) out += ch;
  }
  return out;
}

/** Encodes a Dexie primary key as the wire key: strings as they are, compound keys as canonical JSON arrays. */
export function encodeKey(table: SyncedTable, key: unknown): string {
  if (table.compound) {
    if (!Array.isArray(key) || key.some((k) => typeof k !== "string" && (typeof k !== "number" || !Number.isFinite(k)))) {
      throw new InvalidKeyError(table.name, key);
    }
    return JSON.stringify(key);
  }
  if (typeof key !== "string" || key === "") throw new InvalidKeyError(table.name, key);
  return key;
}

/** Decodes a wire key back into a Dexie key. */
export function decodeKey(table: SyncedTable, key: string): IndexableType {
  return table.compound ? JSON.parse(key) : key;
}

/** cyrb53: a fast, well-mixed 53-bit string hash (not cryptographic), as hex. */
function hash53(str: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}
