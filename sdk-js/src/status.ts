import type { WebHostError } from "./errors.js";

/** Where sync stands. */
export type SyncPhase = "offline" | "connecting" | "syncing" | "synced" | "error";

/** A snapshot of the sync status. */
export interface SyncStatus {
  phase: SyncPhase;
  /** Local changes not yet confirmed by the server. */
  pending: number;
  /** The error behind phase "error" (sync stopped) or the last retryable one. */
  error?: WebHostError;
  /** When the last pull finished with nothing left to fetch. */
  lastSyncedAt?: Date;
}

/** An observer of status changes, in the shape RxJS and Dexie's liveQuery use. */
export type Observer<T> = ((value: T) => void) | { next?: (value: T) => void };

/** Returned by subscribe(); also callable as a function for Svelte-style stores. */
export interface Subscription {
  unsubscribe(): void;
  readonly closed: boolean;
}

/**
 * A value that changes over time: `get()` reads it, `subscribe()` calls the
 * observer at once with the current value and then on every change. It is
 * compatible with Svelte stores, RxJS `from()` and React's
 * useSyncExternalStore (via subscribe + get).
 */
export class Observable<T> {
  #value: T;
  #observers = new Set<(value: T) => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  get(): T {
    return this.#value;
  }

  subscribe(observer: Observer<T>): Subscription {
    const fn = typeof observer === "function" ? observer : (v: T) => observer.next?.(v);
    this.#observers.add(fn);
    let closed = false;
    fn(this.#value);
    return {
      unsubscribe: () => {
        closed = true;
        this.#observers.delete(fn);
      },
      get closed() {
        return closed;
      },
    };
  }

  /** Resolves with the first value for which predicate holds (now or later). */
  when(predicate: (value: T) => boolean): Promise<T> {
    return new Promise((resolve) => {
      const sub = this.subscribe((v) => {
        if (predicate(v)) {
          queueMicrotask(() => sub.unsubscribe());
          resolve(v);
        }
      });
    });
  }

  /** @internal */
  set(value: T): void {
    this.#value = value;
    for (const fn of [...this.#observers]) {
      try {
        fn(value);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  [Symbol.for("observable")]() {
    return this;
  }
}
