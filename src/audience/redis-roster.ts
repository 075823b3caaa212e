/**
 * The Roster across nodes, on Redis: per space, `<prefix>{<space>}:roster:joined` (a sorted set by
 * join time), `…:names` (a hash) and `…:seen` (a sorted set by last sighting). A node sends what it
 * saw once a second, batched per space: named joins (ZADD NX: a join keeps its first time while it
 * is listed), and every sighting as a `ZADD XX` into `seen` — only for names already there, and only
 * when the space has any: one EXISTS per space a second decides, so an anonymous crowd's heartbeats
 * never go to Redis a second time (the Crowd sends them already). A page is read newest first from `joined`,
 * filtered on `seen` being within the window; names gone quiet are removed as they are met.
 */
import type { Redis } from 'ioredis';
import type { Identity, SpaceId } from '../ids.js';
import { afterCursor, cursorOf, parseCursor, type Roster, type RosterEntry, type RosterPage } from './roster.js';

const CHUNK = 5_000;
const MAX_PENDING = 200_000;

/** Sightings (ARGV: now, identities…) into `seen`, for names already listed; nothing if none is. */
const SIGHTINGS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #ARGV do redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[i]) end
return 1`;

/** A named join (ARGV: at, cutoff, identity, name): its first time kept while it is listed; new again once it went quiet. */
const JOIN = `
local last = redis.call('ZSCORE', KEYS[3], ARGV[3])
if last and tonumber(last) >= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[3])
else
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], 86400) end
return 1`;

interface Pending {
  joins: Map<Identity, { name: string; at: number }>;
  seen: Set<Identity>;
  lastAt: number;
}

export class RedisRoster implements Roster {
  readonly kind = 'redis';
  private pending = new Map<SpaceId, Pending>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly windowMs: number,
    private readonly prefix = 'rostrum:',
    flushMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  private keys(space: SpaceId) {
    const base = `${this.prefix}{${space}}:roster:`;
    return { joined: `${base}joined`, names: `${base}names`, seen: `${base}seen` };
  }

  private batch(space: SpaceId): Pending {
    let p = this.pending.get(space);
    if (!p) {
      p = { joins: new Map(), seen: new Set(), lastAt: 0 };
      this.pending.set(space, p);
    }
    return p;
  }

  joined(space: SpaceId, identity: Identity, name: string, now: number): void {
    const p = this.batch(space);
    p.joins.set(identity, { name, at: now });
    p.lastAt = Math.max(p.lastAt, now);
  }

  seen(space: SpaceId, identity: Identity, now: number): void {
    const p = this.batch(space);
    if (p.seen.size < MAX_PENDING) p.seen.add(identity);
    p.lastAt = Math.max(p.lastAt, now);
  }

  /** Sends what was batched. A batch that fails is dropped: sightings come again within the window. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async send(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    // Which spaces have named listeners at all: the others' sightings (anonymous crowds) never leave this node.
    const spaces = [...batch.keys()];
    const named = await this.redis
      .pipeline(spaces.map((space) => ['exists', this.keys(space).joined]))
      .exec()
      .catch(() => null);
    const pipeline = this.redis.pipeline();
    spaces.forEach((space, i) => {
      const p = batch.get(space)!;
      const k = this.keys(space);
      for (const [identity, { name, at }] of p.joins) {
        pipeline.eval(JOIN, 3, k.joined, k.names, k.seen, at, at - this.windowMs, identity, name);
      }
      if (p.joins.size === 0 && named?.[i]?.[1] !== 1) return;
      const seen = [...p.seen];
      for (let j = 0; j < seen.length; j += CHUNK) pipeline.eval(SIGHTINGS, 2, k.joined, k.seen, p.lastAt, ...seen.slice(j, j + CHUNK));
    });
    if (pipeline.length > 0) await pipeline.exec().catch(() => undefined);
  }

  async list(space: SpaceId, now: number, limit: number, after?: string): Promise<RosterPage> {
    await this.flush();
    const k = this.keys(space);
    const cutoff = now - this.windowMs;
    const cursor = parseCursor(after);
    const found: RosterEntry[] = [];
    const gone: Identity[] = [];
    // Newest first from the cursor's time down, in batches; the quiet ones are removed after.
    const max = cursor ? String(cursor.joinedAt) : '+inf';
    const batchSize = Math.max(50, (limit + 1) * 2);
    for (let offset = 0, round = 0; round < 50 && found.length <= limit; round++, offset += batchSize) {
      const raw = await this.redis.zrevrangebyscore(k.joined, max, '-inf', 'WITHSCORES', 'LIMIT', offset, batchSize);
      if (raw.length === 0) break;
      const rows: Array<{ identity: Identity; joinedAt: number }> = [];
      for (let i = 0; i < raw.length; i += 2) rows.push({ identity: raw[i] as Identity, joinedAt: Number(raw[i + 1]) });
      const [seen, names] = await Promise.all([
        this.redis.zmscore(k.seen, ...rows.map((r) => r.identity)),
        this.redis.hmget(k.names, ...rows.map((r) => r.identity)),
      ]);
      rows.forEach((r, i) => {
        const last = seen[i] === null || seen[i] === undefined ? 0 : Number(seen[i]);
        if (last < cutoff) gone.push(r.identity);
        else if (afterCursor(r, cursor)) found.push({ ...r, name: names[i] ?? r.identity });
      });
      if (rows.length < batchSize) break;
    }
    if (gone.length > 0) {
      await this.redis
        .multi()
        .zrem(k.joined, ...gone)
        .zrem(k.seen, ...gone)
        .hdel(k.names, ...gone)
        .exec()
        .catch(() => undefined);
    }
    found.sort((a, b) => b.joinedAt - a.joinedAt || (a.identity < b.identity ? 1 : a.identity > b.identity ? -1 : 0));
    const page = found.slice(0, limit);
    return { listeners: page, next: found.length > limit ? cursorOf(page[page.length - 1]!) : null };
  }

  forget(space: SpaceId): void {
    this.pending.delete(space);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
