/** Wire types of row sync protocol v1 (shared/ROW-SYNC.md). */

export type OpKind = "put" | "patch" | "delete";

/** One row operation of a mutation. */
export interface Op {
  tbl: string;
  op: OpKind;
  key: string;
  value?: unknown;
  patch?: Record<string, unknown>;
  /** The row version this device last saw; null for a row it did not know. */
  baseVersion: number | null;
}

/** One local transaction, as stored in the outbox and pushed. */
export interface Mutation {
  mid: number;
  ts: number;
  ops: Op[];
}

export interface PushRequest {
  v: 1;
  clientId: string;
  schemaHash: string;
  mutations: Mutation[];
}

export interface PushResult {
  mid: number;
  status: "applied" | "already" | "rejected";
  error?: string;
}

export interface PushResponse {
  lastMid: number;
  results: PushResult[];
}

export interface PullRequest {
  v: 1;
  clientId: string;
  tables: string[];
  cursor: string | null;
  limit: number;
}

export interface Change {
  tbl: string;
  key: string;
  op: "upsert" | "delete";
  value?: unknown;
  version: number;
}

export interface PullResponse {
  changes: Change[];
  cursor: string;
  hasMore: boolean;
  lastMid: number;
}

/** The JSON body of every non-200 row-sync response. */
export interface ErrorBody {
  error?: string;
  message?: string;
  expectedMid?: number;
  lastMid?: number;
  results?: PushResult[];
}

export const PATH_PUSH = "/v1/sync/push";
export const PATH_PULL = "/v1/sync/pull";
export const PATH_LIVE = "/v1/sync/live";
