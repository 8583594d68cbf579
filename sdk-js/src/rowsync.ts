import type Dexie from "dexie";
import type { IndexableType, Table } from "dexie";
import { ForbiddenError, PayloadTooLargeError, UnauthorizedError, WebHostError, NetworkError, RateLimitedError } from "./errors.js";
import { HttpStatusError, requestJSON, type FetchLike } from "./http.js";
import { generateId } from "./ids.js";
import { markApplying, versionKey } from "./middleware.js";
import {
  PATH_LIVE,
  PATH_PULL,
  PATH_PUSH,
  type Change,
  type ErrorBody,
  type Mutation,
  type Op,
  type PullResponse,
  type PushResponse,
  type PushResult,
} from "./protocol.js";
import { decodeKey, META_TABLE, OUTBOX_TABLE, VERSIONS_TABLE, type SyncedTable } from "./schema.js";
import { Observable, type SyncStatus } from "./status.js";

/** The subset of the WebSocket API the SDK needs (browsers' WebSocket and the `ws` package both fit). */
export interface WebSocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Tunables of the row-sync loop; every field has a default. */
export interface RowSyncTiming {
  /** Pull this often even without pokes (ROW-SYNC.md: 60 s). */
  pullIntervalMs: number;
  /** First retry delay after a failure; doubles up to maxBackoffMs. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Timeout of one push or pull request. */
  requestTimeoutMs: number;
  /** Mutations per push (the server's default limit is 500). */
  pushBatchSize: number;
  /** Approximate bytes per push body (the server's default limit is 4 MiB). */
  pushBatchBytes: number;
  /** Changes per pull page (the server clamps to its maximum, 1000 by default). */
  pullLimit: number;
}

export const defaultTiming: RowSyncTiming = {
  pullIntervalMs: 60_000,
  minBackoffMs: 250,
  maxBackoffMs: 30_000,
  requestTimeoutMs: 30_000,
  pushBatchSize: 100,
  pushBatchBytes: 1 << 20,
  pullLimit: 1000,
};

/** A mutation the server refused (validation, scope, size); its effect was rolled back locally. */
export interface RejectedMutation {
  mid: number;
  error: string;
  ops: Op[];
}

export interface RowSyncOptions {
  db: Dexie;
  synced: Map<string, SyncedTable>;
  schemaHash: string;
  syncUrl: string;
  liveUrl: string;
  apiKey: string;
  fetch: FetchLike;
  WebSocket?: WebSocketConstructor;
  timing: RowSyncTiming;
  status: Observable<SyncStatus>;
  onRejected?: (rejected: RejectedMutation[]) => void;
}

/** Stops the loop: the error is not retryable. */
class FatalSync extends Error {
  constructor(readonly error: WebHostError) {
    super(error.message);
  }
}

/**
 * The push/pull loop of row sync (ROW-SYNC.md). It runs when woken: by a
 * local write, a live poke, a (re)connect of the live socket, window focus
 * or coming online, and by a timer. Each round pushes the outbox, then pulls
 * until no page is left, applying pages untracked and rebasing pending local
 * ops on top.
 */
export class RowSync {
  readonly #o: RowSyncOptions;
  readonly #tables: string[];
  #clientId = "";
  /** Highest mid the server has confirmed processing (push or 409); mids above it are (re)sent. */
  #ackedMid = 0;
  #batchSize: number;
  #needsReset = false;
  #wake = false;
  #wakeResolve: (() => void) | null = null;
  #running = false;
  #closed = false;
  #paused = false;
  #fatal: WebHostError | null = null;
  #round = 0;
  #roundWaiters: { round: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #live: WebSocketLike | null = null;
  #liveRetry: ReturnType<typeof setTimeout> | undefined;
  #liveBackoff: number;
  #liveOpen = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #detach: (() => void)[] = [];

  constructor(o: RowSyncOptions) {
    this.#o = o;
    this.#tables = [...o.synced.keys()].sort();
    this.#batchSize = o.timing.pushBatchSize;
    this.#liveBackoff = o.timing.minBackoffMs;
  }

  get clientId(): string {
    return this.#clientId;
  }

