/**
 * The Crowd across nodes, on Redis. Each node keeps its own counters (LocalCrowd: the hot path, and
 * the fallback while Redis is away) and once a second sends what it saw, batched per space:
 *
 * - listeners: every identity seen that second goes, in one script call, into the slice's sketch
 *   `<prefix>{<space>}:hll:<bucket>` (bucket = wall-clock time / a 24th of the window, the same on
 *   every node) and into `<prefix>{<space>}:hll:total`. Concurrent listeners = PFCOUNT of the last
 *   24 buckets together — Redis's own HyperLogLog union, the same estimate and the same "counted for
 *   23/24 of a window to a whole window after the last heartbeat" as one node's counter.
 * - reactions: HINCRBY per emoji into `<prefix>{<space>}:reactions` (seeded, the first time, with what
 *   the space has kept, so the count continues across restarts).
 *
 * then reads every active space's merged counts back (one script call each) in the same round trip.
 * So a join costs Redis nothing of its own: at most two commands a second per space per node,
 * whatever the crowd.
 *
 * Redis away: the counts shown are this node's own added to the last merged value (never lower than
 * they were), what was seen is kept (up to MAX_PENDING identities per space; past that, counted in
 * `dropped`) and sent when Redis is back, so the merged counts reconcile.
 */
import type { Redis } from 'ioredis';
import type { Reaction } from '../control/model.js';
import type { SpaceId } from '../ids.js';
import { type Crowd, LocalCrowd } from './crowd.js';
import { SLICES } from './listener-counter.js';

const MAX_PENDING = 200_000;
/** Identities per script call (Lua's unpack takes about 8,000 at most). */
const CHUNK = 5_000;
/** A space nobody here saw or asked about for this long is no longer read back. */
const IDLE_MS = 60_000;

/** Adds a second's identities to the slice's sketch and the total's, and keeps each for as long as it counts. */
const ADD_SIGHTINGS = `
redis.call('PFADD', KEYS[1], unpack(ARGV, 2))
redis.call('PFADD', KEYS[2], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], 86400)
return 1`;

/** A space's merged counts in one round trip: listeners (the last 24 slices' union), total unique, reaction totals. */
const READ = `
local n = #KEYS
return { redis.call('PFCOUNT', unpack(KEYS, 1, n - 2)), redis.call('PFCOUNT', KEYS[n - 1]), redis.call('HGETALL', KEYS[n]) }`;

