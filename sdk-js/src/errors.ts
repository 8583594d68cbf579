/**
 * Typed errors of the WebHost SDK. Every error the SDK reports is a
 * {@link WebHostError}; the subclasses say what happened and, in `hint`,
 * what to do about it.
 */

/** Base class of every error the SDK reports. */
export class WebHostError extends Error {
  /** Machine-readable code, stable across releases (e.g. "unauthorized"). */
  readonly code: string;
  /** HTTP status that caused the error, if any. */
  readonly status?: number;
  /** What the application (or its user) should do about it. */
  readonly hint: string;
  /** Whether the SDK keeps retrying on its own (false: sync has stopped). */
  readonly retryable: boolean;
  /** The server's error code and message, when it sent one. */
  readonly serverCode?: string;
  readonly serverMessage?: string;

  constructor(
    message: string,
    opts: {
      code: string;
      hint: string;
      retryable: boolean;
      status?: number;
      serverCode?: string;
      serverMessage?: string;
      cause?: unknown;
    },
  ) {
    super(`${message} ${opts.hint}`.trim(), opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.code = opts.code;
    this.hint = opts.hint;
    this.retryable = opts.retryable;
    this.status = opts.status;
    this.serverCode = opts.serverCode;
    this.serverMessage = opts.serverMessage;
  }
}

interface ServerDetail {
  status?: number;
  serverCode?: string;
  serverMessage?: string;
}

/** 401: the API key is missing, malformed, expired or revoked. Sync stops. */
export class UnauthorizedError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super("WebHost rejected the API key (401): it is invalid, expired or revoked.", {
      code: "unauthorized",
      hint:
        "Sync has stopped. Create a new key in the WebHost dashboard (or with POST /v1/api-keys), " +
        "pass it as `apiKey` to a new WebHostClient and connect again. Local changes are kept and will be pushed then.",
      retryable: false,
      status: 401,
      ...detail,
    });
  }
}

/** 403: the key is valid but lacks the scope or tenant for the call. Sync stops. */
export class ForbiddenError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super("WebHost refused the request (403): the API key is not allowed to do this.", {
      code: "forbidden",
      hint:
        "Sync has stopped. Use a key with the `write` scope to push changes (read-only keys can only pull), " +
        "and make sure the key belongs to this project's customer.",
      retryable: false,
      status: 403,
      ...detail,
    });
  }
}

/** 413: a request was larger than the server accepts. */
export class PayloadTooLargeError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super("WebHost refused a request as too large (413).", {
      code: "payload_too_large",
      hint:
        "The SDK already splits batches; this means a single transaction is bigger than the server's limit. " +
        "Write fewer rows per transaction, or keep large values (files, images) outside synced tables. " +
        "Sync has stopped until the oversized change is removed from the outbox (connection.discardPending()).",
      retryable: false,
      status: 413,
      ...detail,
    });
  }
}

/** 412: the server does not accept this app's schema version. */
export class SchemaMismatchError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super("WebHost does not accept this app's database schema (412).", {
      code: "schema_mismatch",
      hint: "Sync has stopped. Upgrade the app to the version the server expects (reload the page).",
      retryable: false,
      status: 412,
      ...detail,
    });
  }
}

/** 400: the SDK sent something the server considers malformed. */
export class BadRequestError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super(`WebHost rejected a malformed request (400)${detail.serverMessage ? `: ${detail.serverMessage}` : ""}.`, {
      code: "bad_request",
      hint:
        "Sync has stopped. Check that every synced table exists on the server and that values are plain JSON; " +
        "if the problem persists, upgrade @webhost.systems/client.",
      retryable: false,
      status: 400,
      ...detail,
    });
  }
}

/** 404: the resource does not exist (or belongs to another customer). */
export class NotFoundError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super(`WebHost found no such resource (404)${detail.serverMessage ? `: ${detail.serverMessage}` : ""}.`, {
      code: "not_found",
      hint: "Check the ID; resources of other customers are reported as not found.",
      retryable: false,
      status: 404,
      ...detail,
    });
  }
}

