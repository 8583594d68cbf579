import type { components, paths } from "./api/schema.gen.js";
import { errorForStatus, type WebHostError } from "./errors.js";
import { HttpStatusError, requestJSON, type FetchLike } from "./http.js";

/** Schemas of the control-plane API, generated from its OpenAPI document. */
export type Schemas = components["schemas"];
export type Me = Schemas["Me"];
export type ProfileUpdate = Schemas["ProfileUpdate"];
export type Deployment = Schemas["Deployment"];
export type APIKey = Schemas["APIKey"];
export type NewAPIKeyRequest = Schemas["NewAPIKeyRequest"];
export type NewAPIKeyResponse = Schemas["NewAPIKeyResponse"];
export type AuditEvent = Schemas["Event"];
export type EventPage = Schemas["EventPage"];
export type SignUpRequest = Schemas["SignUpRequest"];
export type SignUpResponse = Schemas["SignUpResponse"];
export type WriteResult = Schemas["WriteResult"];

type Method = "get" | "post" | "patch" | "delete" | "put";
/** Paths that have an operation for method M. */
export type PathsWith<M extends Method> = { [P in keyof paths]: paths[P] extends Record<M, object> ? P : never }[keyof paths];
type Operation<P extends keyof paths, M extends Method> = paths[P] extends Record<M, infer O> ? O : never;
type JSONContent<R> = R extends { content: { "application/json": infer T } } ? T : never;
/** The JSON body of the 200 or 201 answer of an operation. */
export type ResponseOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? R extends { 200: infer OK }
      ? JSONContent<OK>
      : R extends { 201: infer Created }
        ? JSONContent<Created>
        : never
    : never;
/** The JSON request body of an operation. */
export type BodyOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
/** The query parameters of an operation. */
export type QueryOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
/** The path parameters of an operation. */
export type PathParamsOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { path: infer X } } ? (X extends Record<string, unknown> ? X : never) : never;

/** Options of a read: read-your-writes by waiting for a write's position. */
export interface ReadOptions {
  /** A position returned by a write; the server waits (within a bound) until its read models include it. */
  minPosition?: string;
}
/** Options of a write. */
export interface WriteOptions {
  /** Makes a retried write a no-op on the server. */
  idempotencyKey?: string;
}

export interface RestClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

/**
 * A small typed client of the control-plane REST API (the endpoints a
 * customer needs: me, deployments, API keys, the audit feed). Types come
 * from the server's OpenAPI document (src/api/schema.gen.ts). Non-2xx
 * answers throw typed errors: {@link UnauthorizedError} (401),
 * {@link ForbiddenError} (403), {@link PayloadTooLargeError} (413), ...
 */
export class RestClient {
  readonly #o: RestClientOptions;
  constructor(o: RestClientOptions) {
    this.#o = o;
  }

  /** Signs up a new customer (no key needed); the response holds the first API key, shown once. */
  static async signup(apiUrl: string, body: SignUpRequest, opts: WriteOptions & { fetch?: FetchLike } = {}): Promise<SignUpResponse> {
    const f = opts.fetch ?? globalThis.fetch.bind(globalThis);
    return new RestClient({ baseUrl: apiUrl.replace(/\/+$/, ""), apiKey: "", fetch: f }).call("post", "/v1/signup", { body, ...opts });
  }

  /**
   * Calls any operation of the API with typed path parameters, query,
   * body and result, e.g. `call("get", "/v1/deployments/{id}", { path: { id } })`.
   */
  async call<M extends Method, P extends PathsWith<M>>(
    method: M,
    path: P,
    opts: {
      path?: PathParamsOf<P, M>;
      query?: QueryOf<P, M>;
      body?: BodyOf<P, M>;
    } & ReadOptions &
      WriteOptions = {},
  ): Promise<ResponseOf<P, M>> {
    let url = String(path).replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = (opts.path as Record<string, unknown> | undefined)?.[name];
      if (v === undefined || v === null || v === "") throw new TypeError(`${String(path)}: path parameter "${name}" is required`);
      return encodeURIComponent(String(v));
    });
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries((opts.query as Record<string, unknown> | undefined) ?? {})) {
      if (v !== undefined && v !== null) q.set(k, String(v));
    }
    if ([...q.keys()].length > 0) url += `?${q}`;
    const headers: Record<string, string> = {};
    if (opts.minPosition) headers["X-Min-Position"] = opts.minPosition;
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    try {
      return await requestJSON<ResponseOf<P, M>>(this.#o.fetch, this.#o.baseUrl + url, this.#o.apiKey, {
        method: method.toUpperCase(),
        body: opts.body,
        headers,
        timeoutMs: this.#o.timeoutMs ?? 30_000,
      });
    } catch (err) {
      if (err instanceof HttpStatusError) throw toError(err);
      throw err;
    }
  }

  /** GET /v1/me: the customer of the key, its subscription, and the key's scopes. */
  me(opts: ReadOptions = {}): Promise<Me> {
    return this.call("get", "/v1/me", opts);
  }

  /** PATCH /v1/me: changes name, company or e-mail. */
  updateMe(body: ProfileUpdate, opts: WriteOptions = {}): Promise<ResponseOf<"/v1/me", "patch">> {
    return this.call("patch", "/v1/me", { body, ...opts });
  }

  /** Deployments (the customer's backends). */
  readonly deployments = {
    list: async (opts: ReadOptions = {}): Promise<Deployment[]> =>
      (await this.call("get", "/v1/deployments", opts)).deployments ?? [],
    get: (id: string, opts: ReadOptions = {}): Promise<Deployment> =>
      this.call("get", "/v1/deployments/{id}", { path: { id }, ...opts }),
    history: (id: string, query: QueryOf<"/v1/deployments/{id}/history", "get"> = {}, opts: ReadOptions = {}) =>
      this.call("get", "/v1/deployments/{id}/history", { path: { id }, query, ...opts }),
  };

  /** API keys of the customer. Creating one returns the key itself, once. */
  readonly apiKeys = {
    list: async (opts: ReadOptions = {}): Promise<APIKey[]> => (await this.call("get", "/v1/api-keys", opts)).api_keys ?? [],
    create: (body: NewAPIKeyRequest, opts: WriteOptions = {}): Promise<NewAPIKeyResponse> =>
      this.call("post", "/v1/api-keys", { body, ...opts }),
    revoke: (id: string, opts: WriteOptions = {}) => this.call("delete", "/v1/api-keys/{id}", { path: { id }, ...opts }),
  };

  /** The tenant's audit feed, oldest first, cursor-paged. */
  readonly events = {
    list: (query: QueryOf<"/v1/events", "get"> = {}, opts: ReadOptions = {}): Promise<EventPage> =>
      this.call("get", "/v1/events", { query, ...opts }),
  };

  /** Iterates over the whole audit feed: `for await (const e of client.api.allEvents()) …`. */
  async *allEvents(query: QueryOf<"/v1/events", "get"> = {}, opts: ReadOptions = {}): AsyncGenerator<AuditEvent> {
    let cursor = query.cursor;
    for (;;) {
      const page = await this.call("get", "/v1/events", { query: { ...query, cursor }, ...opts });
      for (const e of page.events ?? []) yield e;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }
}

function toError(err: HttpStatusError): WebHostError {
  return errorForStatus(err.status, err.body as never, err.retryAfterSeconds);
}
