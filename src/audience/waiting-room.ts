/**
 * The waiting room: when joins to a space arrive faster than its admission rate, or the node is
 * serving as many listeners as it can (its listener capacity), a joiner gets a signed FIFO ticket
 * (its place in line, an estimate of the wait) instead of an error, and comes back with it; tickets
 * are released in order at the admission rate while there is room. While a line exists, newcomers
 * join the end of it, so nobody overtakes. Tickets are HMAC-signed (forgery is refused), expire,
 * and are single-use (a used ticket is refused); the line itself is a few counters per space —
 * no database, no per-joiner state but the used tickets (until they expire).
 *
 * Several nodes (line-sharing.ts): each node keeps its own line per space at its share of the
 * space's rate (the edge spreads joiners evenly), so a newcomer is answered from this node alone,
 * synchronously. A ticket names the node whose line it is in and may come back to any node: it is
 * admitted once that node's line has passed it (as last heard, within 250 ms) — at once if that
 * node is gone — and spent in the whole cluster (one shared write per admitted joiner coming back).
 */
import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { LineSharing, LineState } from './line-sharing.js';

export interface TicketGrant {
  ticket: string;
  /** 1 = next in line. */
  position: number;
  estimatedWaitSeconds: number;
  /** When to come back with the ticket (also sent as Retry-After). */
  retryAfterSeconds: number;
}

export type Arrival = { admit: true } | { admit: false; grant: TicketGrant };

/** How long a ticket stays good, ms. */
const TICKET_TTL_MS = 10 * 60_000;
/** A released ticket not back within this long is taken for gone: its place is free again, ms. */
const PROMISE_MS = 10_000;

export interface WaitingRoomOptions {
  /** Joins admitted per second per space; 0 = no rate (only the capacity holds joiners back). */
  rate: number;
  /** Listeners this node serves at once, all spaces together; 0 = no cap. */
  capacity: number;
  /** Listeners on this node now (the capacity's measure). */
  listeners: () => number;
  /**
   * Several nodes: this node's name, the share of each space's rate its lines move at (1 ÷ live
   * nodes), what the lines share, and whether a node is alive (a dead node's joiners are let in).
   */
  cluster?: { node: string; rateShare: () => number; sharing: LineSharing; alive: (node: string) => boolean };
}

interface Line {
  /** Tickets issued so far (the next ticket's number). */
  issued: number;
  /** Tickets released so far: those numbered below may come in. */
  released: number;
  /** Release credit is counted from here (ms); it does not pile up while the line is empty or the node full. */
  movedAt: number;
  /** Direct admissions left in the bucket (used while there is no line). */
  tokens: number;
  refilledAt: number;
  /** Used tickets → when they were issued, in about issue order, forgotten once expired anyway. */
  used: Map<number, number>;
}

export class WaitingRoom {
  private readonly lines = new Map<SpaceId, Line>();
  /**
   * Places promised to released tickets whose holders are not back yet, in one-second buckets over
   * PROMISE_MS: the node counts a listener when they join, so without this a node near its
   * capacity would release the same free places again every time it looked.
   */
  private readonly promised = new Int32Array(PROMISE_MS / 1000);
  private promisedSecond = 0;

  constructor(
    private readonly key: KeyObject,
    private readonly options: WaitingRoomOptions,
    private readonly now: () => number = Date.now,
  ) {
    options.cluster?.sharing.attach(() => this.states());
  }

  /** Joins admitted per second per space by this node's lines. */
  private get rate(): number {
    return this.options.rate * (this.options.cluster?.rateShare() ?? 1);
  }

  /** A newcomer arrives: admitted now, or given a place in line. Decided here alone, synchronously. */
  arrive(space: SpaceId): Arrival {
    const now = this.now();
    const line = this.line(space, now);
    const released = this.advance(line, now);
    if (released >= line.issued && this.room(now) >= 1 && this.takeToken(line, now)) return { admit: true };
    // Behind the line (or the first of a new one, which starts moving now).
    if (released >= line.issued) line.movedAt = now;
    return { admit: false, grant: this.grant(space, line.issued++, now, line.released) };
  }

