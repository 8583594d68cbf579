import { vi } from "vitest";
import WebSocket from "ws";
import { WebHostClient, type Connection, type WebSocketConstructor } from "../src/index.js";
import type { SyncServer, TestKey } from "./server.js";
import type { EntityTable } from "dexie";

export interface Post {
  id: string;
  title: string;
  body?: string;
  tags?: string[];
  meta?: Record<string, unknown>;
}
export interface Todo {
  id: string;
  text: string;
  done: number;
}

export type Tables = {
  posts: EntityTable<Post, "id">;
  todos: EntityTable<Todo, "id">;
};

export const schema = { posts: "id, title", todos: "@id, done" };

/** Fast timers so retries after a server restart take milliseconds, not seconds. */
export const fastTiming = { minBackoffMs: 50, maxBackoffMs: 500, pullIntervalMs: 60_000, requestTimeoutMs: 5000 };

/** Counts requests per path, so tests can check what a client sent. */
export class CountingFetch {
  counts = new Map<string, number>();
  bodies: { path: string; body: unknown }[] = [];
  /** Paths whose requests fail as if the network dropped them. */
  blocked = new Set<string>();
  fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const path = new URL(input).pathname;
    if (this.blocked.has(path)) throw new TypeError("fetch failed (blocked by the test)");
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    if (init?.body && typeof init.body === "string") this.bodies.push({ path, body: JSON.parse(init.body) });
    return fetch(input, init);
  };
  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}

/** Counts WebSocket connection attempts. */
export function countingWebSocket(): { WS: WebSocketConstructor; opened: string[] } {
  const opened: string[] = [];
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      opened.push(new URL(url).pathname);
    }
  }
  return { WS: Counting as unknown as WebSocketConstructor, opened };
}

let seq = 0;

/** A device: its own IndexedDB database and client. */
export function device(
  server: SyncServer,
  key: TestKey,
  opts: { dbName?: string; autoSync?: boolean; fetch?: CountingFetch; WS?: WebSocketConstructor; schema?: Record<string, string> } = {},
): Connection<Tables> & { dbName: string } {
  const dbName = opts.dbName ?? `dev-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
  const client = new WebHostClient({
    apiUrl: server.url,
    apiKey: key.token,
    fetch: opts.fetch?.fetch,
    WebSocket: opts.WS ?? (WebSocket as unknown as WebSocketConstructor),
  });
  const conn = client.connect<Tables>(opts.schema ?? schema, { dbName, autoSync: opts.autoSync, timing: fastTiming });
  return Object.assign(conn, { dbName });
}

/** Waits until check passes (vi.waitFor with a generous bound for a loaded CI machine). */
export function eventually<T>(check: () => T | Promise<T>, timeout = 20_000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 25 });
}

export const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => a.id.localeCompare(b.id));
