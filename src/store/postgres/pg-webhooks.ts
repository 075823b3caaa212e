/**
 * WebhookStore on PostgreSQL, for several nodes: a delivery is taken with FOR UPDATE SKIP LOCKED and
 * leased, so two nodes' workers never take the same one at once. appendEvent runs inside the
 * caller's transaction (pg-store.ts), which holds the space's row: its sequence numbers are given
 * out one at a time.
 */
import type pg from 'pg';
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
import type { Row } from '../space-row.js';
import { attemptFromRow, attemptRow, attemptUpdate, DELIVERY_SUMMARY, deliveryFromRow, dueFromRow } from '../webhook-rows.js';

/** See sqlite-webhooks.ts: the same, in PostgreSQL's words. */
export async function appendEvent(c: pg.PoolClient, event: OutboxEvent): Promise<void> {
  const inserted = await c.query(
    `INSERT INTO webhook_events (id, space_id, seq, type, occurred_at, data)
     SELECT $1, $2, event_seq + 1, $3, $4, $5 FROM spaces WHERE id = $2
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [event.id, event.spaceId, event.type, event.occurredAt, JSON.stringify(event.data)],
  );
  if (inserted.rowCount === 0) return;
  await c.query('UPDATE spaces SET event_seq = event_seq + 1 WHERE id = $1', [event.spaceId]);
  await c.query(
    `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, state, next_attempt_at, retry_from, created_at)
     SELECT $1 || '.' || id, $1, id, 'pending', $2, $2, $2 FROM webhook_endpoints
     WHERE events = '*' OR position(',' || $3 || ',' in ',' || events || ',') > 0`,
    [event.id, event.occurredAt, event.type],
  );
}

export class PgWebhooks implements WebhookStore {
  constructor(
    private readonly query: (sql: string, params?: unknown[]) => Promise<Row[]>,
    private readonly transaction: <T>(work: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  async addEndpoint(e: WebhookEndpoint & { secret: string }): Promise<void> {
    await this.query('INSERT INTO webhook_endpoints (id, url, events, secret, description, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      e.id,
      e.url,
      e.events.join(','),
      e.secret,
      e.description,
      e.createdAt,
    ]);
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    return (await this.query('SELECT * FROM webhook_endpoints ORDER BY created_at, id')).map((r) => ({
      id: r.id as string,
      url: r.url as string,
      events: (r.events as string).split(','),
      description: r.description as string,
      createdAt: Number(r.created_at),
    }));
  }

  async removeEndpoint(id: string): Promise<boolean> {
    return (await this.query('DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  async takeDue(node: string, now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]> {
    const rows = await this.query(
      `WITH due AS (
         SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1
           AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
       ), leased AS (
         UPDATE webhook_deliveries d SET lease_node = $3, lease_until = $4 FROM due WHERE d.id = due.id
         RETURNING d.id, d.event_id, d.endpoint_id, d.attempts, d.retry_from
       )
       SELECT l.*, e.type, e.space_id, e.seq, e.occurred_at, e.data, w.url, w.secret
       FROM leased l JOIN webhook_events e ON e.id = l.event_id JOIN webhook_endpoints w ON w.id = l.endpoint_id`,
      [now, limit, node, leaseUntil],
    );
    return rows.map((r) => dueFromRow(r, r.data as Record<string, unknown>));
  }

  async recordAttempt(id: string, attempt: DeliveryAttempt, outcome: AttemptOutcome): Promise<boolean> {
    return this.transaction(async (c) => {
      const updated = await c.query(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1, next_attempt_at = $2, last_status = $3,
           last_error = $4, delivered_at = $5, lease_node = NULL, lease_until = NULL
         WHERE id = $6 AND lease_node = $7 AND state = 'pending'`,
        attemptUpdate(id, attempt, outcome),
      );
      if (updated.rowCount === 0) return false;
      await c.query(
        'INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms, node) VALUES ($1, $2, $3, $4, $5, $6)',
        attemptRow(id, attempt),
      );
      return true;
    });
  }

  async listDeliveries(q: DeliveryQuery): Promise<DeliverySummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = (column: string, value: unknown) => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    filter('d.state', q.state);
    filter('d.endpoint_id', q.endpointId);
    filter('e.space_id', q.spaceId);
    params.push(q.limit);
    const sql = `${DELIVERY_SUMMARY} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.id LIMIT $${params.length}`;
    return (await this.query(sql, params)).map(deliveryFromRow);
  }

  async getDelivery(id: string): Promise<(DeliverySummary & { attemptLog: DeliveryAttempt[] }) | undefined> {
    const [row] = await this.query(`${DELIVERY_SUMMARY} WHERE d.id = $1`, [id]);
    if (!row) return undefined;
    const attempts = await this.query('SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY at', [id]);
    return {
      ...deliveryFromRow(row),
      attemptLog: attempts.map(attemptFromRow),
    };
  }

  async spaceEvents(spaceId: SpaceId, types: readonly WebhookEventType[]) {
    const rows = await this.query(
      'SELECT type, occurred_at, data FROM webhook_events WHERE space_id = $1 AND type = ANY($2) ORDER BY seq',
      [spaceId, [...types]],
    );
    return rows.map((r) => ({
      type: r.type as WebhookEventType,
      occurredAt: Number(r.occurred_at),
      data: r.data as Record<string, unknown>,
    }));
  }

  async retryDelivery(id: string, now: number): Promise<boolean> {
    const rows = await this.query(
      `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, retry_from = $1, lease_node = NULL, lease_until = NULL
       WHERE id = $2 RETURNING id`,
      [now, id],
    );
    return rows.length > 0;
  }

  async pruneDeliveries(before: number, limit: number): Promise<number> {
    // Their attempts go with them (ON DELETE CASCADE); rows another node holds now are left to the next turn.
    const rows = await this.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND created_at < $1
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [before, limit],
    );
    return rows.length;
  }
}
