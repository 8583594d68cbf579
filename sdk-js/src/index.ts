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
  NotFoundError,
  ConflictError,
  RateLimitedError,
  ServerError,
  NetworkError,
  AutoIncrementKeyError,
  InvalidKeyError,
} from "./errors.js";
export type { RejectedMutation, RowSyncTiming, WebSocketLike, WebSocketConstructor } from "./rowsync.js";
export { RestClient } from "./rest.js";
export type {
  Schemas,
  Me,
  ProfileUpdate,
  Deployment,
  APIKey,
  NewAPIKeyRequest,
  NewAPIKeyResponse,
  AuditEvent,
  EventPage,
  SignUpRequest,
  SignUpResponse,
  WriteResult,
  ReadOptions,
  WriteOptions,
  ResponseOf,
  BodyOf,
  QueryOf,
  PathParamsOf,
  PathsWith,
} from "./rest.js";
export type { paths as ApiPaths, components as ApiComponents } from "./api/schema.gen.js";
export { generateId } from "./ids.js";
export type { Op, Mutation, Change } from "./protocol.js";
