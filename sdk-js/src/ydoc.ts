import * as Y from "yjs";
import { IndexeddbPersistence } from "y-indexeddb";
import { WebsocketProvider } from "y-websocket";
import { ForbiddenError, UnauthorizedError, WebHostError } from "./errors.js";
import type { WebSocketConstructor } from "./rowsync.js";

/** A Y.Doc synced with WebHost and persisted on the device. */
export interface WebHostDoc extends Y.Doc {
  /** Resolves once the document has synced with the server (after loading local state). */
  readonly whenSynced: Promise<void>;
  /** Resolves once the locally persisted state (IndexedDB) is loaded. */
  readonly whenLoaded: Promise<void>;
  /** The y-websocket provider (awareness, connection status). */
  readonly provider: WebsocketProvider;
  /** The y-indexeddb persistence. */
  readonly persistence: IndexeddbPersistence;
  /** Disconnects, closes the local store and destroys the Y.Doc. Local data is kept. */
  destroy(): void;
}

export interface DocOptions {
  name: string;
  /** Name of the IndexedDB database the document is stored in. */
  storeName: string;
  wsUrl: string;
  apiKey: string;
  WebSocket: WebSocketConstructor;
  /** Share updates between tabs of the same origin over BroadcastChannel. */
  broadcastChannel: boolean;
  maxBackoffMs: number;
  connect: boolean;
  onFatal: (err: WebHostError) => void;
  onDestroy: () => void;
}

/** Creates a Y.Doc synced through y-websocket (wsUrl/sync/<name>, token param) and persisted with y-indexeddb. */
export function createDoc(o: DocOptions): WebHostDoc {
  const doc = new Y.Doc();
  const persistence = new IndexeddbPersistence(o.storeName, doc);
  const provider = new WebsocketProvider(`${o.wsUrl}/sync`, o.name, doc, {
    connect: false,
    params: { token: o.apiKey },
    WebSocketPolyfill: o.WebSocket as unknown as typeof WebSocket,
    disableBc: !o.broadcastChannel,
    maxBackoffTime: o.maxBackoffMs,
  });
  let settle: { resolve: () => void; reject: (e: unknown) => void };
  const whenSynced = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  whenSynced.catch(() => {});
  const whenLoaded = persistence.whenSynced.then(() => undefined);
  const onSync = (synced: boolean) => {
    if (synced) settle.resolve();
  };
  provider.on("sync", onSync);
  provider.on("closed", (ev: { code: number; reason: string }) => {
    const err =
      ev.code === 4401
        ? new UnauthorizedError({ serverMessage: ev.reason })
        : ev.code === 4403
          ? new ForbiddenError({ serverMessage: ev.reason })
          : new WebHostError(`WebHost closed document "${o.name}" (${ev.code}${ev.reason ? `: ${ev.reason}` : ""}).`, {
              code: "document_closed",
              hint: "Document names must be non-empty UTF-8 within the server's length limit.",
              retryable: false,
            });
    settle.reject(err);
    o.onFatal(err);
  });
  // Connect once local state is loaded, so the first sync sends offline edits.
  void whenLoaded.then(() => {
    if (o.connect && !destroyed) provider.connect();
  });

  let destroyed = false;
  const destroyDoc = doc.destroy.bind(doc);
  Object.defineProperties(doc, {
    whenSynced: { value: whenSynced },
    whenLoaded: { value: whenLoaded },
    provider: { value: provider },
    persistence: { value: persistence },
  });
  (doc as WebHostDoc).destroy = () => {
    if (destroyed) return;
    destroyed = true;
    provider.off("sync", onSync);
    provider.destroy();
    void persistence.destroy();
    settle.reject(new Error(`document "${o.name}" destroyed`));
    o.onDestroy();
    destroyDoc();
  };
  return doc as WebHostDoc;
}
