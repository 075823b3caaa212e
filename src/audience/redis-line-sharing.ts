/**
 * The waiting rooms' shared state in Redis: per space a hash whose fields are the nodes and whose
 * values are `released|issued|lapsesAt` (every node writes its own lines and reads the others' in one
 * pipeline every 250 ms), and a used ticket is a key set only if absent (`SET … NX PX` until the
 * ticket would have expired anyway) — one command per admitted joiner coming back, on a path that
 * is already asynchronous.
 *
 * Redis away: lines go on moving on each node, tickets are checked against the lines as last heard,
 * and a used ticket is remembered by the node that took it (it could be used once more on another
 * node until Redis is back).
 */
import type { Redis } from 'ioredis';
import type { SpaceId } from '../ids.js';
import type { LineSharing, LineState } from './line-sharing.js';

const SYNC_MS = 250;
/** A node's line as heard is believed this long after its node last published it, ms. */
const LINE_FOR_MS = 5000;
/** Spaces whose other lines are read although this node has no line there: tickets came back here lately, ms. */
const WATCH_FOR_MS = 60_000;

export class RedisLineSharing implements LineSharing {
  readonly kind = 'redis';
  private lines: () => Iterable<[SpaceId, LineState]> = () => [];
  private readonly heard = new Map<SpaceId, Map<string, { state: LineState; lapsesAt: number }>>();
  private readonly watched = new Map<SpaceId, number>();
  /** Tickets spent while Redis was away (space|node|seq → when to forget). */
  private readonly spentAway = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;
  private syncing = false;
  commands = 0;

  constructor(
    private readonly redis: Redis,
    private readonly node: string,
    private readonly prefix = 'rostrum:wr:',
    syncMs = SYNC_MS,
  ) {
    if (syncMs > 0) {
      this.timer = setInterval(() => void this.sync(), syncMs);
      this.timer.unref();
    }
  }

  attach(lines: () => Iterable<[SpaceId, LineState]>): void {
    this.lines = lines;
  }

  async lineOf(space: SpaceId, node: string): Promise<LineState | undefined> {
    const watched = this.watched.has(space);
    this.watched.set(space, Date.now() + WATCH_FOR_MS);
    if (!watched && !this.heard.has(space)) await this.read(space);
    const entry = this.heard.get(space)?.get(node);
    return entry && entry.lapsesAt > Date.now() ? entry.state : undefined;
  }

  /** Reads a space's lines now (a ticket came back for a space this node did not follow). */
  private async read(space: SpaceId): Promise<void> {
    try {
      this.commands++;
      this.heard.set(space, parseLines(await this.redis.hgetall(`${this.prefix}${space}`)));
    } catch {
      // Redis away: nothing is known of the other lines.
    }
  }

  async spend(space: SpaceId, node: string, seq: number, ttlMs: number): Promise<boolean> {
    const key = `${space}|${node}|${seq}`;
    if (this.spentAway.has(key)) return false;
    try {
      this.commands++;
      return (await this.redis.set(`${this.prefix}used:${key}`, '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
    } catch {
      const now = Date.now();
      for (const [k, until] of this.spentAway) if (until < now) this.spentAway.delete(k);
      this.spentAway.set(key, now + ttlMs);
      return true;
    }
  }

  async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      const now = Date.now();
      for (const [space, until] of this.watched) if (until < now) this.watched.delete(space);
      const mine = new Map(this.lines());
      const spaces = [...new Set([...mine.keys(), ...this.watched.keys()])];
      if (spaces.length === 0) return;
      const pipeline = this.redis.pipeline();
      for (const space of spaces) {
        const state = mine.get(space);
        if (state) {
          pipeline.hset(`${this.prefix}${space}`, this.node, `${state.released}|${state.issued}|${now + LINE_FOR_MS}`);
          pipeline.pexpire(`${this.prefix}${space}`, 10 * 60_000);
        }
        pipeline.hgetall(`${this.prefix}${space}`);
      }
      this.commands += spaces.length + 2 * mine.size;
      const results = await pipeline.exec().catch(() => null);
      if (!results) return;
      let at = 0;
      for (const space of spaces) {
        if (mine.has(space)) at += 2;
        const [err, value] = results[at++]!;
        if (err) continue;
        this.heard.set(space, parseLines(value as Record<string, string>));
      }
    } finally {
      this.syncing = false;
    }
  }

  forget(space: SpaceId): void {
    this.heard.delete(space);
    this.watched.delete(space);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}

/** A space's hash: node → `released|issued|lapsesAt`. */
function parseLines(raw: Record<string, string>): Map<string, { state: LineState; lapsesAt: number }> {
  const lines = new Map<string, { state: LineState; lapsesAt: number }>();
  for (const [node, value] of Object.entries(raw)) {
    const [released, issued, lapsesAt] = value.split('|').map(Number);
    lines.set(node, { state: { released: released ?? 0, issued: issued ?? 0 }, lapsesAt: lapsesAt ?? 0 });
  }
  return lines;
}
