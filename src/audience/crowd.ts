/**
 * Crowd: how many listen to each space and how they react, counted on every node that answers them
 * and seen the same from every node. A join, a heartbeat or a reaction is one synchronous call on the
 * hot path (no engine round trip); the engine, if any, is fed in batches.
 *
 * Implementations: LocalCrowd (here: the embedded default, one node's counters) and RedisCrowd
 * (redis-crowd.ts: each node's counters, plus every node's listeners merged in Redis's own
 * HyperLogLog and reactions summed in a hash, once a second). One contract suite runs against both
 * (test/crowd-contract.ts).
 */
import { REACTIONS, type Reaction } from '../control/model.js';
import type { SpaceId } from '../ids.js';
import { ListenerCounter } from './listener-counter.js';

export interface Crowd {
  readonly kind: string;
  /** A listener joined (`joined`) or heartbeated. */
  seen(space: SpaceId, identity: string, now: number, joined: boolean): void;
  /** One reaction; `kept` is what the space has kept so far (counting continues from it). */
  react(space: SpaceId, emoji: Reaction, kept: Readonly<Record<string, number>>): void;
  /** Concurrent listeners, every node together. */
  listeners(space: SpaceId, now: number): number;
  /** Peak concurrent and total unique listeners, every node together. */
  tallies(space: SpaceId, now: number): { peak: number; total: number };
  /** Reaction totals, every node together; undefined when nobody reacted since the space loaded. */
  reactions(space: SpaceId): Readonly<Record<string, number>> | undefined;
  /** Listeners this node serves now, every space together (the waiting room's capacity measure). */
  onNode(now: number): number;
  /** Forgets a space (it ended and its tallies were kept). */
  forget(space: SpaceId): void;
  /** Sends what is batched to the engine now and reads the merged counts back (the timer's job; tests). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const zeroReactions = (): Record<Reaction, number> => Object.fromEntries(REACTIONS.map((r) => [r, 0])) as Record<Reaction, number>;

/** One node's counters: the whole count on the embedded default, this node's share when several run. */
export class LocalCrowd implements Crowd {
  readonly kind: string = 'local';
  private readonly counters = new Map<SpaceId, ListenerCounter>();
  private readonly totals = new Map<SpaceId, Record<string, number>>();

  constructor(private readonly windowMs: number) {}

  private counter(space: SpaceId, now: number): ListenerCounter {
    let c = this.counters.get(space);
    if (!c) {
      c = new ListenerCounter(this.windowMs, now);
      this.counters.set(space, c);
    }
    return c;
  }

  seen(space: SpaceId, identity: string, now: number, joined: boolean): void {
    if (joined) this.counter(space, now).joined(identity, now);
    else this.counter(space, now).seen(identity, now);
  }

  react(space: SpaceId, emoji: Reaction, kept: Readonly<Record<string, number>>): void {
    let totals = this.totals.get(space);
    if (!totals) {
      // Start from what is kept with the space, so a restart or a reload continues the count.
      totals = { ...zeroReactions(), ...kept };
      this.totals.set(space, totals);
    }
    totals[emoji] = (totals[emoji] ?? 0) + 1;
  }

  listeners(space: SpaceId, now: number): number {
    return this.counters.get(space)?.concurrent(now) ?? 0;
  }

  tallies(space: SpaceId, now: number): { peak: number; total: number } {
    const c = this.counters.get(space);
    if (!c) return { peak: 0, total: 0 };
    c.concurrent(now);
    return { peak: c.peak, total: c.totalUnique() };
  }

  reactions(space: SpaceId): Readonly<Record<string, number>> | undefined {
    return this.totals.get(space);
  }

  onNode(now: number): number {
    let total = 0;
    for (const counter of this.counters.values()) total += counter.concurrent(now);
    return total;
  }

  forget(space: SpaceId): void {
    this.counters.delete(space);
    this.totals.delete(space);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
