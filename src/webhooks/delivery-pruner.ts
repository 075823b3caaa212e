/**
 * Keeps the deliveries' history from growing for ever: every node, an hour apart (the first a minute
 * after it starts), deletes the finished deliveries — delivered, or parked as failed — older than
 * `keepMs` (ROSTRUM_WEBHOOK_KEEP_DAYS, 30 by default), with their attempts, a batch at a time so a
 * long backlog never holds the database for long. Pending deliveries and the events stay: analytics
 * reads a space's stage events, and what is still being sent is never lost. Nodes pruning at once do
 * no harm (PostgreSQL: rows another node is deleting are skipped).
 */
import type { Logger } from 'pino';
import type { WebhookStore } from './webhook-store.js';

const FIRST_AFTER_MS = 60_000;
const EVERY_MS = 3_600_000;
const BATCH = 1000;
/** Batches a turn at most: the rest waits for the next turn. */
const BATCHES = 20;

export class DeliveryPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  /** Deliveries this node deleted. */
  pruned = 0;

  constructor(
    private readonly store: WebhookStore,
    private readonly keepMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.schedule(FIRST_AFTER_MS);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      void this.prune().finally(() => this.schedule(EVERY_MS));
    }, ms);
    this.timer.unref();
  }

  /** One turn: deletes what is past keeping (up to BATCHES × BATCH); resolves with how many. */
  prune(): Promise<number> {
    this.running ??= (async () => {
      const before = this.now() - this.keepMs;
      let total = 0;
      try {
        for (let batch = 0; batch < BATCHES; batch++) {
          const n = await this.store.pruneDeliveries(before, BATCH);
          total += n;
          if (n < BATCH) break;
        }
      } catch (err) {
        this.log.warn({ err }, 'webhooks: could not delete old deliveries; trying again at the next turn');
      }
      this.pruned += total;
      if (total > 0) this.log.info({ deleted: total, before: new Date(before).toISOString() }, 'webhooks: old deliveries deleted');
      return total;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
