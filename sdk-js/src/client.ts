import Dexie, { type DexieOptions, type Table } from "dexie";
import { WebHostError } from "./errors.js";
import { toHttpURL, toWebSocketURL, type FetchLike } from "./http.js";
import { createSyncMiddleware } from "./middleware.js";
import { RestClient } from "./rest.js";
import { defaultTiming, RowSync, type RejectedMutation, type RowSyncTiming, type WebSocketConstructor } from "./rowsync.js";
import { parseSchema } from "./schema.js";
import { Observable, type SyncStatus } from "./status.js";
import { createDoc, type WebHostDoc } from "./ydoc.js";

/** Options of {@link WebHostClient}. */
export interface WebHostClientOptions {
  /** The control-plane API, e.g. "https://api.example.webhost.systems". */
  apiUrl: string;
  /** The sync server (row sync and Yjs); defaults to apiUrl. http(s) or ws(s). */
  syncUrl?: string;
  /** An API key ("whs_live_…"). Keys with the write scope can push; read keys only pull. */
  apiKey: string;
  /** fetch implementation (default: globalThis.fetch). */
  fetch?: FetchLike;
  /** WebSocket implementation (default: globalThis.WebSocket; on Node 20 pass the `ws` package's WebSocket). */
  WebSocket?: WebSocketConstructor;
}

/** Options of {@link WebHostClient.connect}. */
export interface ConnectOptions {
  /** IndexedDB database name (one per app and user/device profile). Default "webhost". */
  dbName?: string;
  /** Dexie schema version; raise it when the schema changes. Default 1. */
  version?: number;
  /** Tables that stay on this device and are not synced. */
  localTables?: string[];
  /** Dexie options, e.g. { indexedDB, IDBKeyRange } for fake-indexeddb in tests. */
  dexie?: DexieOptions;
  /** Start syncing at once (default true); false starts paused until connection.resume(). */
  autoSync?: boolean;
  /** Tunables of the sync loop (timers, batch sizes). */
  timing?: Partial<RowSyncTiming>;
  /** Ops per outbox mutation before one transaction is split into several (server limit: 1000). Default 500. */
  maxOpsPerMutation?: number;
  /** Share Yjs updates between tabs over BroadcastChannel (default: true in browsers, false elsewhere). */
  broadcastChannel?: boolean;
  /** Called with mutations the server rejected (their local effects are rolled back). */
  onRejected?: (rejected: RejectedMutation[]) => void;
}

/** A Dexie database whose tables are typed by T. */
export type WebHostDexie<T> = Dexie & { [K in keyof T]: T[K] };

/** What connect() returns. */
export interface Connection<T> {
  /** The Dexie database; its synced tables sync with WebHost. */
  db: WebHostDexie<T>;
  /** A Y.Doc synced with WebHost and persisted offline; the same instance per name until destroyed. */
  doc(name: string): WebHostDoc;
  /** Sync status: phase and pending change count. */
  status: Observable<SyncStatus>;
  /** Runs a full push + pull round now; rejects with the error that stopped sync (401, 403, ...). */
  sync(): Promise<void>;
  /** Stops network activity (rows and documents) as if offline; local writes continue. */
  pause(): void;
  /** Resumes after pause(). */
  resume(): void;
  /** Drops pending local changes (all, or the given mids) and restores the server's state. */
  discardPending(mids?: number[]): Promise<void>;
  /** The client ID this database pushes as (persisted in the database). */
  readonly clientId: string;
  /** Stops syncing, destroys documents and closes the database. */
  close(): void;
}

/**
 * The WebHost SDK entry point:
 *
 * ```ts
 * const client = new WebHostClient({ apiUrl, apiKey });
 * const { db, doc } = client.connect({ posts: "@id, createdAt" });
 * ```
 */
export class WebHostClient {
  readonly apiUrl: string;
  readonly syncUrl: string;
  /** The typed REST client for the control plane (me, deployments, API keys, events). */
  readonly api: RestClient;
  readonly #apiKey: string;
  readonly #fetch: FetchLike;
  readonly #WebSocket?: WebSocketConstructor;

  constructor(opts: WebHostClientOptions) {
    if (!opts || typeof opts.apiUrl !== "string" || opts.apiUrl === "") throw new TypeError("WebHostClient: apiUrl is required");
    if (typeof opts.apiKey !== "string" || opts.apiKey === "") throw new TypeError("WebHostClient: apiKey is required");
    this.apiUrl = toHttpURL(opts.apiUrl);
    this.syncUrl = toHttpURL(opts.syncUrl ?? opts.apiUrl);
    this.#apiKey = opts.apiKey;
    const f = opts.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    if (!f) throw new TypeError("WebHostClient: no fetch available; pass options.fetch");
    this.#fetch = f as FetchLike;
    this.#WebSocket = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.api = new RestClient({ baseUrl: this.apiUrl, apiKey: opts.apiKey, fetch: this.#fetch });
  }

