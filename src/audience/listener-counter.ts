/**
 * How many are listening, honestly: distinct listener ids that joined or heartbeated in the last
 * window, estimated with HyperLogLog. The window is two half-window sketches; every half window the
 * older is dropped, so a listener counts for between one half and one whole window after its last
 * heartbeat. A third sketch never rotates and gives total unique listeners.
 */
import { HyperLogLog, hashForHll } from './hyperloglog.js';

export class ListenerCounter {
  private current = new HyperLogLog();
  private previous = new HyperLogLog();
  private readonly total = new HyperLogLog();
  private rotatedAt: number;
  private cached: { at: number; value: number } | undefined;
  /** Joins since the estimate was cached: each is a new listener, counted before the next estimate. */
  private joinedSinceEstimate = 0;
  peak = 0;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  private rotate(now: number): void {
    const half = this.windowMs / 2;
    if (now - this.rotatedAt < half) return;
    if (now - this.rotatedAt >= this.windowMs) {
      this.previous.clear();
      this.current.clear();
    } else {
      const emptied = this.previous;
      emptied.clear();
      this.previous = this.current;
      this.current = emptied;
    }
    this.rotatedAt = now - ((now - this.rotatedAt) % half);
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
    this.current.add(hash);
    this.total.add(hash);
  }

  /** Concurrent listeners; recomputed at most once a second (a 16 K-register pass). */
  concurrent(now: number): number {
    this.rotate(now);
    if (this.cached && now - this.cached.at < 1000) return this.cached.value + this.joinedSinceEstimate;
    const value = this.current.estimate(this.previous);
    this.cached = { at: now, value };
    this.joinedSinceEstimate = 0;
    if (value > this.peak) this.peak = value;
    return value;
  }

  totalUnique(): number {
    return this.total.estimate();
  }
}