  /** Opens the database state (client ID) and starts the loop, the live socket, the timer and the browser listeners. */
  async start(): Promise<void> {
    if (this.#tables.length === 0) {
      this.#setStatus({ phase: "synced" });
      return;
    }
    this.#clientId = await this.#o.db.transaction("rw", META_TABLE, async () => {
      const meta = this.#o.db.table(META_TABLE);
      const row = (await meta.get("clientId")) as { v: string } | undefined;
      if (row) return row.v;
      const id = generateId("c");
      await meta.put({ k: "clientId", v: id });
      return id;
    });
    await this.refreshPending();
    this.#timer = setInterval(() => this.wake(), this.#o.timing.pullIntervalMs);
    this.#attachBrowserEvents();
    this.#connectLive();
    this.wake();
    void this.#loop();
  }

  /** Stops everything; the database stays open (the caller closes it). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#liveRetry);
    clearTimeout(this.#retryTimer);
    for (const d of this.#detach) d();
    this.#detach = [];
    this.#closeLive();
    this.#wakeResolve?.();
    for (const w of this.#roundWaiters.splice(0)) w.reject(new Error("WebHost connection closed"));
  }

  /** Stops network activity (as if offline) until resume(). Local writes keep landing in the outbox. */
  pause(): void {
    this.#paused = true;
    this.#closeLive();
    clearTimeout(this.#liveRetry);
    this.#setStatus({ phase: "offline" });
  }

  /** Resumes after pause(): reconnects the live socket and syncs. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#liveBackoff = this.#o.timing.minBackoffMs;
    this.#connectLive();
    this.wake();
  }

  /** Requests a round (push + pull). */
  wake(): void {
    this.#wake = true;
    clearTimeout(this.#retryTimer);
    this.#wakeResolve?.();
  }

  /**
   * Runs a full round (push, then pull to the end) that starts after this
   * call, and resolves when it has finished. Rejects with the error that
   * stopped sync (401, 403, ...).
   */
  sync(): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#closed) return Promise.reject(new Error("WebHost connection closed"));
    const target = this.#round + 1;
    return new Promise((resolve, reject) => {
      this.#roundWaiters.push({ round: target, resolve, reject });
      this.wake();
    });
  }

  /** Recounts the outbox and publishes the pending count. */
  async refreshPending(): Promise<void> {
    if (this.#closed) return;
    try {
      const pending = await this.#o.db.table(OUTBOX_TABLE).count();
      const cur = this.#o.status.get();
      if (cur.pending !== pending) this.#o.status.set({ ...cur, pending });
    } catch {
      // The database is closing.
    }
  }

  /** Drops pending local mutations (e.g. one too large for the server) and restores the server's state for their rows. */
  async discardPending(mids?: number[]): Promise<void> {
    const outbox = this.#o.db.table(OUTBOX_TABLE);
    if (mids) await outbox.bulkDelete(mids);
    else await outbox.clear();
    this.#needsReset = true;
    if (this.#fatal instanceof PayloadTooLargeError) {
      // The oversized change is gone: start again.
      this.#fatal = null;
      this.#batchSize = this.#o.timing.pushBatchSize;
      this.#setStatus({ phase: "connecting", error: undefined });
      clearInterval(this.#timer);
      this.#timer = setInterval(() => this.wake(), this.#o.timing.pullIntervalMs);
      this.#connectLive();
      void this.#loop();
    }
    await this.refreshPending();
    this.wake();
  }

  /** Stops sync for good with a non-retryable error (e.g. a Yjs document was refused with 4401). */
  fail(error: WebHostError): void {
    if (this.#fatal) return;
    this.#fatal = error;
    this.#closeLive();
    clearTimeout(this.#liveRetry);
    clearInterval(this.#timer);
    this.#setStatus({ phase: "error", error });
    for (const w of this.#roundWaiters.splice(0)) w.reject(error);
    this.#wakeResolve?.();
  }

  get fatalError(): WebHostError | null {
    return this.#fatal;
  }

  #setStatus(patch: Partial<SyncStatus>): void {
    const cur = this.#o.status.get();
    if (this.#fatal && patch.phase !== "error") return;
    const next: SyncStatus = { ...cur, ...patch };
    // A finished round clears the last retryable error; other phases keep it until then.
    if (patch.phase === "synced" || next.error === undefined) delete next.error;
    this.#o.status.set(next);
  }

  async #loop(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    let backoff = this.#o.timing.minBackoffMs;
    let confirmDelay = 10;
    try {
      while (!this.#closed && !this.#fatal) {
        if (!this.#wake || this.#paused) {
          await new Promise<void>((r) => (this.#wakeResolve = r));
          this.#wakeResolve = null;
          continue;
        }
        this.#wake = false;
        const round = ++this.#round;
        try {
          if (this.#o.status.get().phase !== "offline" || isOnline()) this.#setStatus({ phase: "syncing" });
          // A failed push does not hold back the pull: other devices'
          // changes still arrive (pending ops are rebased on them).
          let pushError: unknown;
          try {
            await this.#push();
          } catch (err) {
            if (err instanceof FatalSync) throw err;
            pushError = err;
          }
          await this.#pull();
          if (pushError) throw pushError;
          backoff = this.#o.timing.minBackoffMs;
          if (this.#closed || this.#paused) continue;
          // Pushed but not yet confirmed by a pull (the server's visibility
          // horizon lags the commit while older transactions run): the round
          // is not done. The server pokes once the commit is visible; poll
          // too, in case the poke is lost.
          const unconfirmed = await this.#o.db.table(OUTBOX_TABLE).where("mid").belowOrEqual(this.#ackedMid).count();
          if (unconfirmed > 0) {
            clearTimeout(this.#retryTimer);
            this.#retryTimer = setTimeout(() => this.wake(), confirmDelay);
            confirmDelay = Math.min(confirmDelay * 2, 1000);
            continue;
          }
          confirmDelay = 10;
          if (!this.#wake) this.#setStatus({ phase: "synced", lastSyncedAt: new Date() });
          this.#finishRound(round);
        } catch (err) {
          if (err instanceof FatalSync) {
            this.fail(err.error);
            return;
          }
          if (this.#closed) return;
          const e = err instanceof WebHostError ? err : new WebHostError(String(err), { code: "internal", hint: "Retrying.", retryable: true, cause: err });
          let delay = backoff;
          if (e instanceof RateLimitedError && e.retryAfterSeconds) delay = Math.max(delay, e.retryAfterSeconds * 1000);
          backoff = Math.min(backoff * 2, this.#o.timing.maxBackoffMs);
          this.#setStatus({ phase: e instanceof NetworkError ? "offline" : "connecting", error: e });
          clearTimeout(this.#retryTimer);
          const jitter = 0.8 + Math.random() * 0.4;
          this.#retryTimer = setTimeout(() => this.wake(), delay * jitter);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #finishRound(round: number): void {
    const done = this.#roundWaiters.filter((w) => w.round <= round);
    this.#roundWaiters = this.#roundWaiters.filter((w) => w.round > round);
    for (const w of done) w.resolve();
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    return requestJSON<T>(this.#o.fetch, this.#o.syncUrl + path, this.#o.apiKey, {
      method: "POST",
      body,
      timeoutMs: this.#o.timing.requestTimeoutMs,
    });
  }

  /** Converts an HTTP status into a retryable error or a FatalSync. */
  #classify(err: unknown): unknown {
    if (!(err instanceof HttpStatusError)) return err;
    const e = err.toWebHostError();
    return e.retryable ? e : new FatalSync(e);
  }

  async #push(): Promise<void> {
    const outbox = this.#o.db.table(OUTBOX_TABLE) as Table<Mutation, number>;
    for (;;) {
      if (this.#closed || this.#paused || this.#fatal) return;
      let rows = await outbox.where("mid").above(this.#ackedMid).limit(this.#batchSize).toArray();
      if (rows.length === 0) return;
      let bytes = 0;
      const cut = rows.findIndex((r) => (bytes += JSON.stringify(r).length) > this.#o.timing.pushBatchBytes);
      if (cut > 0) rows = rows.slice(0, cut);
      else if (cut === 0) rows = rows.slice(0, 1);
      const body = {
        v: 1,
        clientId: this.#clientId,
        schemaHash: this.#o.schemaHash,
        mutations: rows.map((r) => ({ mid: r.mid, ts: r.ts, ops: r.ops.map(wireOp) })),
      };
      let res: PushResponse;
      try {
        res = await this.#post<PushResponse>(PATH_PUSH, body);
      } catch (err) {
        if (err instanceof HttpStatusError && err.status === 409) {
          await this.#handleGap(err.body as ErrorBody | undefined);
          continue;
        }
        if (err instanceof HttpStatusError && err.status === 413) {
          if (rows.length > 1) {
            this.#batchSize = Math.max(1, Math.floor(rows.length / 2));
            continue;
          }
          throw new FatalSync(err.toWebHostError());
        }
        throw this.#classify(err);
      }
      this.#ackedMid = Math.max(this.#ackedMid, res.lastMid);
      const rejected = res.results.filter((r: PushResult) => r.status === "rejected");
      if (rejected.length > 0) {
        // The server processed and refused these: drop them, and restore the
        // server's state for their rows by re-reading everything (pending
        // ops are re-applied on top).
        await outbox.bulkDelete(rejected.map((r) => r.mid));
        this.#needsReset = true;
        const byMid = new Map(rows.map((r) => [r.mid, r]));
        this.#o.onRejected?.(rejected.map((r) => ({ mid: r.mid, error: r.error ?? "rejected", ops: byMid.get(r.mid)?.ops ?? [] })));
      }
    }
  }

  /**
   * 409: the server expects mid n next. If the outbox still holds n, resend
   * from there. If the outbox starts above n (the server lost its state, e.g.
   * a restored database), renumber the pending mutations from n.
   */
  async #handleGap(body: ErrorBody | undefined): Promise<void> {
    const expected = body?.expectedMid;
    if (typeof expected !== "number" || expected < 1) {
      throw new FatalSync(new WebHostError("WebHost answered 409 without expectedMid.", { code: "protocol", hint: "Upgrade the SDK or the server.", retryable: false, status: 409 }));
    }
    const db = this.#o.db;
    await db.transaction("rw", [OUTBOX_TABLE, META_TABLE], async () => {
      const outbox = db.table(OUTBOX_TABLE) as Table<Mutation, number>;
      const first = await outbox.orderBy("mid").first();
      if (!first || first.mid <= expected) return;
      const all = await outbox.orderBy("mid").toArray();
      await outbox.clear();
      const renumbered = all.map((m, i) => ({ ...m, mid: expected + i }));
      await outbox.bulkPut(renumbered);
      await db.table(META_TABLE).put({ k: "nextMid", v: expected + all.length });
    });
    this.#ackedMid = expected - 1;
  }

  async #pull(): Promise<void> {
    const db = this.#o.db;
    if (this.#needsReset) {
      await this.#resetLocal();
      this.#needsReset = false;
    }
    for (;;) {
      if (this.#closed || this.#paused || this.#fatal) return;
      const cursorRow = (await db.table(META_TABLE).get("cursor")) as { v: string | null } | undefined;
      let page: PullResponse;
      try {
        page = await this.#post<PullResponse>(PATH_PULL, {
          v: 1,
          clientId: this.#clientId,
          tables: this.#tables,
          cursor: cursorRow?.v ?? null,
          limit: this.#o.timing.pullLimit,
        });
      } catch (err) {
        if (err instanceof HttpStatusError && err.status === 410) {
          await this.#resetLocal();
          continue;
        }
        throw this.#classify(err);
      }
      const applied = await this.#applyPage(page, cursorRow?.v ?? null);
      await this.refreshPending();
      if (applied && !page.hasMore) return;
    }
  }

  /** 410 reset: clear the synced tables and the cursor, keep the outbox and re-apply it, then pull from null. */
  async #resetLocal(): Promise<void> {
    const db = this.#o.db;
    const names = [...this.#tables, OUTBOX_TABLE, META_TABLE, VERSIONS_TABLE];
    await db.transaction("rw", names, async (tx) => {
      markApplying(tx.idbtrans);
      for (const t of this.#tables) await db.table(t).clear();
      await db.table(VERSIONS_TABLE).clear();
      await db.table(META_TABLE).put({ k: "cursor", v: null });
      const pending = (await db.table(OUTBOX_TABLE).orderBy("mid").toArray()) as Mutation[];
      await this.#rebase(pending, null);
    });
  }

  /**
   * Applies one pull page in one transaction the middleware skips (no echo),
   * then rebases pending ops on it. Returns false, applying nothing, when the
   * stored cursor moved since the pull (another tab of the same app applied
   * a page meanwhile): the caller pulls again.
   */
  async #applyPage(page: PullResponse, from: string | null): Promise<boolean> {
    const db = this.#o.db;
    const names = [...this.#tables, OUTBOX_TABLE, META_TABLE, VERSIONS_TABLE];
    return db.transaction("rw", names, async (tx) => {
      markApplying(tx.idbtrans);
      const current = (await db.table(META_TABLE).get("cursor")) as { v: string | null } | undefined;
      if ((current?.v ?? null) !== from) return false;
      const outbox = db.table(OUTBOX_TABLE) as Table<Mutation, number>;
      // Mutations up to lastMid are processed and visible in this page or
      // earlier ones: they leave the outbox.
      await outbox.where("mid").belowOrEqual(page.lastMid).delete();
      if (page.lastMid > this.#ackedMid) this.#ackedMid = page.lastMid;
      const versions = db.table(VERSIONS_TABLE);
      const touched = new Map<string, Change>();
      const puts = new Map<string, { value: unknown; key: IndexableType }[]>();
      const dels = new Map<string, IndexableType[]>();
      const vPuts: { k: string; v: number }[] = [];
      const vDels: string[] = [];
      for (const ch of page.changes) {
        const info = this.#o.synced.get(ch.tbl);
        if (!info) continue;
        const key = decodeKey(info, ch.key);
        touched.set(versionKey(ch.tbl, ch.key), ch);
        if (ch.op === "upsert") {
          let list = puts.get(ch.tbl);
          if (!list) puts.set(ch.tbl, (list = []));
          list.push({ value: ch.value, key });
          vPuts.push({ k: versionKey(ch.tbl, ch.key), v: ch.version });
        } else {
          let list = dels.get(ch.tbl);
          if (!list) dels.set(ch.tbl, (list = []));
          list.push(key);
          vDels.push(versionKey(ch.tbl, ch.key));
        }
      }
      for (const [tbl, list] of dels) await db.table(tbl).bulkDelete(list);
      for (const [tbl, list] of puts) {
        const info = this.#o.synced.get(tbl)!;
        if (info.keyPath === null) await db.table(tbl).bulkPut(list.map((x) => x.value), list.map((x) => x.key) as never);
        else await db.table(tbl).bulkPut(list.map((x) => x.value));
      }
      if (vDels.length) await versions.bulkDelete(vDels);
      if (vPuts.length) await versions.bulkPut(vPuts);
      const pending = (await outbox.orderBy("mid").toArray()) as Mutation[];
      await this.#rebase(pending, touched);
      await db.table(META_TABLE).put({ k: "cursor", v: page.cursor });
      return true;
    });
  }

  /**
   * Re-applies pending local ops on top of server state, by the server's
   * rules, so the local view is what the server will hold once they land:
   * a put or patch based on a row version the server has since deleted is
   * dropped (deletes win), a patch needs a live row, a put with no base
   * version (re)creates the row. touched limits the rebase to the keys of a
   * pulled page (null: every key, after a reset).
   */
  async #rebase(pending: Mutation[], touched: Map<string, Change> | null): Promise<void> {
    const db = this.#o.db;
    const serverDeleted = new Map<string, boolean>();
    for (const m of pending) {
      for (const op of m.ops) {
        const info = this.#o.synced.get(op.tbl);
        if (!info) continue;
        const vk = versionKey(op.tbl, op.key);
        if (touched && !touched.has(vk)) continue;
        if (!serverDeleted.has(vk)) serverDeleted.set(vk, touched?.get(vk)?.op === "delete");
        const table = db.table(op.tbl);
        const key = decodeKey(info, op.key);
        switch (op.op) {
          case "put":
            if (serverDeleted.get(vk) && op.baseVersion !== null) break;
            if (info.keyPath === null) await table.put(op.value, key);
            else await table.put(op.value);
            serverDeleted.set(vk, false);
            break;
          case "patch": {
            const row = await table.get(key);
            if (row === undefined) break;
            for (const [path, value] of Object.entries(op.patch ?? {})) setPath(row, path, value);
            if (info.keyPath === null) await table.put(row, key);
            else await table.put(row);
            break;
          }
          case "delete":
            await table.delete(key);
            serverDeleted.set(vk, true);
            break;
        }
      }
    }
  }

  // --- live pokes -------------------------------------------------------

  #connectLive(): void {
    const WS = this.#o.WebSocket;
    if (!WS || this.#closed || this.#paused || this.#fatal || this.#live) return;
    let ws: WebSocketLike;
    try {
      ws = new WS(`${this.#o.liveUrl}${PATH_LIVE}?token=${encodeURIComponent(this.#o.apiKey)}`);
    } catch {
      this.#scheduleLive();
      return;
    }
    this.#live = ws;
    ws.onopen = () => {
      this.#liveOpen = true;
      this.#liveBackoff = this.#o.timing.minBackoffMs;
      this.wake(); // reconnect: pull what was missed
    };
    // The only message is {"type":"poke"}: a hint to pull.
    ws.onmessage = () => this.wake();
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.#live !== ws) return;
      this.#live = null;
      this.#liveOpen = false;
      if (ev.code === 4401) return this.fail(new UnauthorizedError({ serverMessage: ev.reason }));
      if (ev.code === 4403) return this.fail(new ForbiddenError({ serverMessage: ev.reason }));
      this.#scheduleLive();
      this.wake();
    };
  }

  #scheduleLive(): void {
    if (this.#closed || this.#paused || this.#fatal) return;
    clearTimeout(this.#liveRetry);
    const delay = this.#liveBackoff * (0.8 + Math.random() * 0.4);
    this.#liveBackoff = Math.min(this.#liveBackoff * 2, Math.min(this.#o.timing.maxBackoffMs, 10_000));
    this.#liveRetry = setTimeout(() => this.#connectLive(), delay);
  }

  #closeLive(): void {
    const ws = this.#live;
    this.#live = null;
    this.#liveOpen = false;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.onopen = null;
      try {
        ws.close(1000, "client closed");
      } catch {
        // already closed
      }
    }
  }

  /** Whether the live socket is open (pokes are flowing). */
  get liveConnected(): boolean {
    return this.#liveOpen;
  }

  #attachBrowserEvents(): void {
    const g = globalThis as unknown as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
      document?: { visibilityState?: string; addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };
    };
    if (typeof g.addEventListener !== "function") return;
    const online = () => {
      this.#liveBackoff = this.#o.timing.minBackoffMs;
      clearTimeout(this.#liveRetry);
      this.#connectLive();
      this.wake();
    };
    const offline = () => {
      if (!this.#fatal) this.#setStatus({ phase: "offline" });
    };
    const focus = () => this.wake();
    const visible = () => {
      if (g.document?.visibilityState === "visible") this.wake();
    };
    g.addEventListener("online", online);
    g.addEventListener("offline", offline);
    g.addEventListener("focus", focus);
    g.document?.addEventListener?.("visibilitychange", visible);
    this.#detach.push(() => {
      g.removeEventListener?.("online", online);
      g.removeEventListener?.("offline", offline);
      g.removeEventListener?.("focus", focus);
      g.document?.removeEventListener?.("visibilitychange", visible);
    });
  }
}

function isOnline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine !== false;
}

/** The op as sent: value and patch as JSON, baseVersion always present. */
function wireOp(op: Op): Op {
  const out: Op = { tbl: op.tbl, op: op.op, key: op.key, baseVersion: op.baseVersion ?? null };
  if (op.op === "put") out.value = op.value;
  if (op.op === "patch") out.patch = op.patch;
  return out;
}

/** Sets a dotted key path, creating intermediate objects, as the server merges patches. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== "object") cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
