import { errorForStatus, type WebHostError } from "./errors.js";
import { HttpStatusError, requestJSON, type FetchLike } from "./http.js";

export interface RestClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch: FetchLike;
  timeoutMs?: number;
}

/** The control-plane REST client. */
export class RestClient {
  readonly #o: RestClientOptions;
  constructor(o: RestClientOptions) {
    this.#o = o;
  }

  /** Calls an endpoint; non-2xx answers throw typed errors (401, 403, 413, ...). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await requestJSON<T>(this.#o.fetch, this.#o.baseUrl + path, this.#o.apiKey, {
        method,
        body,
        timeoutMs: this.#o.timeoutMs ?? 30_000,
      });
    } catch (err) {
      if (err instanceof HttpStatusError) throw toError(err);
      throw err;
    }
  }
}

function toError(err: HttpStatusError): WebHostError {
  return errorForStatus(err.status, err.body as never, err.retryAfterSeconds);
}
