/**
 * What a load test measured, as it goes: per-second series (joins, errors, listeners, join
 * latency percentiles) for the progress bar and the charts, and the totals for the report.
 */
import { type Percentiles, percentiles } from '../bots/listener-bot.js';

export interface Second {
  /** Seconds since the start. */
  t: number;
  joins: number;
  errors: number;
  listeners: number;
  requests: number;
  joinMs: Percentiles | null;
  /** The join flood's second, when there is one: sent, answered, answer times. */
  flood?: { sent: number; answered: number; answerMs: Percentiles | null };
  /** The server's resident memory at the end of the second, MB. */
  serverRssMb?: number;
  /** The server's event-loop delay p99 over about this second (its /metrics), ms. */
  serverLagP99Ms?: number;
  /** This process's own event-loop delay p99 over the second, ms: the generator's lateness. */
  generatorLagP99Ms?: number;
  /** The longest stage signalling round trip answered in the second, ms (with bot speakers). */
  stageRttMaxMs?: number;
}

/** Latency samples kept at most (a uniform reservoir), so a long run's memory stays bounded. */
const RESERVOIR = 100_000;

/** Keeps `value` in a uniform sample of at most RESERVOIR of the `seen` values so far. */
export function keep(samples: number[], value: number, seen: number): void {
  if (samples.length < RESERVOIR) samples.push(value);
  else {
    const slot = Math.floor(Math.random() * seen);
    if (slot < RESERVOIR) samples[slot] = value;
  }
}

export class LoadStats {
  readonly series: Second[] = [];
  private readonly started = performance.now();
  private current: { joins: number; errors: number; requests: number; joinMs: number[] } = { joins: 0, errors: 0, requests: 0, joinMs: [] };
  readonly joinMs: number[] = [];
  readonly firstAudioMs: number[] = [];
  private joinsSeen = 0;
  readonly errorsByStatus: Record<string, number> = {};
  requests = 0;
  listeners = 0;
  peakListeners = 0;
  joins = 0;
  stalls = 0;
  /** The listener count the server last reported in its state document. */
  reportedListeners: number | null = null;

  joined(ms: number): void {
    this.joins++;
    this.current.joins++;
    this.current.joinMs.push(ms);
    keep(this.joinMs, ms, ++this.joinsSeen);
  }

  listenerJoined(): void {
    this.listeners++;
    this.peakListeners = Math.max(this.peakListeners, this.listeners);
  }

  listenerLeft(): void {
    this.listeners--;
  }

  firstAudio(ms: number): void {
    keep(this.firstAudioMs, ms, this.firstAudioMs.length + 1);
  }

  stalled(): void {
    this.stalls++;
  }

  stateSeen(listeners: number): void {
    this.reportedListeners = listeners;
  }

  /** Every response (status 0: no response at all). 304 and 2xx are fine; the rest count as errors. */
  response(status: number): void {
    this.requests++;
    this.current.requests++;
    if (status === 0 || status >= 400) {
      const key = status === 0 ? 'network' : String(status);
      this.errorsByStatus[key] = (this.errorsByStatus[key] ?? 0) + 1;
      this.current.errors++;
    }
  }

  get errors(): number {
    return Object.values(this.errorsByStatus).reduce((a, b) => a + b, 0);
  }

  /** Closes the current second (called once a second). */
  tick(): Second {
    const second: Second = {
      t: Math.round((performance.now() - this.started) / 1000),
      joins: this.current.joins,
      errors: this.current.errors,
      requests: this.current.requests,
      listeners: this.listeners,
      joinMs: percentiles(this.current.joinMs),
    };
    this.series.push(second);
    this.current = { joins: 0, errors: 0, requests: 0, joinMs: [] };
    return second;
  }
}

/** An event-loop delay histogram's p99 in ms, to 0.1 ms (monitorEventLoopDelay records nanoseconds). */
export function lagP99Ms(histogram: { percentile(p: number): number }): number {
  return Math.round(histogram.percentile(99) / 1e5) / 10;
}