  /**
   * Opens a Dexie database with the given schema (Dexie's syntax; "@id"
   * for generated global IDs) and starts syncing its tables. Throws
   * {@link AutoIncrementKeyError} for a synced table with a "++" key.
   */
  connect<T = Record<string, Table>>(schema: Record<string, string | null>, options: ConnectOptions = {}): Connection<T> {
    const parsed = parseSchema(schema, options.localTables);
    const dbName = options.dbName ?? "webhost";
    const status = new Observable<SyncStatus>({ phase: "connecting", pending: 0 });
    const timing: RowSyncTiming = { ...defaultTiming, ...options.timing };
    const db = new Dexie(dbName, options.dexie) as WebHostDexie<T>;
    let engine: RowSync | null = null;
    db.use(
      createSyncMiddleware({
        synced: parsed.synced,
        maxOpsPerMutation: options.maxOpsPerMutation ?? 500,
        onCommitted: () => {
          if (!engine) return;
          void engine.refreshPending();
          engine.wake();
        },
      }),
    );
    db.version(options.version ?? 1).stores(parsed.dexieStores);

    const WS = this.#WebSocket;
    const wsUrl = toWebSocketURL(this.syncUrl);
    engine = new RowSync({
      db,
      synced: parsed.synced,
      schemaHash: parsed.schemaHash,
      syncUrl: this.syncUrl,
      liveUrl: wsUrl,
      apiKey: this.#apiKey,
      fetch: this.#fetch,
      WebSocket: WS,
      timing,
      status,
      onRejected: options.onRejected,
    });
    const rows = engine;
    const docs = new Map<string, WebHostDoc>();
    let paused = options.autoSync === false;
    let closed = false;
    const inBrowser = typeof (globalThis as { window?: unknown }).window !== "undefined";

    const started = db.open().then(
      async () => {
        if (closed) return;
        await rows.start();
        if (paused) rows.pause();
      },
      (err: unknown) => {
        rows.fail(new WebHostError(`Opening the local database "${dbName}" failed: ${String(err)}.`, {
          code: "local_database",
          hint: "Check that IndexedDB is available (private browsing modes may disable it) and that the schema version was raised after a schema change.",
          retryable: false,
          cause: err,
        }));
      },
    );

    const connection: Connection<T> = {
      db,
      status,
      get clientId() {
        return rows.clientId;
      },
      doc: (name: string) => {
        if (closed) throw new Error("WebHost connection closed");
        let d = docs.get(name);
        if (d) return d;
        if (!WS) throw new TypeError("WebHostClient: no WebSocket available; pass options.WebSocket (e.g. the ws package on Node 20)");
        d = createDoc({
          name,
          storeName: `${dbName}/yjs/${name}`,
          wsUrl,
          apiKey: this.#apiKey,
          WebSocket: WS,
          broadcastChannel: options.broadcastChannel ?? inBrowser,
          maxBackoffMs: Math.min(timing.maxBackoffMs, 10_000),
          connect: !paused && !rows.fatalError,
          onFatal: (err) => {
            if (err.code === "unauthorized" || err.code === "forbidden") {
              rows.fail(err);
              for (const other of docs.values()) other.provider.disconnect();
            }
          },
          onDestroy: () => docs.delete(name),
        });
        docs.set(name, d);
        return d;
      },
      sync: async () => {
        await started;
        return rows.sync();
      },
      pause: () => {
        paused = true;
        rows.pause();
        for (const d of docs.values()) d.provider.disconnect();
      },
      resume: () => {
        if (!paused) return;
        paused = false;
        rows.resume();
        if (!rows.fatalError) for (const d of docs.values()) d.provider.connect();
      },
      discardPending: async (mids?: number[]) => {
        await started;
        await rows.discardPending(mids);
      },
      close: () => {
        if (closed) return;
        closed = true;
        rows.close();
        for (const d of [...docs.values()]) d.destroy();
        db.close();
      },
    };
    // A key the server refuses stops documents too: no reconnect attempts.
    status.subscribe((s) => {
      if (s.phase === "error" && (s.error?.code === "unauthorized" || s.error?.code === "forbidden")) {
        for (const d of docs.values()) if (d.provider.shouldConnect) d.provider.disconnect();
      }
    });
    // Browsers: follow the network for documents too (y-websocket only reconnects after a close).
    if (inBrowser) {
      const g = globalThis as unknown as {
        addEventListener: (t: string, f: () => void) => void;
        removeEventListener: (t: string, f: () => void) => void;
      };
      const online = () => {
        if (!paused && !closed && !rows.fatalError) for (const d of docs.values()) if (!d.provider.wsconnected) d.provider.connect();
      };
      g.addEventListener("online", online);
      const close = connection.close;
      connection.close = () => {
        g.removeEventListener("online", online);
        close();
      };
    }
    return connection;
  }
}
