import { errorForStatus, NetworkError, WebHostError } from "./errors.js";

/** The fetch function the SDK uses (the global one by default). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A non-2xx answer, with its parsed body, before it becomes a typed error. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown> | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }

  toWebHostError(): WebHostError {
    return errorForStatus(this.status, this.body as never, this.retryAfterSeconds);
  }
}

/**
 * POSTs or GETs JSON with the API key as a Bearer token. Network failures
 * become {@link NetworkError}; non-2xx answers {@link HttpStatusError}.
 */
export async function requestJSON<T>(
  fetchImpl: FetchLike,
  url: string,
  apiKey: string,
  init: { method: string; body?: unknown; timeoutMs: number; signal?: AbortSignal; headers?: Record<string, string> },
): Promise<T> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? anySignal([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: init.method,
      headers: {
        ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
        Accept: "application/json, application/problem+json",
        ...init.headers,
        ...(init.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal,
    });
  } catch (err) {
    throw new NetworkError(err);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new NetworkError(err);
  }
  let parsed: unknown;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    const ra = Number(res.headers.get("Retry-After"));
    throw new HttpStatusError(
      res.status,
      parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : undefined,
      Number.isFinite(ra) && ra > 0 ? ra : undefined,
    );
  }
  return parsed as T;
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const ctrl = new AbortController();
  for (const s of signals) {
    if (s.aborted) ctrl.abort(s.reason);
    else s.addEventListener("abort", () => ctrl.abort(s.reason), { once: true });
  }
  return ctrl.signal;
}

/** Turns an http(s) or ws(s) base URL into its ws(s) form, without a trailing slash. */
export function toWebSocketURL(base: string): string {
  return trimSlash(base.replace(/^http(s?):\/\//i, "ws$1://"));
}

/** Turns an http(s) or ws(s) base URL into its http(s) form, without a trailing slash. */
export function toHttpURL(base: string): string {
  return trimSlash(base.replace(/^ws(s?):\/\//i, "http$1://"));
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, "");
}
