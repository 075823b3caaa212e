/**
 * WebhookStore: the webhook endpoints and the outbox, kept in the same database as the spaces so an
 * event is written in the same transaction as the change that caused it (SpaceStore's `event.append`
 * op and createSpace's events). Implementations: sqlite/sqlite-webhooks.ts (embedded default) and
 * postgres/pg-webhooks.ts (several nodes); test/store/webhook-store-contract.ts is the suite both pass.
 *
 * An event is fanned out, in that transaction, to one delivery per endpoint that wants its type. A
 * delivery is pending until an attempt gets a 2xx (delivered) or its retries run out (failed, and
 * re-sent on request). Delivery workers on any node take due deliveries with a lease: while one node
 * holds a delivery's lease, no other sends it.
 */
import type { SpaceId } from '../ids.js';
import type { WebhookEventType } from './events.js';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** The event types it wants; ['*'] for all. */
  events: string[];
  description: string;
  createdAt: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** A delivery a worker took, with what it needs to send it. */
export interface DueDelivery {
  id: string;
  eventId: string;
  type: WebhookEventType;
  spaceId: SpaceId;
  sequence: number;
  occurredAt: number;
  data: Record<string, unknown>;
  url: string;
  secret: string;
  /** Attempts made before this one. */
  attempts: number;
  /** When its retries began (its creation, or the last manual retry). */
  retryFrom: number;
}

export interface DeliveryAttempt {
  at: number;
  /** The HTTP status, or null when there was none (refused, timed out). */
  status: number | null;
  error: string | null;
  durationMs: number;
  node: string;
}

export interface DeliverySummary {
  id: string;
  eventId: string;
  endpointId: string;
  type: WebhookEventType;
  spaceId: SpaceId;
  sequence: number;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** What an attempt led to. */
export type AttemptOutcome = { state: 'delivered' } | { state: 'pending'; retryAt: number } | { state: 'failed' };

export interface DeliveryQuery {
  state?: DeliveryState;
  endpointId?: string;
  spaceId?: SpaceId;
  limit: number;
}

export interface WebhookStore {
  addEndpoint(endpoint: WebhookEndpoint & { secret: string }): Promise<void>;
  listEndpoints(): Promise<WebhookEndpoint[]>;
  /** Removes it with its deliveries; false when there was none. */
  removeEndpoint(id: string): Promise<boolean>;
  /**
   * Takes up to `limit` pending deliveries due at `now` whose lease is free, leasing them to `node`
   * until `leaseUntil`; oldest due first.
   */
  takeDue(node: string, now: number, leaseUntil: number, limit: number): Promise<DueDelivery[]>;
  /** Records an attempt of a delivery this node leased and what it led to; false if the lease was lost. */
  recordAttempt(id: string, attempt: DeliveryAttempt, outcome: AttemptOutcome): Promise<boolean>;
  listDeliveries(query: DeliveryQuery): Promise<DeliverySummary[]>;
  getDelivery(id: string): Promise<(DeliverySummary & { attemptLog: DeliveryAttempt[] }) | undefined>;
  /** A space's events of these types, in their sequence (analytics reads the stage's comings and goings). */
  spaceEvents(
    spaceId: SpaceId,
    types: readonly WebhookEventType[],
  ): Promise<Array<{ type: WebhookEventType; occurredAt: number; data: Record<string, unknown> }>>;
  /** Makes a delivery pending again, due at `now`, its retries counted from `now`; false if unknown. */
  retryDelivery(id: string, now: number): Promise<boolean>;
  /**
   * Deletes up to `limit` finished deliveries (delivered, or parked as failed) made before `before`,
   * with their attempts, oldest first; returns how many. Pending ones are never deleted, nor events
   * (analytics reads the stage's from them).
   */
  pruneDeliveries(before: number, limit: number): Promise<number>;
}