/** 409 from the REST API: the write conflicts with the current state (e.g. already revoked). */
export class ConflictError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super(`WebHost refused a conflicting change (409)${detail.serverMessage ? `: ${detail.serverMessage}` : ""}.`, {
      code: "conflict",
      hint: "Reload the resource and retry if the change still makes sense.",
      retryable: false,
      status: 409,
      ...detail,
    });
  }
}

/** 429 or 503: the server is overloaded; the SDK backs off and retries. */
export class RateLimitedError extends WebHostError {
  /** Seconds the server asked to wait (Retry-After), if given. */
  readonly retryAfterSeconds?: number;
  constructor(detail: ServerDetail & { retryAfterSeconds?: number } = {}) {
    super(`WebHost is busy (${detail.status ?? 429}).`, {
      code: "rate_limited",
      hint: "The SDK backs off and retries on its own; nothing to do unless it persists (then write less often).",
      retryable: true,
      ...detail,
    });
    this.retryAfterSeconds = detail.retryAfterSeconds;
  }
}

/** 5xx: a server error; the SDK retries with backoff (pushes are idempotent). */
export class ServerError extends WebHostError {
  constructor(detail: ServerDetail = {}) {
    super(`WebHost had a server error (${detail.status ?? 500}).`, {
      code: "server_error",
      hint: "The SDK retries with backoff; nothing is lost.",
      retryable: true,
      ...detail,
    });
  }
}

/** The server could not be reached (offline, DNS, connection refused). */
export class NetworkError extends WebHostError {
  constructor(cause?: unknown) {
    super("WebHost could not be reached.", {
      code: "network",
      hint: "Changes are kept locally and pushed when the connection is back.",
      retryable: true,
      cause,
    });
  }
}

/** A synced table declares an auto-increment primary key (`++id`). */
export class AutoIncrementKeyError extends WebHostError {
  /** The table whose schema is at fault. */
  readonly table: string;
  constructor(table: string, spec: string) {
    super(
      `Table "${table}" is synced, so its primary key must be unique across devices, but "${spec}" is an auto-increment key (++), which collides when two devices add rows.`,
      {
        code: "auto_increment_key",
        hint:
          `Declare it as "@${spec.replace(/^\+\+/, "") || "id"}" to let the SDK generate global IDs (like "pst_01J…"), ` +
          `or as "${spec.replace(/^\+\+/, "") || "id"}" and set a unique ID yourself (e.g. crypto.randomUUID()); ` +
          `or list the table in connect(schema, { localTables: ["${table}"] }) to keep it on this device only.`,
        retryable: false,
      },
    );
    this.table = table;
  }
}

/** A key of a synced table is not a string (or an array of strings and numbers). */
export class InvalidKeyError extends WebHostError {
  constructor(table: string, key: unknown) {
    super(`Table "${table}" is synced, but the primary key ${safeString(key)} is not a string.`, {
      code: "invalid_key",
      hint: 'Use string keys on synced tables (or "@id" for generated IDs); compound keys may hold strings and numbers.',
      retryable: false,
    });
  }
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Builds the typed error for an HTTP response status. */
export function errorForStatus(
  status: number,
  body: { error?: string; message?: string; detail?: string; title?: string } | undefined,
  retryAfterSeconds?: number,
): WebHostError {
  const detail: ServerDetail = {
    status,
    serverCode: body?.error ?? body?.title,
    serverMessage: body?.message ?? body?.detail,
  };
  switch (status) {
    case 400:
    case 422:
      return new BadRequestError(detail);
    case 401:
      return new UnauthorizedError(detail);
    case 403:
      return new ForbiddenError(detail);
    case 404:
      return new NotFoundError(detail);
    case 409:
      return new ConflictError(detail);
    case 412:
      return new SchemaMismatchError(detail);
    case 413:
      return new PayloadTooLargeError(detail);
    case 429:
    case 503:
      return new RateLimitedError({ ...detail, retryAfterSeconds });
    default:
      if (status >= 500) return new ServerError(detail);
      return new WebHostError(`WebHost answered ${status}${detail.serverMessage ? `: ${detail.serverMessage}` : ""}.`, {
        code: "http_error",
        hint: "Sync has stopped; please report this with the message above.",
        retryable: false,
        ...detail,
      });
  }
}
