/**
 * The audience a host can act on: listeners whose token carries a name (minted by the operator's
 * backend) are kept by name while they listen, so the host and co-hosts can see them — newest first,
 * a page at a time — and invite one to speak without typing an id. Anonymous listeners are counted
 * (crowd.ts), never listed. A name is kept from the join; heartbeats keep it listed; a window after
 * the last one (ROSTRUM_LISTENER_WINDOW) it is gone. Implementations: LocalRoster (one node, here)
 * and RedisRoster (redis-roster.ts, every node's); test/roster-contract.ts is their suite.
 */
import type { Identity, SpaceId } from '../ids.js';

export interface RosterEntry {
  identity: Identity;
  name: string;
  joinedAt: number;
}

export interface RosterPage {
  listeners: RosterEntry[];
  /** Pass back as `after` for the next page; null when this was the last. */
  next: string | null;
}

export interface Roster {
  readonly kind: string;
  /** A listener whose token carries a name joined. */
  joined(space: SpaceId, identity: Identity, name: string, now: number): void;
  /** A listener heartbeated (anyone: only the named are kept). */
  seen(space: SpaceId, identity: Identity, now: number): void;
  /** Named listeners listening now, newest first (ties: identity, descending), `limit` after the cursor. */
  list(space: SpaceId, now: number, limit: number, after?: string): Promise<RosterPage>;
  forget(space: SpaceId): void;
  /** Sends what is batched to the engine now (the timer's job; tests). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A page's cursor: the last entry's place in the order, opaque to clients. */
export function cursorOf(entry: RosterEntry): string {
  return Buffer.from(`${entry.joinedAt}~${entry.identity}`).toString('base64url');
}

export function parseCursor(cursor: string | undefined): { joinedAt: number; identity: string } | undefined {
  if (!cursor) return undefined;
  const [at, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('~');
  const joinedAt = Number(at);
  if (!Number.isSafeInteger(joinedAt) || rest.length === 0) return undefined;
  return { joinedAt, identity: rest.join('~') };
}

/** Whether `e` comes after the cursor in the order (joinedAt descending, then identity descending). */
export function afterCursor(e: { joinedAt: number; identity: string }, c: { joinedAt: number; identity: string } | undefined): boolean {
  if (!c) return true;
  return e.joinedAt < c.joinedAt || (e.joinedAt === c.joinedAt && e.identity < c.identity);
}

interface Held {
  name: string;
  joinedAt: number;
  lastSeen: number;
}

export class LocalRoster implements Roster {
  readonly kind: string = 'local';
  private readonly spaces = new Map<SpaceId, Map<Identity, Held>>();

  constructor(
    private readonly windowMs: number,
    /** Most named listeners kept per space; past it the longest unseen goes. */
    private readonly maxPerSpace = 100_000,
  ) {}

  joined(space: SpaceId, identity: Identity, name: string, now: number): void {
    let held = this.spaces.get(space);
    if (!held) {
      held = new Map();
      this.spaces.set(space, held);
    }
    const before = held.get(identity);
    // Joining again while still listed keeps its place; one that had gone is new again.
    const joinedAt = before && now - before.lastSeen < this.windowMs ? before.joinedAt : now;
    held.delete(identity);
    held.set(identity, { name, joinedAt, lastSeen: now });
    if (held.size > this.maxPerSpace) held.delete(held.keys().next().value as Identity);
  }

  seen(space: SpaceId, identity: Identity, now: number): void {
    const held = this.spaces.get(space);
    const entry = held?.get(identity);
    if (!held || !entry) return;
    entry.lastSeen = now;
    held.delete(identity); // kept in the order of their last sighting: the first is the longest unseen
    held.set(identity, entry);
  }

  async list(space: SpaceId, now: number, limit: number, after?: string): Promise<RosterPage> {
    const held = this.spaces.get(space);
    if (!held) return { listeners: [], next: null };
    const cutoff = now - this.windowMs;
    for (const [identity, entry] of held) {
      if (entry.lastSeen >= cutoff) break;
      held.delete(identity);
    }
    const cursor = parseCursor(after);
    const listed = [...held]
      .map(([identity, e]) => ({ identity, name: e.name, joinedAt: e.joinedAt }))
      .filter((e) => afterCursor(e, cursor))
      .sort((a, b) => b.joinedAt - a.joinedAt || (a.identity < b.identity ? 1 : a.identity > b.identity ? -1 : 0));
    const page = listed.slice(0, limit);
    return { listeners: page, next: listed.length > limit ? cursorOf(page[page.length - 1]!) : null };
  }

  forget(space: SpaceId): void {
    this.spaces.delete(space);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
