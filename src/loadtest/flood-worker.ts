/**
 * A join flood (join-flood.ts) in a thread of its own, so that the load test's main thread — its
 * simulated players, its bot speakers and the stage's pings — does not wait behind a thousand
 * requests a second, and the flood's answer times are not the players' delays (a run with a CPU
 * hog on one core measured the stage's round trip p99 at 2.5× the generator's own event-loop
 * delay with both in one loop). Same surface as JoinFlood, for the load test: run, tick, stop,
 * report (once run resolved), close.
 */
import { Worker } from 'node:worker_threads';
import type { Percentiles } from '../bots/listener-bot.js';
import type { FloodOptions, FloodReport } from './join-flood.js';

export type FloodSecond = { sent: number; answered: number; answerMs: Percentiles | null };

export type ParentToFlood = { type: 'run' } | { type: 'stop' } | { type: 'tick' };
export type FloodToParent = { type: 'second'; second: FloodSecond } | { type: 'done'; report: FloodReport };

const THREAD_URL = new URL('./flood-thread.js', import.meta.url);

export class FloodWorker {
  private readonly worker: Worker;
  /** Answers to tick(), in the order asked (the thread answers in order). */
  private readonly ticks: Array<(second: FloodSecond) => void> = [];
  private final: FloodReport | null = null;
  private readonly done: Promise<void>;

  constructor(private readonly options: FloodOptions) {
    this.worker = new Worker(THREAD_URL, { workerData: options });
    this.done = new Promise((resolve, reject) => {
      this.worker.on('message', (message: FloodToParent) => {
        if (message.type === 'second') this.ticks.shift()?.(message.second);
        else {
          this.final = message.report;
          resolve();
        }
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => {
        if (!this.final) reject(new Error(`the join flood's thread exited with code ${code} before its report`));
      });
    });
    // Not awaited until run(): a thread that fails before then is reported by run().
    this.done.catch(() => undefined);
  }

  /** Floods for the duration; resolves when the last request was answered or timed out. */
  run(): Promise<void> {
    this.worker.postMessage({ type: 'run' } satisfies ParentToFlood);
    return this.done;
  }

  /** The second just closed, asked of the thread (so no second is lost between two clocks). */
  tick(): Promise<FloodSecond> {
    return new Promise((resolve) => {
      this.ticks.push(resolve);
      this.worker.postMessage({ type: 'tick' } satisfies ParentToFlood);
    });
  }

  stop(): void {
    this.worker.postMessage({ type: 'stop' } satisfies ParentToFlood);
  }

  /** The flood's report, with its thread's own event-loop delay p99 (ms); before run() resolved, an empty one. */
  report(): FloodReport {
    if (this.final) return this.final;
    return {
      offeredPerSecond: this.options.ratePerSecond,
      durationSeconds: this.options.durationSeconds,
      sourceAddresses: this.options.sources.length,
      sent: 0,
      notSent: 0,
      answered: 0,
      timeouts: 0,
      networkErrors: 0,
      answerMs: null,
      byStatus: {},
      byCode: {},
      serverErrors: 0,
      generatorLagP99Ms: null,
    };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
