/**
 * An attack on the join path, for rehearsals: an open-loop flood of joins at a set rate, from many
 * source addresses, that ignores Retry-After, never solves a challenge and never comes back with a
 * ticket — bots, not players. Open loop means the rate does not drop when the server slows down
 * (as a closed loop of waiting clients would, hiding the overload). It records how the server
 * answers them: statuses and error codes, each answer's latency, timeouts and refused connections.
 *
 * No library does this: autocannon and wrk are closed-loop (a fixed number of connections each
 * waiting for its answer), and neither spreads its requests over source addresses.
 */
import { Pool } from 'undici';
import { type Percentiles, percentiles } from '../bots/listener-bot.js';
import { keep } from './stats.js';

export interface FloodOptions {
  origin: string;
  /** Join paths to flood, taken in turn (/api/spaces/ID/join). */
  joinPaths: string[];
  ratePerSecond: number;
  durationSeconds: number;
  /** Source addresses (undefined: the system's choice); each gets its own small pool. */
  sources: Array<string | undefined>;
  /** An answer later than this is a timeout, ms. */
  timeoutMs: number;
}

export interface FloodReport {
  offeredPerSecond: number;
  durationSeconds: number;
  sourceAddresses: number;
  /** Requests sent, and those the generator could not send (too many already waiting for answers). */
  sent: number;
  notSent: number;
  answered: number;
  timeouts: number;
  /** No answer at all: refused or reset connections. */
  networkErrors: number;
  /** Answer time from the request's dispatch to its whole body (a sample of up to 100,000). */
  answerMs: Percentiles | null;
  /** Answers by HTTP status, and by what they said: admitted, queued, or the error code. */
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  /** 5xx answers other than 503 (which is a deliberate, immediate "come back later"). */
  serverErrors: number;
  /**
   * The event-loop delay p99 of the thread that sent the flood, ms (flood-worker.ts): high means
   * the answer times are partly the generator's own. Absent where the flood ran in the caller's loop.
   */
  generatorLagP99Ms?: number | null;
}

/** Requests waiting for an answer at most; beyond it the generator skips (and counts) the rest. */
const MAX_IN_FLIGHT = 20_000;
/** How often the generator sends what is due, ms. */
const TICK_MS = 5;

/** Source addresses for a flood against an IPv4 loopback target: 127.1.x.y, apart from the listeners' 127.0.x.y. */
export function floodSources(server: string, count: number): Array<string | undefined> {
  if (!/^127\.\d+\.\d+\.\d+$/.test(new URL(server).hostname)) return [undefined];
  return Array.from({ length: Math.min(4_000, Math.max(1, count)) }, (_, i) => `127.1.${Math.floor(i / 250)}.${1 + (i % 250)}`);
}

export class JoinFlood {
  private readonly pools: Pool[];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private due = 0;
  private inFlight = 0;
  private readonly samples: number[] = [];
  private readonly stats = {
    sent: 0,
    notSent: 0,
    answered: 0,
    timeouts: 0,
    networkErrors: 0,
    byStatus: {} as Record<string, number>,
    byCode: {} as Record<string, number>,
  };
  /** Answers and answer times in the current second (for the per-second series). */
  private second = { sent: 0, answered: 0, answerMs: [] as number[] };
  /** Ends the run once nothing is waiting for an answer. */
  private finish: (() => void) | undefined;

  constructor(private readonly options: FloodOptions) {
    this.pools = options.sources.map(
      (localAddress) => new Pool(options.origin, { connections: 4, pipelining: 1, ...(localAddress ? { localAddress } : {}) }),
    );
  }

  /** Floods for the duration; resolves when the last request was answered or timed out. */
  run(): Promise<void> {
    this.startedAt = performance.now();
    const durationMs = this.options.durationSeconds * 1000;
    return new Promise((resolve) => {
      this.finish = () => {
        this.finish = undefined;
        const settle = setInterval(() => {
          if (this.inFlight > 0) return;
          clearInterval(settle);
          resolve();
        }, 20);
      };
      this.timer = setInterval(() => {
        const elapsed = Math.min(performance.now() - this.startedAt, durationMs);
        const target = Math.floor((elapsed / 1000) * this.options.ratePerSecond);
        for (; this.due < target; this.due++) this.send(this.due);
        if (elapsed >= durationMs) this.stop();
      }, TICK_MS);
    });
  }

  private send(n: number): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.stats.notSent++;
      return;
    }
    const pool = this.pools[n % this.pools.length]!;
    const path = this.options.joinPaths[n % this.options.joinPaths.length]!;
    this.inFlight++;
    this.stats.sent++;
    this.second.sent++;
    const sentAt = performance.now();
    pool
      .request({ method: 'POST', path, headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs })
      .then(async (response) => {
        const text = await response.body.text();
        const ms = performance.now() - sentAt;
        if (ms > this.options.timeoutMs) this.stats.timeouts++;
        this.answer(response.statusCode, text, ms);
      })
      .catch((err: { code?: string }) => {
        if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') this.stats.timeouts++;
        else this.stats.networkErrors++;
      })
      .finally(() => this.inFlight--);
  }

  private answer(status: number, body: string, ms: number): void {
    this.stats.answered++;
    this.second.answered++;
    this.second.answerMs.push(ms);
    keep(this.samples, ms, this.stats.answered);
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
    let code = 'unreadable';
    if (status === 200) code = 'admitted';
    else if (status === 202) code = 'queued';
    else {
      try {
        code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? code;
      } catch {
        // Not our error shape (a proxy's page?): counted as unreadable.
      }
    }
    this.stats.byCode[code] = (this.stats.byCode[code] ?? 0) + 1;
  }

  /** The second just closed: requests sent, answered, and the answers' p99. */
  tick(): { sent: number; answered: number; answerMs: Percentiles | null } {
    const second = { sent: this.second.sent, answered: this.second.answered, answerMs: percentiles(this.second.answerMs) };
    this.second = { sent: 0, answered: 0, answerMs: [] };
    return second;
  }

  /** Stops sending; `run()` resolves once the requests sent are answered or timed out. */
  stop(): void {
    clearInterval(this.timer);
    this.finish?.();
  }

  report(): FloodReport {
    const s = this.stats;
    const serverErrors = Object.entries(s.byStatus)
      .filter(([status]) => Number(status) >= 500 && status !== '503')
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      offeredPerSecond: this.options.ratePerSecond,
      durationSeconds: this.options.durationSeconds,
      sourceAddresses: this.pools.length,
      sent: s.sent,
      notSent: s.notSent,
      answered: s.answered,
      timeouts: s.timeouts,
      networkErrors: s.networkErrors,
      answerMs: percentiles(this.samples),
      byStatus: { ...s.byStatus },
      byCode: { ...s.byCode },
      serverErrors,
    };
  }

  async close(): Promise<void> {
    this.stop();
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }
}
