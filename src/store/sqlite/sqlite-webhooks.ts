/**
 * WebhookStore on the embedded SQLite database (sqlite-store.ts owns the connection and its error
 * translation; `guard` is its). appendEvent runs inside the caller's transaction.
 */
import type Database from 'better-sqlite3';
import type { SpaceId } from '../../ids.js';
import type { OutboxEvent, WebhookEventType } from '../../webhooks/events.js';
import type {
  AttemptOutcome,
  DeliveryAttempt,
  DeliveryQuery,
  DeliverySummary,
  DueDelivery,
  WebhookEndpoint,
  WebhookStore,
} from '../../webhooks/webhook-store.js';
import { attemptFromRow, attemptRow, attemptUpdate, DELIVERY_SUMMARY, deliveryFromRow, dueFromRow } from '../webhook-rows.js';

type Row = Record<string, unknown>;

/**
 * Writes the event with the space's next sequence number and a delivery for each endpoint that
 * wants it; an event whose id is there already (one that may be produced again) is left as it was.
 */
export function appendEvent(db: Database.Database, event: OutboxEvent): void {
  const inserted = db
    .prepare(
      `INSERT INTO webhook_events (id, space_id, seq, type, occurred_at, data)
       SELECT ?, ?, event_seq + 1, ?, ?, ? FROM spaces WHERE id = ?
       ON CONFLICT (id) DO NOTHING`,
    )
    .run(event.id, event.spaceId, event.type, event.occurredAt, JSON.stringify(event.data), event.spaceId);
  if (inserted.changes === 0) return;
  db.prepare('UPDATE spaces SET event_seq = event_seq + 1 WHERE id = ?').run(event.spaceId);
  db.prepare(
    `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, state, next_attempt_at, retry_from, created_at)
     SELECT ? || '.' || id, ?, id, 'pending', ?, ?, ? FROM webhook_endpoints
     WHERE events = '*' OR instr(',' || events || ',', ',' || ? || ',') > 0`,
  ).run(event.id, event.id, event.occurredAt, event.occurredAt, event.occurredAt, event.type);
}

export class SqliteWebhooks implements WebhookStore {
  constructor(
    private readonly db: Database.Database,
    private readonly guard: <T>(call: () => T) => T,
  ) {}

  async addEndpoint(e: WebhookEndpoint & { secret: string }): Promise<void> {
    this.guard(() =>
      this.db
        .prepare('INSERT INTO webhook_endpoints (id, url, events, secret, description, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.id, e.url, e.events.join(','), e.secret, e.description, e.createdAt),
    );
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    return this.guard(() =>
      (this.db.prepare('SELECT * FROM webhook_endpoints ORDER BY created_at, id').all() as Row[]).map((r) => ({
        id: r.id as string,
        url: r.url as string,
        events: (r.events as string).split(','),
        description: r.description as string,
        createdAt: r.created_at as number,
      })),
    );
  }

  async removeEndpoint(id: string): Promise<boolean> {
    return this.guard(() => this.db.prepare('DELETE FROM webhook_endpoints WHERE id = ?').run(id).changes > 0);
  }

  async takeDue(node: string, now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]> {
    return this.guard(() =>
      this.db.transaction(() => {
        const ids = (
          this.db
            .prepare(
              `SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?`,
            )
            .all(now, now, limit) as Row[]
        ).map((r) => r.id as string);
        const lease = this.db.prepare('UPDATE webhook_deliveries SET lease_node = ?, lease_until = ? WHERE id = ?');
        const detail = this.db.prepare(
          `SELECT d.id, d.event_id, d.attempts, d.retry_from, e.type, e.space_id, e.seq, e.occurred_at, e.data, w.url, w.secret
           FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
           WHERE d.id = ?`,
        );
        return ids.map((id) => {
          lease.run(node, leaseUntil, id);
          const r = detail.get(id) as Row;
          return dueFromRow(r, JSON.parse(r.data as string) as Record<string, unknown>);
        });
      })(),
    );
  }

  async recordAttempt(id: string, attempt: DeliveryAttempt, outcome: AttemptOutcome): Promise<boolean> {
    return this.guard(() =>
      this.db.transaction(() => {
        const updated = this.db
          .prepare(
            `UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_at = ?, last_status = ?,
               last_error = ?, delivered_at = ?, lease_node = NULL, lease_until = NULL
             WHERE id = ? AND lease_node = ? AND state = 'pending'`,
          )
          .run(...attemptUpdate(id, attempt, outcome));
        if (updated.changes === 0) return false;
        this.db
          .prepare('INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms, node) VALUES (?, ?, ?, ?, ?, ?)')
          .run(...attemptRow(id, attempt));
        return true;
      })(),
    );
  }

  async listDeliveries(q: DeliveryQuery): Promise<DeliverySummary[]> {
    return this.guard(() => {
      const where: string[] = [];
      const params: unknown[] = [];
      const filter = (column: string, value: unknown) => {
        if (value === undefined) return;
        where.push(`${column} = ?`);
        params.push(value);
      };
      filter('d.state', q.state);
      filter('d.endpoint_id', q.endpointId);
      filter('e.space_id', q.spaceId);
      const sql = `${DELIVERY_SUMMARY} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.id LIMIT ?`;
      return (this.db.prepare(sql).all(...params, q.limit) as Row[]).map(deliveryFromRow);
    });
  }

  async getDelivery(id: string): Promise<(DeliverySummary & { attemptLog: DeliveryAttempt[] }) | undefined> {
    return this.guard(() => {
      const row = this.db.prepare(`${DELIVERY_SUMMARY} WHERE d.id = ?`).get(id) as Row | undefined;
      if (!row) return undefined;
      const attempts = this.db.prepare('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY at').all(id) as Row[];
      return {
        ...deliveryFromRow(row),
        attemptLog: attempts.map(attemptFromRow),
      };
    });
  }

  async spaceEvents(spaceId: SpaceId, types: readonly WebhookEventType[]) {
    return this.guard(() =>
      (
        this.db
          .prepare(
            `SELECT type, occurred_at, data FROM webhook_events WHERE space_id = ? AND type IN (${types.map(() => '?').join(', ')}) ORDER BY seq`,
          )
          .all(spaceId, ...types) as Row[]
      ).map((r) => ({
        type: r.type as WebhookEventType,
        occurredAt: r.occurred_at as number,
        data: JSON.parse(r.data as string) as Record<string, unknown>,
      })),
    );
  }

  async retryDelivery(id: string, now: number): Promise<boolean> {
    return this.guard(
      () =>
        this.db
          .prepare(
            `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, retry_from = ?, lease_node = NULL, lease_until = NULL
             WHERE id = ?`,
          )
          .run(now, now, id).changes > 0,
    );
  }

  async pruneDeliveries(before: number, limit: number): Promise<number> {
    // Their attempts go with them (ON DELETE CASCADE; the connection enforces foreign keys).
    return this.guard(
      () =>
        this.db
          .prepare(
            `DELETE FROM webhook_deliveries WHERE id IN (
               SELECT id FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND created_at < ? ORDER BY created_at LIMIT ?)`,
          )
          .run(before, limit).changes,
    );
  }
}
