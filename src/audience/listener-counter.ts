/**
 * How many are listening, honestly: distinct listener ids that joined or heartbeated in the last
 * window, estimated with HyperLogLog. The window is SLICES sketches of one slice each, a ring: every
 * slice the oldest is emptied and becomes the current one, so a listener counts for between
 * (SLICES − 1) and SLICES slices — 57.5 to 60 s of a 60 s window — after its last heartbeat. That is
 * what lets heartbeats be rare (every 55 s of a 60 s window: see heartbeatInterval; 0.018 origin
 * requests a second per listener) while a listener who left stops counting at most one window later. A further sketch never rotates and gives total
 * unique listeners.
 */
import { HyperLogLog, hashForHll } from './hyperloglog.js';

/** Slices of a window. 24 × 16 KiB of registers per space; an estimate merges 24 sketches (≈0.5 ms, once a second). */
export const SLICES = 24;

/**
 * How often a listener heartbeats for a window of `windowSeconds`: two slices short of it (55 s of
 * 60), so a heartbeat up to a slice late (2.5 s: a slow network) still lands while it counts.
 */
export function heartbeatInterval(windowSeconds: number): number {
  return Math.max(1, Math.floor((windowSeconds * (SLICES - 2)) / SLICES));
}

export class ListenerCounter {
  private readonly slices = Array.from({ length: SLICES }, () => new HyperLogLog());
  private readonly total = new HyperLogLog();
  /** The ring position of the current slice, and when that slice began. */
  private head = 0;
  private sliceStartedAt: number;
  private readonly sliceMs: number;
  private cached: { at: number; value: number } | undefined;
  /** Joins since the estimate was cached: each is a new listener, counted before the next estimate. */
  private joinedSinceEstimate = 0;
  peak = 0;

  constructor(windowMs: number, now: number) {
    this.sliceMs = windowMs / SLICES;
    this.sliceStartedAt = now;
  }

  private rotate(now: number): void {
    const steps = Math.floor((now - this.sliceStartedAt) / this.sliceMs);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, SLICES); i++) {
      this.head = (this.head + 1) % SLICES;
      this.slices[this.head]!.clear();
    }
    this.sliceStartedAt += steps * this.sliceMs;
    this.cached = undefined;
  }

  /** A listener joined (a new identity): counted at once, not only from the next estimate. */
  joined(identity: string, now: number): void {
    this.seen(identity, now);
    this.joinedSinceEstimate++;
  }

  seen(identity: string, now: number): void {
    this.rotate(now);
    const hash = hashForHll(identity);
    this.slices[this.head]!.add(hash);
    this.total.add(hash);
  }

  /** Concurrent listeners; recomputed at most once a second. */
  concurrent(now: number): number {
    this.rotate(now);
    if (this.cached && now - this.cached.at < 1000) return this.cached.value + this.joinedSinceEstimate;
    const [first, ...rest] = this.slices;
    const value = first!.estimate(...rest);
    this.cached = { at: now, value };
    this.joinedSinceEstimate = 0;
    if (value > this.peak) this.peak = value;
    return value;
  }

  totalUnique(): number {
    return this.total.estimate();
  }
}