  /**
   * A joiner comes back with its ticket: admitted once its line has passed it (and then never
   * again), else told its place again. Synchronous on one node; with several, a promise (the ticket
   * is spent in the whole cluster).
   */
  comeBack(space: SpaceId, ticket: string): Arrival | Promise<Arrival> {
    const now = this.now();
    const { seq, issuedAt, node } = this.verify(space, ticket);
    if (now - issuedAt > TICKET_TTL_MS) throw fail('ticket_expired');
    const cluster = this.options.cluster;
    if (!cluster) return this.comeBackHere(space, this.line(space, now), seq, issuedAt, now);
    const ttl = TICKET_TTL_MS - (now - issuedAt);
    const owner = node ?? cluster.node;
    if (owner === cluster.node) {
      const line = this.line(space, now);
      if (line.used.has(seq) || seq >= line.issued) throw fail(line.used.has(seq) ? 'ticket_used' : 'ticket_invalid');
      if (seq >= this.advance(line, now)) return { admit: false, grant: this.grant(space, seq, issuedAt, line.released) };
      return cluster.sharing.spend(space, owner, seq, ttl).then((first) => {
        if (!first) throw fail('ticket_used');
        this.forgetExpired(line, now);
        line.used.set(seq, issuedAt);
        this.promise(-1, now);
        return { admit: true };
      });
    }
    // Another node's line: as last heard from it (nothing heard yet: not moved), or let in if that node died.
    return this.comeBackFrom(space, owner, seq, issuedAt, ttl);
  }

  private async comeBackFrom(space: SpaceId, owner: string, seq: number, issuedAt: number, ttl: number): Promise<Arrival> {
    const { sharing, alive } = this.options.cluster!;
    if (alive(owner)) {
      const theirs = await sharing.lineOf(space, owner);
      if (theirs !== undefined && seq >= theirs.issued) throw fail('ticket_invalid');
      const released = theirs?.released ?? 0;
      if (seq >= released) return { admit: false, grant: this.grant(space, seq, issuedAt, released, owner) };
    }
    if (!(await sharing.spend(space, owner, seq, ttl))) throw fail('ticket_used');
    return { admit: true };
  }

  private comeBackHere(space: SpaceId, line: Line, seq: number, issuedAt: number, now: number): Arrival {
    if (line.used.has(seq) || seq >= line.issued) throw fail(line.used.has(seq) ? 'ticket_used' : 'ticket_invalid');
    if (seq < this.advance(line, now)) {
      this.forgetExpired(line, now);
      line.used.set(seq, issuedAt);
      this.promise(-1, now);
      return { admit: true };
    }
    return { admit: false, grant: this.grant(space, seq, issuedAt, line.released) };
  }

  /** This node's lines, moved on to now (what it shares with the other nodes). */
  private *states(): Iterable<[SpaceId, LineState]> {
    const now = this.now();
    for (const [space, line] of this.lines) yield [space, { released: this.advance(line, now), issued: line.issued }];
  }

  /** Direct admission while there is no line: a token bucket at the rate (one second of burst). */
  private takeToken(line: Line, now: number): boolean {
    const rate = this.rate;
    if (rate <= 0) return true;
    const burst = Math.max(1, rate);
    line.tokens = Math.min(burst, line.tokens + ((now - line.refilledAt) / 1000) * rate);
    line.refilledAt = now;
    if (line.tokens < 1) return false;
    line.tokens -= 1;
    return true;
  }

  /** Free places on the node: its capacity less its listeners and the places promised to released tickets. */
  private room(now: number): number {
    if (this.options.capacity <= 0) return Number.POSITIVE_INFINITY;
    return this.options.capacity - this.options.listeners() - Math.max(0, this.promisedTotal(now));
  }

