/**
 * The waiting room: when joins to a space arrive faster than its admission rate, a joiner gets a
 * signed FIFO ticket (its place in line, an estimate of the wait) instead of an error, and comes
 * back with it; tickets are released in order at the admission rate. While a line exists, newcomers
 * join the end of it, so nobody overtakes. Tickets are HMAC-signed (forgery is refused), expire,
 * and are single-use (a used ticket is refused); the line itself is a few counters per space —
 * no database, no per-joiner state but the used-ticket set.
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

interface Line {
  /** Tickets issued so far (the next ticket's number). */
  issued: number;
  /** Tickets released before `releasingSince`, and since when the line has been moving. */
  releasedBase: number;
  releasingSince: number;
  /** Direct admissions left in the bucket (used while there is no line). */
  tokens: number;
  refilledAt: number;
  used: Set<number>;
}

export class WaitingRoom {
  private readonly lines = new Map<SpaceId, Line>();

  constructor(
    private readonly key: KeyObject,
    /** Joins admitted per second per space. */
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A joiner arrives (with a ticket from earlier, or not): admitted now, or given a place in line. */
  arrive(space: SpaceId, ticket?: string): Arrival {
    const now = this.now();
    const line = this.line(space, now);
    if (ticket !== undefined) return this.comeBack(space, line, ticket, now);
    line.tokens = Math.min(this.burst, line.tokens + ((now - line.refilledAt) / 1000) * this.rate);
    line.refilledAt = now;
    const released = this.released(line, now);
    if (released >= line.issued && line.tokens >= 1) {
      line.tokens -= 1;
      return { admit: true };
    }
    if (released >= line.issued) {
      // A new line starts moving now, at the admission rate.
      line.releasedBase = line.issued;
      line.releasingSince = now;
    }
    return { admit: false, grant: this.grant(space, line, line.issued++, now, now) };
  }

  private comeBack(space: SpaceId, line: Line, ticket: string, now: number): Arrival {
    const { seq, issuedAt } = this.verify(space, ticket);
    if (now - issuedAt > TICKET_TTL_MS) throw fail('ticket_expired');
    if (line.used.has(seq) || seq >= line.issued) throw fail(line.used.has(seq) ? 'ticket_used' : 'ticket_invalid');
    if (seq < this.released(line, now)) {
      line.used.add(seq);
      return { admit: true };
    }
    return { admit: false, grant: this.grant(space, line, seq, issuedAt, now) };
  }

  private get burst(): number {
    return Math.max(1, this.rate);
  }

  private line(space: SpaceId, now: number): Line {
    let line = this.lines.get(space);
    if (!line) {
      line = { issued: 0, releasedBase: 0, releasingSince: now, tokens: this.burst, refilledAt: now, used: new Set() };
      this.lines.set(space, line);
    }
    return line;
  }

  private released(line: Line, now: number): number {
    return Math.min(line.issued, line.releasedBase + Math.floor(((now - line.releasingSince) / 1000) * this.rate));
  }

  private grant(space: SpaceId, line: Line, seq: number, issuedAt: number, now: number): TicketGrant {
    const position = seq - this.released(line, now) + 1;
    const wait = position / this.rate;
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