/** Seeds the reaction hash with what the space kept, once; then adds this node's increments. */
const ADD_REACTIONS = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 1, #ARGV, 3 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) end
end
for i = 1, #ARGV, 3 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], 86400)
return 1`;

interface Pending {
  ids: Set<string>;
  reactions: Map<string, { add: number; kept: number }>;
}

interface Merged {
  listeners: number;
  total: number;
  peak: number;
  reactions: Record<string, number> | undefined;
}

export interface RedisCrowdOptions {
  /** Counting window, ms (ROSTRUM_LISTENER_WINDOW). */
  windowMs: number;
  /** How often batches go out, ms. Default 1000. */
  flushMs?: number;
  prefix?: string;
}

export class RedisCrowd implements Crowd {
  readonly kind = 'redis';
  private readonly local: LocalCrowd;
  private readonly pending = new Map<SpaceId, Pending>();
  private readonly merged = new Map<SpaceId, Merged>();
  /** Spaces seen or asked about here, and when last. */
  private readonly active = new Map<SpaceId, number>();
  /** Joins here since the last merged read, per space (shown at once, before the next read). */
  private readonly joinedSince = new Map<SpaceId, number>();
  private readonly windowMs: number;
  private readonly prefix: string;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  /** Commands sent to Redis (bench: operations per join), identities dropped while Redis was away too long. */
  readonly stats = { commands: 0, flushes: 0, dropped: 0 };

  constructor(
    private readonly redis: Redis,
    options: RedisCrowdOptions,
  ) {
    this.windowMs = options.windowMs;
    this.prefix = options.prefix ?? 'rostrum:';
    this.local = new LocalCrowd(options.windowMs);
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 1000);
    this.timer.unref();
  }

  private batch(space: SpaceId): Pending {
    let p = this.pending.get(space);
    if (!p) {
      p = { ids: new Set(), reactions: new Map() };
      this.pending.set(space, p);
    }
    return p;
  }

  seen(space: SpaceId, identity: string, now: number, joined: boolean): void {
    this.local.seen(space, identity, now, joined);
    this.active.set(space, now);
    const ids = this.batch(space).ids;
    if (ids.size < MAX_PENDING) ids.add(identity);
    else this.stats.dropped++;
    if (joined) this.joinedSince.set(space, (this.joinedSince.get(space) ?? 0) + 1);
  }

  react(space: SpaceId, emoji: Reaction, kept: Readonly<Record<string, number>>): void {
    this.local.react(space, emoji, kept);
    this.active.set(space, Date.now());
    const r = this.batch(space).reactions;
    const entry = r.get(emoji) ?? { add: 0, kept: kept[emoji] ?? 0 };
    entry.add++;
    r.set(emoji, entry);
    const m = this.merged.get(space);
    if (m?.reactions) m.reactions[emoji] = (m.reactions[emoji] ?? 0) + 1; // shown at once here
  }

  listeners(space: SpaceId, now: number): number {
    this.active.set(space, now);
    const m = this.merged.get(space);
    const local = this.local.listeners(space, now);
    if (!m) return local;
    return Math.max(local, m.listeners + (this.joinedSince.get(space) ?? 0));
  }

  tallies(space: SpaceId, now: number): { peak: number; total: number } {
    const local = this.local.tallies(space, now);
    const m = this.merged.get(space);
    if (!m) return local;
    return { peak: Math.max(local.peak, m.peak), total: Math.max(local.total, m.total) };
  }

  reactions(space: SpaceId): Readonly<Record<string, number>> | undefined {
    return this.merged.get(space)?.reactions ?? this.local.reactions(space);
  }

  onNode(now: number): number {
    return this.local.onNode(now);
  }

  forget(space: SpaceId): void {
    this.local.forget(space);
    this.pending.delete(space);
    this.merged.delete(space);
    this.active.delete(space);
    this.joinedSince.delete(space);
  }

  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Every key of a space shares its hash tag ({space}): one script may touch them all, on Redis Cluster too. */
  private key(space: SpaceId, what: string | number): string {
    return `${this.prefix}{${space}}:${what}`;
  }

  private async flushOnce(): Promise<void> {
    const now = Date.now();
    for (const [space, at] of this.active) if (now - at > IDLE_MS && !this.pending.has(space)) this.active.delete(space);
    const slice = this.windowMs / SLICES;
    const bucket = Math.floor(now / slice);
    const sent = [...this.pending.entries()];
    const reads = [...this.active.keys()];
    if (sent.length === 0 && reads.length === 0) return;
    this.pending.clear();
    const pipeline = this.redis.pipeline();
    let commands = 0;
    for (const [space, batch] of sent) {
      const ids = [...batch.ids];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        pipeline.eval(
          ADD_SIGHTINGS,
          2,
          this.key(space, `hll:${bucket}`),
          this.key(space, 'hll:total'),
          Math.ceil(this.windowMs + slice),
          ...chunk,
        );
        commands++;
      }
      if (batch.reactions.size > 0) {
        const args = [...batch.reactions.entries()].flatMap(([emoji, { add, kept }]) => [emoji, String(add), String(kept)]);
        pipeline.eval(ADD_REACTIONS, 1, this.key(space, 'reactions'), ...args);
        commands++;
      }
    }
    for (const space of reads) {
      const buckets = Array.from({ length: SLICES }, (_, i) => this.key(space, `hll:${bucket - i}`));
      pipeline.eval(READ, SLICES + 2, ...buckets, this.key(space, 'hll:total'), this.key(space, 'reactions'));
      commands++;
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch {
      results = null;
    }
    this.stats.commands += commands;
    this.stats.flushes++;
    if (!results || results.some(([err]) => err)) {
      // Redis away: keep what was seen for the next round (bounded), show this node's own meanwhile.
      for (const [space, batch] of sent) {
        const p = this.batch(space);
        for (const id of batch.ids) {
          if (p.ids.size < MAX_PENDING) p.ids.add(id);
          else this.stats.dropped++;
        }
        for (const [emoji, r] of batch.reactions) {
          const e = p.reactions.get(emoji) ?? { add: 0, kept: r.kept };
          e.add += r.add;
          p.reactions.set(emoji, e);
        }
      }
      return;
    }
    const readsFrom = results.length - reads.length;
    for (const [i, space] of reads.entries()) {
      const [listeners, total, flat] = results[readsFrom + i]![1] as [number, number, string[]];
      const previous = this.merged.get(space);
      const reactions: Record<string, number> = {};
      for (let k = 0; k < flat.length; k += 2) reactions[flat[k]!] = Number(flat[k + 1]);
      this.merged.set(space, {
        listeners: Number(listeners),
        total: Number(total),
        peak: Math.max(previous?.peak ?? 0, Number(listeners)),
        reactions: flat.length > 0 ? reactions : undefined,
      });
      this.joinedSince.delete(space);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }
}
