/**
 * Rate limits across nodes. The edge spreads one address's requests over every node, so limits
 * counted on each node alone would let an address do N times its limit. Asking Redis on every
 * request would put a round trip on the join's hot path (it is synchronous, see rate-counter.ts).
 * So each node counts locally, as alone, and shares only the keys that could matter: a key with
 * `syncFrom` requests in its window on this node (syncFrom ≈ limit ÷ 2 × nodes, at least 2) is
 * "hot", and every 250 ms the node adds its hot keys' new requests to a counter in Redis (one
 * script call per batch) and learns the cluster's total. A key's verdict is its local count plus
 * the other nodes' count as last learnt. A listener's join or heartbeat (one or two a window) never
 * touches Redis; an address hammering the cluster is counted cluster-wide within 250 ms. Before a
 * key is hot, all nodes together allow it fewer than limit ÷ 2 requests, so the overshoot is
 * bounded by what arrives in one sync interval.
 *
 * Redis away: every node goes on limiting with its own counts (and the others' as last learnt);
 * the requests counted meanwhile are added when Redis is back, if their window still runs.
 */
import type { Redis } from 'ioredis';
import type { RateCounterFactory, RateCounting } from './rate-counter.js';

const SYNC_MS = 250;
/** Keys per script call. */
const BATCH = 500;

/**
 * KEYS: the counters; ARGV: [windowMs, delta1, delta2, …]. Adds each delta (a counter's window
 * starts with its first request: it expires windowMs later) and returns, per key, its total and
 * the ms its window has left.
 */
const ADD = `
local out = {}
for i, key in ipairs(KEYS) do
  local total = redis.call('INCRBY', key, tonumber(ARGV[i + 1]))
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = total
  out[#out + 1] = ttl
end
return out`;

interface SharedWindow {
  requests: number;
  endsAt: number;
  /** Of this window's requests, those already added to the cluster's counter. */
  synced: number;
  /** The other nodes' requests in the cluster's window, as last learnt, and until when that holds. */
  others: number;
  othersUntil: number;
}

export class SharedRateCounter implements RateCounting {
  private readonly windows = new Map<string, SharedWindow>();
  /** Hot keys with requests not yet shared. */
  readonly dirty = new Set<string>();

  constructor(
    readonly name: string,
    private readonly max: number,
    readonly windowMs: number,
    private readonly capacity: number,
    /** Local requests in a window from which a key is shared. */
    private readonly syncFrom: () => number,
  ) {}

  hit(key: string, now: number): number {
    let window = this.windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      if (window !== undefined) this.windows.delete(key);
      window = {
        requests: 0,
        endsAt: now + this.windowMs,
        synced: 0,
        others: window?.othersUntil && window.othersUntil > now ? window.others : 0,
        othersUntil: window?.othersUntil ?? 0,
      };
      this.windows.set(key, window);
      if (this.windows.size > this.capacity) {
        const oldest = this.windows.keys().next().value!;
        this.windows.delete(oldest);
        this.dirty.delete(oldest);
      }
    }
    window.requests++;
    if (window.requests < this.syncFrom()) return 0;
    this.dirty.add(key);
    const others = window.othersUntil > now ? window.others : 0;
    if (window.requests + others <= this.max) return 0;
    return Math.max(1, Math.min(window.endsAt, others > 0 ? window.othersUntil : window.endsAt) - now);
  }

  get size(): number {
    return this.windows.size;
  }

  /** The hot keys' unshared requests, taken for a sync (given back by `unsent` if it fails). */
  take(): Array<{ key: string; delta: number }> {
    const out: Array<{ key: string; delta: number }> = [];
    for (const key of this.dirty) {
      const window = this.windows.get(key);
      if (window && window.requests > window.synced) {
        out.push({ key, delta: window.requests - window.synced });
        window.synced = window.requests;
      }
    }
    this.dirty.clear();
    return out;
  }

  /** A sync failed: its requests are shared with the next one (if their window still runs here). */
  unsent(batch: Array<{ key: string; delta: number }>): void {
    for (const { key, delta } of batch) {
      const window = this.windows.get(key);
      if (!window) continue;
      window.synced = Math.max(0, window.synced - delta);
      this.dirty.add(key);
    }
  }

  /** What the cluster's counter said after this node's requests were added. */
  learnt(key: string, total: number, ttlMs: number, now: number): void {
    const window = this.windows.get(key);
    if (!window) return;
    window.others = Math.max(0, total - window.synced);
    window.othersUntil = now + ttlMs;
  }
}

/** Shares every SharedRateCounter of a node through Redis, every 250 ms. */
export class RedisRateSync {
  private readonly counters: SharedRateCounter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  /** Script calls made and failed (Redis away): the bench and the tests read them. */
  readonly stats = { calls: 0, keys: 0, failures: 0 };

  constructor(
    private readonly redis: Redis,
    /** How many nodes share the limits now (for when a key is hot). */
    private readonly nodes: () => number,
    private readonly prefix = 'rostrum:rl:',
    syncMs = SYNC_MS,
  ) {
    redis.defineCommand('rostrumRateAdd', { lua: ADD });
    if (syncMs > 0) {
      this.timer = setInterval(() => void this.sync(), syncMs);
      this.timer.unref();
    }
  }

  readonly factory: RateCounterFactory = (name, max, windowMs, capacity) => {
    const counter = new SharedRateCounter(name, max, windowMs, capacity, () =>
      Math.max(2, Math.ceil(max / (2 * Math.max(1, this.nodes())))),
    );
    this.counters.push(counter);
    return counter;
  };

  /** Shares the hot keys' new requests and learns the cluster's totals. */
  async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      for (const counter of this.counters) {
        const batch = counter.take();
        for (let at = 0; at < batch.length; at += BATCH) {
          const part = batch.slice(at, at + BATCH);
          const keys = part.map((e) => `${this.prefix}${counter.name}:${e.key}`);
          try {
            this.stats.calls++;
            this.stats.keys += part.length;
            const out = (await (this.redis as unknown as RateAdd).rostrumRateAdd(
              keys.length,
              ...keys,
              counter.windowMs,
              ...part.map((e) => e.delta),
            )) as number[];
            const now = Date.now();
            for (const [i, e] of part.entries()) counter.learnt(e.key, out[2 * i]!, out[2 * i + 1]!, now);
          } catch {
            this.stats.failures++;
            counter.unsent(batch.slice(at));
            break;
          }
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}

interface RateAdd {
  rostrumRateAdd(numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}
