/**
 * Sends the outbox. Every node runs one: each turn it takes the deliveries that are due (leased to
 * it in the store, so no other node sends them meanwhile), POSTs each signed per Standard Webhooks,
 * and records the attempt. A 2xx is done; anything else — a refusal, a timeout, a 500 — is tried
 * again after an exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter": a
 * uniformly random wait up to min(cap, base·2^attempt)), until `retryForMs` after it was made; then
 * it is parked as failed, listed, and re-sent on request. Nothing here is on a space's path: a
 * receiver that is down or slow only ever costs this worker its own slots.
 */
import type { Logger } from 'pino';
import { signedHeaders } from './signature.js';
import type { DueDelivery, WebhookStore } from './webhook-store.js';

export interface DeliverySettings {
  /** How long one attempt may take, ms. */
  timeoutMs: number;
  /** The backoff's base and cap, ms. */
  backoffMs: number;
  backoffCapMs: number;
  /** How long a delivery is retried before it is parked as failed, ms. */
  retryForMs: number;
  /** Attempts in flight at once on this node. */
  concurrency: number;
  /** How often the store is asked for due deliveries, ms (sooner when this node wrote some). */
  pollMs: number;
}

/** The wait before attempt `attempts + 1` (`attempts` failed already): full jitter. */
export function backoff(attempts: number, settings: Pick<DeliverySettings, 'backoffMs' | 'backoffCapMs'>, random = Math.random): number {
  const ceiling = Math.min(settings.backoffCapMs, settings.backoffMs * 2 ** Math.min(attempts - 1, 30));
  return Math.floor(random() * ceiling);
}

/** The body a delivery sends: the same bytes at every attempt. */
export function deliveryBody(d: DueDelivery): string {
  return JSON.stringify({ type: d.type, timestamp: new Date(d.occurredAt).toISOString(), sequence: d.sequence, data: d.data });
}

export interface DeliveryCounters {
  attempts: number;
  delivered: number;
  failedAttempts: number;
  parked: number;
}

export class DeliveryWorker {
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private turn: Promise<void> | undefined;
  private readonly abort = new AbortController();
  readonly counters: DeliveryCounters = { attempts: 0, delivered: 0, failedAttempts: 0, parked: 0 };

  constructor(
    private readonly store: WebhookStore,
    private readonly node: string,
    private readonly settings: DeliverySettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Looks for due deliveries soon (this node just wrote some). */
  nudge(): void {
    this.schedule(50);
  }

  private schedule(ms: number): void {
    if (this.abort.signal.aborted) return;
    if (this.timer) {
      if (ms >= this.settings.pollMs) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.turn ??= this.take().finally(() => {
        this.turn = undefined;
        this.schedule(this.settings.pollMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async take(): Promise<void> {
    const free = this.settings.concurrency - this.inFlight;
    if (free <= 0) return;
    const now = this.now();
    // The lease outlasts the attempt, so no other node takes it while it may still be answered.
    const leaseUntil = now + this.settings.timeoutMs + 5000;
    let due: DueDelivery[];
    try {
      due = await this.store.takeDue(this.node, now, leaseUntil, free);
    } catch (err) {
      this.log.warn({ err }, 'webhooks: could not read the outbox; trying again');
      return;
    }
    for (const delivery of due) {
      this.inFlight++;
      void this.send(delivery).finally(() => {
        this.inFlight--;
        this.schedule(0);
      });
    }
  }

  private async send(d: DueDelivery): Promise<void> {
    const body = deliveryBody(d);
    const started = this.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Rostrum-Webhooks/1',
          ...signedHeaders(d.secret, d.eventId, body, started),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.settings.timeoutMs), this.abort.signal]),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      error = e.name === 'TimeoutError' ? `timed out after ${this.settings.timeoutMs} ms` : (e.cause?.code ?? e.message);
    }
    if (this.abort.signal.aborted) return; // shutting down: the lease runs out and another turn sends it
    const at = this.now();
    const attempts = d.attempts + 1;
    this.counters.attempts++;
    const outcome =
      error === null
        ? ({ state: 'delivered' } as const)
        : at - d.retryFrom >= this.settings.retryForMs
          ? ({ state: 'failed' } as const)
          : ({ state: 'pending', retryAt: at + backoff(attempts, this.settings) } as const);
    if (outcome.state === 'delivered') this.counters.delivered++;
    else this.counters.failedAttempts++;
    if (outcome.state === 'failed') this.counters.parked++;
    const log = { delivery: d.id, type: d.type, spaceId: d.spaceId, attempt: attempts, status, error };
    if (outcome.state === 'failed')
      this.log.error(log, 'webhook delivery failed for good: parked (POST /api/webhooks/deliveries/:id/retry)');
    else if (outcome.state === 'pending')
      this.log.warn({ ...log, retryAt: new Date(outcome.retryAt).toISOString() }, 'webhook delivery failed; will retry');
    try {
      await this.store.recordAttempt(d.id, { at, status, error, durationMs: at - started, node: this.node }, outcome);
    } catch (err) {
      // Not recorded: the lease runs out and the delivery is sent again (at least once, never lost).
      this.log.warn({ err, delivery: d.id }, 'webhooks: could not record an attempt');
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.turn;
  }
}
