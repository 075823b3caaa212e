/** The webhooks API's request and response schemas (routes/webhooks.ts); see schemas.ts for the conventions. */
import { type Static, Type } from 'typebox';
import { WEBHOOK_EVENTS, type WebhookEventType } from '../webhooks/events.js';
import { closed, IsoTime, NullableIso } from './schemas.js';
import { HTTP_URL, TEXT_LINE } from './validation.js';

const EventName = Type.Unsafe<WebhookEventType | '*'>({
  type: 'string',
  enum: [...WEBHOOK_EVENTS, '*'],
  description: 'An event type, or * for all of them.',
});

export const WebhookIdParam = Type.Object({ id: Type.String({ pattern: '^whk_[A-Za-z0-9_-]{8,64}$' }) }, closed);
export const DeliveryIdParam = Type.Object(
  { id: Type.String({ pattern: '^evt_[A-Za-z0-9_-]{1,120}\\.whk_[A-Za-z0-9_-]{8,64}$' }) },
  closed,
);

export const WebhookBody = Type.Object(
  {
    url: Type.String({ maxLength: 2048, format: HTTP_URL, description: 'Where events are POSTed: an http or https URL.' }),
    events: Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length + 1, uniqueItems: true }),
    description: Type.Optional(Type.String({ maxLength: 200, format: TEXT_LINE })),
  },
  closed,
);
export type WebhookBody = Static<typeof WebhookBody>;

const WebhookProperties = {
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.String(),
  createdAt: IsoTime,
};
export const Webhook = Type.Object(WebhookProperties);
export const CreatedWebhook = Type.Object({
  ...WebhookProperties,
  secret: Type.String({ description: 'The signing secret (Standard Webhooks, whsec_…): shown only in this answer.' }),
});
export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook) });

const DeliveryProperties = {
  id: Type.String(),
  eventId: Type.String({ description: 'The webhook-id header: the same at every attempt and for every endpoint.' }),
  webhookId: Type.String(),
  type: Type.String(),
  spaceId: Type.String(),
  sequence: Type.Integer({ description: "The event's place among its space's events (retries may reorder deliveries)." }),
  state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  nextAttemptAt: NullableIso,
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: IsoTime,
  deliveredAt: NullableIso,
};
export const Delivery = Type.Object(DeliveryProperties);
export const DeliveryDetail = Type.Object({
  ...DeliveryProperties,
  attemptLog: Type.Array(
    Type.Object({
      at: IsoTime,
      status: Type.Union([Type.Integer(), Type.Null()]),
      error: Type.Union([Type.String(), Type.Null()]),
      durationMs: Type.Integer(),
      node: Type.String(),
    }),
  ),
});
export const DeliveryList = Type.Object({ deliveries: Type.Array(Delivery) });
export const DeliveryQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')])),
    webhook: Type.Optional(WebhookIdParam.properties.id),
    space: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  closed,
);
export type DeliveryQuery = Static<typeof DeliveryQuery>;
