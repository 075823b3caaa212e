/**
 * The waiting room: when joins to a space arrive faster than its admission rate, or the node is
 * serving as many listeners as it can (its listener capacity), a joiner gets a signed FIFO ticket
 * (its place in line, an estimate of the wait) instead of an error, and comes back with it; tickets
 * are released in order at the admission rate while there is room. While a line exists, newcomers
 * join the end of it, so nobody overtakes. Tickets are HMAC-signed (forgery is refused), expire,
 * and are single-use (a used ticket is refused); the line itself is a few counters per space —
 * no database, no per-joiner state but the used tickets (until they expire).
 */
import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';

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
  ) {}

  /** A joiner arrives (with a ticket from earlier, or not): admitted now, or given a place in line. */
  arrive(space: SpaceId, ticket?: string): Arrival {
    const now = this.now();
    const line = this.line(space, now);
    if (ticket !== undefined) return this.comeBack(space, line, ticket, now);
    const released = this.advance(line, now);
    if (released >= line.issued && this.room(now) >= 1 && this.takeToken(line, now)) return { admit: true };
    // Behind the line (or the first of a new one, which starts moving now).
    if (released >= line.issued) line.movedAt = now;
    return { admit: false, grant: this.grant(space, line, line.issued++, now) };
  }

  private comeBack(space: SpaceId, line: Line, ticket: string, now: number): Arrival {
    const { seq, issuedAt } = this.verify(space, ticket);
    if (now - issuedAt > TICKET_TTL_MS) throw fail('ticket_expired');
    if (line.used.has(seq) || seq >= line.issued) throw fail(line.used.has(seq) ? 'ticket_used' : 'ticket_invalid');
    if (seq < this.advance(line, now)) {
      this.forgetExpired(line, now);
      line.used.set(seq, issuedAt);
      this.promise(-1, now);
      return { admit: true };
    }
    return { admit: false, grant: this.grant(space, line, seq, issuedAt) };
  }

  /** Direct admission while there is no line: a token bucket at the rate (one second of burst). */
  private takeToken(line: Line, now: number): boolean {
    if (this.options.rate <= 0) return true;
    const burst = Math.max(1, this.options.rate);
    line.tokens = Math.min(burst, line.tokens + ((now - line.refilledAt) / 1000) * this.options.rate);
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
    const credit = this.options.rate > 0 ? ((now - line.movedAt) / 1000) * this.options.rate : Number.POSITIVE_INFINITY;
    const room = this.room(now);
    const step = Math.floor(Math.min(waiting, credit, Math.max(0, room)));
    if (step > 0) {
      line.released += step;
      this.promise(step, now);
    }
    // Credit accrues only while the line can move: a full node does not bank a burst for later.
    if (this.options.rate <= 0 || room <= credit) line.movedAt = now;
    else line.movedAt += (step / this.options.rate) * 1000;
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
      line = { issued: 0, released: 0, movedAt: now, tokens: Math.max(1, this.options.rate), refilledAt: now, used: new Map() };
      this.lines.set(space, line);
    }
    return line;
  }

  private grant(space: SpaceId, line: Line, seq: number, issuedAt: number): TicketGrant {
    const position = seq - line.released + 1;
    // Without a rate the line moves as places free up; a second per place ahead is a guess, so
    // the wait is estimated at the rate when there is one and the ticket comes back often.
    const wait = this.options.rate > 0 ? position / this.options.rate : Math.min(60, position);
    return {
      ticket: this.sign(space, seq, issuedAt),
      position,
      estimatedWaitSeconds: Math.ceil(wait),
      retryAfterSeconds: Math.max(1, Math.min(10, Math.ceil(wait))),
    };
  }

  private sign(space: SpaceId, seq: number, issuedAt: number): string {
    const body = Buffer.from(JSON.stringify({ s: space, q: seq, t: issuedAt })).toString('base64url');
    return `${body}.${createHmac('sha256', this.key).update(body).digest('base64url')}`;
  }

  private verify(space: SpaceId, ticket: string): { seq: number; issuedAt: number } {
    const [body, mac] = ticket.split('.');
    if (!body || !mac) throw fail('ticket_invalid');
    const expected = createHmac('sha256', this.key).update(body).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw fail('ticket_invalid');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { s: string; q: number; t: number };
    if (claims.s !== space || !Number.isInteger(claims.q) || !Number.isFinite(claims.t))
      throw fail('ticket_invalid', 'The ticket is for another space.');
    return { seq: claims.q, issuedAt: claims.t };
  }

  /** Forgets a space's line (the space ended). */
  forget(space: SpaceId): void {
    this.lines.delete(space);
  }
}