  /**
   * Moves the line on: at the rate since it last moved, never past the node's free places. Returns
   * how many tickets are released in all.
   */
  private advance(line: Line, now: number): number {
    const waiting = line.issued - line.released;
    if (waiting <= 0) return line.released;
    const rate = this.rate;
    const credit = rate > 0 ? ((now - line.movedAt) / 1000) * rate : Number.POSITIVE_INFINITY;
    const room = this.room(now);
    const step = Math.floor(Math.min(waiting, credit, Math.max(0, room)));
    if (step > 0) {
      line.released += step;
      this.promise(step, now);
    }
    // Credit accrues only while the line can move: a full node does not bank a burst for later.
    if (rate <= 0 || room <= credit) line.movedAt = now;
    else line.movedAt += (step / rate) * 1000;
    return line.released;
  }

  private bucket(now: number): number {
    const second = Math.floor(now / 1000);
    // Seconds that went by since the last look are emptied (at most the whole ring).
    for (let s = Math.max(this.promisedSecond + 1, second - this.promised.length + 1); s <= second; s++) {
      this.promised[s % this.promised.length] = 0;
    }
    this.promisedSecond = Math.max(this.promisedSecond, second);
    return second % this.promised.length;
  }

  private promise(places: number, now: number): void {
    if (this.options.capacity <= 0) return;
    this.promised[this.bucket(now)]! += places;
  }

  private promisedTotal(now: number): number {
    this.bucket(now);
    return this.promised.reduce((a, b) => a + b, 0);
  }

  /** Used tickets that expired need not be remembered: the expiry check refuses them first. */
  private forgetExpired(line: Line, now: number): void {
    for (const [seq, issuedAt] of line.used) {
      if (now - issuedAt <= TICKET_TTL_MS) break;
      line.used.delete(seq);
    }
  }

  private line(space: SpaceId, now: number): Line {
    let line = this.lines.get(space);
    if (!line) {
      line = { issued: 0, released: 0, movedAt: now, tokens: Math.max(1, this.rate), refilledAt: now, used: new Map() };
      this.lines.set(space, line);
    }
    return line;
  }

  /** A place in a line: `released` is how far that line has moved; `node`, whose line (this node's by default). */
  private grant(space: SpaceId, seq: number, issuedAt: number, released: number, node = this.options.cluster?.node): TicketGrant {
    const position = seq - released + 1;
    // Without a rate the line moves as places free up; a second per place ahead is a guess, so
    // the wait is estimated at the rate when there is one and the ticket comes back often.
    const rate = this.rate;
    const wait = rate > 0 ? position / rate : Math.min(60, position);
    return {
      ticket: this.sign(space, seq, issuedAt, node),
      position,
      estimatedWaitSeconds: Math.ceil(wait),
      retryAfterSeconds: Math.max(1, Math.min(10, Math.ceil(wait))),
    };
  }

  private sign(space: SpaceId, seq: number, issuedAt: number, node: string | undefined): string {
    const body = Buffer.from(
      JSON.stringify(node === undefined ? { s: space, q: seq, t: issuedAt } : { s: space, q: seq, t: issuedAt, n: node }),
    ).toString('base64url');
    return `${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  private verify(space: SpaceId, ticket: string): { seq: number; issuedAt: number; node: string | undefined } {
    const [body, mac] = ticket.split('.');
    if (!body || !mac) throw fail('ticket_invalid');
    const expected = createHmac('sha256', this.key).update(body).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw fail('ticket_invalid');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { s: string; q: number; t: number; n?: unknown };
    if (claims.s !== space || !Number.isInteger(claims.q) || !Number.isFinite(claims.t))
      throw fail('ticket_invalid', 'The ticket is for another space.');
    // A ticket without a node is this node's (one node; or issued before the node had others).
    const node = typeof claims.n === 'string' ? claims.n : this.options.cluster?.node;
    return { seq: claims.q, issuedAt: claims.t, node };
  }

  /** Forgets a space's line (the space ended). */
  forget(space: SpaceId): void {
    this.lines.delete(space);
    this.options.cluster?.sharing.forget(space);
  }
}
