/**
 * @webhost.systems/client: offline-first sync of Dexie tables (row sync
 * protocol v1) and Yjs documents (y-websocket) with a WebHost backend.
 */
export { WebHostClient } from "./client.js";
export type { WebHostClientOptions, ConnectOptions, Connection, WebHostDexie } from "./client.js";
export type { WebHostDoc } from "./ydoc.js";
export { Observable } from "./status.js";
export type { SyncStatus, SyncPhase, Observer, Subscription } from "./status.js";
export {
  WebHostError,
  UnauthorizedError,
  ForbiddenError,
  PayloadTooLargeError,
  SchemaMismatchError,
  BadRequestError,
  RateLimitedError,
  ServerError,
  NetworkError,
  AutoIncrementKeyError,
  InvalidKeyError,
} from "./errors.js";
export type { RejectedMutation, RowSyncTiming, WebSocketLike, WebSocketConstructor } from "./rowsync.js";
export { RestClient } from "./rest.js";
export { generateId } from "./ids.js";
export type { Op, Mutation, Change } from "./protocol.js";
