/**
 * The main event loop's pressure, sampled every SAMPLE_MS: its mean delay (how late a timer that
 * should fire every RESOLUTION_MS fires, from perf_hooks.monitorEventLoopDelay, less the period) and
 * its utilisation over the sample (performance.eventLoopUtilization).
 *
 * Written here, in place of @fastify/under-pressure (which the lanes used): that plugin's delay
 * histogram ticks every 10 ms whatever it is asked, a hundred wake-ups a second of an idle server's
 * main thread — on these machines about half a percent of a core, most of what an idle server
 * costs. The lanes need only these two figures; a 50 ms period still gives five delay samples per
 * sample window, and a loop behind by the 100 ms default limit misses two periods at once.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** How often the figures are taken, ms. */
export const SAMPLE_MS = 250;
/** The delay histogram's period, ms. */
export const RESOLUTION_MS = 50;

export type PressureKind = 'eventLoopDelay' | 'eventLoopUtilization';

export interface PressureLimits {
  /** Mean event-loop delay over a sample, ms; 0: not checked. */
  maxEventLoopDelayMs: number;
  /** Event-loop utilisation over a sample, 0–1; 0: not checked. */
  maxEventLoopUtilization: number;
}

export class LoopPressure {
  private readonly histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly timer: NodeJS.Timeout;
  private elu = performance.eventLoopUtilization();
  /**
   * Mean delay over the last sample, ms. Infinity when the timer never fired in it (the loop did not
   * turn for the whole sample: a start-up), which is no measurement rather than a verdict.
   */
  delayMs = 0;
  /** Utilisation over the last sample, 0–1. */
  utilization = 0;

  constructor(private readonly limits: PressureLimits) {
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  private sample(): void {
    const mean = this.histogram.mean / 1e6;
    this.delayMs = Number.isNaN(mean) ? Number.POSITIVE_INFINITY : Math.max(0, mean - RESOLUTION_MS);
    this.histogram.reset();
    const now = performance.eventLoopUtilization();
    this.utilization = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
  }

  /** The limit the last sample was over (delay first), with its value; undefined when none. */
  over(): { kind: PressureKind; value: number } | undefined {
    const { maxEventLoopDelayMs, maxEventLoopUtilization } = this.limits;
    // An infinite delay is no measurement (the loop never turned during the sample), so no verdict.
    const measured = this.delayMs !== Number.POSITIVE_INFINITY;
    if (maxEventLoopDelayMs > 0 && measured && this.delayMs > maxEventLoopDelayMs) {
      return { kind: 'eventLoopDelay', value: this.delayMs };
    }
    if (maxEventLoopUtilization > 0 && this.utilization > maxEventLoopUtilization) {
      return { kind: 'eventLoopUtilization', value: this.utilization };
    }
    return undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}
