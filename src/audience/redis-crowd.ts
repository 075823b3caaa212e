/**
 * The Crowd across nodes, on Redis. Each node keeps its own counters (LocalCrowd: the hot path, and
 * the fallback while Redis is away) and once a second sends what it saw, batched per space:
 *
 * - listeners: one PFADD of every identity seen that second into the half-window bucket
 *   `<prefix>hll:<space>:<bucket>` (bucket = wall-clock time / half the window, the same on every
 *   node) and one into `<prefix>hll:<space>:total`. Concurrent listeners = PFCOUNT of the current and
 *   previous buckets together — Redis's own HyperLogLog union, the same estimate and the same
 *   "counted for half a window to a whole window after the last heartbeat" as one node's counter.
 * - reactions: HINCRBY per emoji into `<prefix>reactions:<space>` (seeded, the first time, with what
 *   the space has kept, so the count continues across restarts).
 *
 * then reads every active space's merged counts back in the same round trip. So a join costs Redis
 * nothing of its own: one PFADD a second per space per node, whatever the crowd.
 *
 * Redis away: the counts shown are this node's own added to the last merged value (never lower than
 * they were), what was seen is kept (up to MAX_PENDING identities per space; past that, counted in
 * `dropped`) and sent when Redis is back, so the merged counts reconcile.
 */
import type { Redis } from 'ioredis';
import type { Reaction } from '../control/model.js';
import type { SpaceId } from '../ids.js';
import { type Crowd, LocalCrowd } from './crowd.js';

const MAX_PENDING = 200_000;
/** Identities per PFADD (Redis takes any number; this keeps one command's size sane). */
const CHUNK = 10_000;
/** A space nobody here saw or asked about for this long is no longer read back. */
const IDLE_MS = 60_000;

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

  private key(space: SpaceId, what: string | number): string {
    return `${this.prefix}hll:${space}:${what}`;
  }

  private async flushOnce(): Promise<void> {
    const now = Date.now();
    for (const [space, at] of this.active) if (now - at > IDLE_MS && !this.pending.has(space)) this.active.delete(space);
    const half = this.windowMs / 2;
    const bucket = Math.floor(now / half);
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
        pipeline.pfadd(this.key(space, bucket), ...chunk);
        pipeline.pfadd(this.key(space, 'total'), ...chunk);
        commands += 2;
      }
      if (ids.length > 0) {
        pipeline.pexpire(this.key(space, bucket), this.windowMs + half);
        pipeline.expire(this.key(space, 'total'), 86_400);
        commands += 2;
      }
      if (batch.reactions.size > 0) {
        const args = [...batch.reactions.entries()].flatMap(([emoji, { add, kept }]) => [emoji, String(add), String(kept)]);
        pipeline.eval(ADD_REACTIONS, 1, `${this.prefix}reactions:${space}`, ...args);
        commands++;
      }
    }
    for (const space of reads) {
      pipeline.pfcount(this.key(space, bucket), this.key(space, bucket - 1));
      pipeline.pfcount(this.key(space, 'total'));
      pipeline.hgetall(`${this.prefix}reactions:${space}`);
      commands += 3;
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
    const readsFrom = results.length - reads.length * 3;
    for (const [i, space] of reads.entries()) {
      const listeners = Number(results[readsFrom + i * 3]![1]);
      const total = Number(results[readsFrom + i * 3 + 1]![1]);
      const hash = results[readsFrom + i * 3 + 2]![1] as Record<string, string>;
      const previous = this.merged.get(space);
      const reactions = Object.keys(hash).length > 0 ? Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, Number(v)])) : undefined;
      this.merged.set(space, { listeners, total, peak: Math.max(previous?.peak ?? 0, listeners), reactions });
      this.joinedSince.delete(space);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }
}
