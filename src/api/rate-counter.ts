/**
 * Fixed-window request counters for the rate limits, in this process: per key, the requests in its
 * current window; the keys whose windows began first are forgotten beyond a bound, so an attack from many
 * addresses cannot grow it without limit. Written here rather than using @fastify/rate-limit's
 * per-route check: that check (asynchronous, generic) cost about 10 µs a join — joins/s went from
 * 26 k to 21 k with the join limit on, same server build, same run — and the join is a flash crowd's
 * hot path. This is a Map lookup and no promise.
 */

/** A rate limit's counts: this node's alone (RateCounter), or shared between nodes (shared-rate-counter.ts). */
export interface RateCounting {
  /** Counts a request for `key` at `now` (ms): 0 when it is allowed, else the ms until it may come back. */
  hit(key: string, now: number): number;
  /** Keys remembered now. */
  readonly size: number;
}

/** Makes a limit's counter: `max` requests per `windowMs`, at most `capacity` keys remembered. */
export type RateCounterFactory = (name: string, max: number, windowMs: number, capacity: number) => RateCounting;

export const localRateCounter: RateCounterFactory = (_name, max, windowMs, capacity) => new RateCounter(max, windowMs, capacity);

interface Window {
  requests: number;
  endsAt: number;
}

export class RateCounter implements RateCounting {
  /**
   * By key, the oldest window first: a Map keeps insertion order, and a key is re-inserted only
   * when its window starts again, so the first forgotten is the window that ends soonest (moving
   * a key to the end on every hit cost more than the rest of the check).
   */
  private readonly windows = new Map<string, Window>();

  constructor(
    /** Requests allowed per window. */
    private readonly max: number,
    private readonly windowMs: number,
    /** Keys remembered at most. */
    private readonly capacity: number,
  ) {}

  /** Counts a request for `key` at `now` (ms): 0 when it is allowed, else the ms until its window ends. */
  hit(key: string, now: number): number {
    let window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      if (window !== undefined) this.windows.delete(key);
      window = { requests: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
      if (this.windows.size > this.capacity) this.windows.delete(this.windows.keys().next().value!);
      // Windows that are over are forgotten as new ones begin (two for each: the map shrinks back to
      // the keys in use), not only past the bound — a long run of short-lived keys (every listener's
      // token) otherwise keeps every one of them until the bound is reached.
      for (let i = 0; i < 2; i++) {
        const oldest = this.windows.entries().next().value;
        if (oldest === undefined || oldest[1].endsAt > now) break;
        this.windows.delete(oldest[0]);
      }
    }
    window.requests++;
    return window.requests > this.max ? window.endsAt - now : 0;
  }

  /** Keys remembered now. */
  get size(): number {
    return this.windows.size;
  }
}
