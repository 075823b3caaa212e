/**
 * The webhook tables as both stores lay them out (sqlite/sqlite-webhooks.ts, postgres/pg-webhooks.ts):
 * rows back into deliveries and attempts, and an attempt's values in the order both stores' statements
 * take them. The engines differ only in placeholders and in how the event's data comes back (SQLite:
 * JSON text; PostgreSQL: JSONB, parsed), which each passes in.
 */
import type { SpaceId } from '../ids.js';
import type { WebhookEventType } from '../webhooks/events.js';
import type { AttemptOutcome, DeliveryAttempt, DeliveryState, DeliverySummary, DueDelivery } from '../webhooks/webhook-store.js';
import type { Row } from './space-row.js';

/** Deliveries with their event's type, space and sequence. */
export const DELIVERY_SUMMARY =
  'SELECT d.*, e.type, e.space_id, e.seq FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function deliveryFromRow(r: Row): DeliverySummary {
  return {
    id: r.id as string,
    eventId: r.event_id as string,
    endpointId: r.endpoint_id as string,
    type: r.type as WebhookEventType,
    spaceId: r.space_id as SpaceId,
    sequence: Number(r.seq),
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    lastStatus: num(r.last_status),
    lastError: (r.last_error as string | null) ?? null,
    createdAt: Number(r.created_at),
    deliveredAt: num(r.delivered_at),
  };
}

export function attemptFromRow(a: Row): DeliveryAttempt {
  return {
    at: Number(a.at),
    status: num(a.status),
    error: (a.error as string | null) ?? null,
    durationMs: Number(a.duration_ms),
    node: a.node as string,
  };
}

/** A due delivery: the row of the leased delivery joined with its event and endpoint. */
export function dueFromRow(r: Row, data: Record<string, unknown>): DueDelivery {
  return {
    id: r.id as string,
    eventId: r.event_id as string,
    type: r.type as WebhookEventType,
    spaceId: r.space_id as SpaceId,
    sequence: Number(r.seq),
    occurredAt: Number(r.occurred_at),
    data,
    url: r.url as string,
    secret: r.secret as string,
    attempts: Number(r.attempts),
    retryFrom: Number(r.retry_from),
  };
}

/** What an attempt sets on its delivery: state, next attempt, last status and error, delivered at; then id and node. */
export function attemptUpdate(id: string, attempt: DeliveryAttempt, outcome: AttemptOutcome): unknown[] {
  return [
    outcome.state,
    outcome.state === 'pending' ? outcome.retryAt : null,
    attempt.status,
    attempt.error,
    outcome.state === 'delivered' ? attempt.at : null,
    id,
    attempt.node,
  ];
}

/** The attempt's row: delivery, at, status, error, duration, node. */
export function attemptRow(id: string, attempt: DeliveryAttempt): unknown[] {
  return [id, attempt.at, attempt.status, attempt.error, Math.round(attempt.durationMs), attempt.node];
}
