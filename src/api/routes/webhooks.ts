/**
 * The operator's webhooks: endpoints (POST/GET/DELETE /api/webhooks; the signing secret is shown
 * once, at creation) and their deliveries (listed, one with its attempts, and re-sent on request).
 * Operator only.
 */
import crypto from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import type { SpaceId } from '../../ids.js';
import { newSecret } from '../../webhooks/signature.js';
import type { DeliverySummary, WebhookEndpoint } from '../../webhooks/webhook-store.js';
import { operatorOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { iso } from '../present.js';
import { AuthErrors, AuthWriteErrors, EmptyBody, ErrorResponses, Ok } from '../schemas.js';
import {
  CreatedWebhook,
  DeliveryDetail,
  DeliveryIdParam,
  DeliveryList,
  DeliveryQuery,
  WebhookBody,
  WebhookIdParam,
  WebhookList,
} from '../webhook-schemas.js';

function presentWebhook(w: WebhookEndpoint) {
  return { id: w.id, url: w.url, events: w.events, description: w.description, createdAt: iso(w.createdAt) as string };
}

function presentDelivery(d: DeliverySummary) {
  const { endpointId, nextAttemptAt, createdAt, deliveredAt, ...rest } = d;
  return {
    ...rest,
    webhookId: endpointId,
    nextAttemptAt: iso(nextAttemptAt),
    createdAt: iso(createdAt) as string,
    deliveredAt: iso(deliveredAt),
  };
}

export function webhookRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const store = deps.webhooks;

  r.post(
    '/api/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'addWebhook',
        summary: 'Add a webhook endpoint: the events it wants; its signing secret is in this answer only (operator)',
        body: WebhookBody,
        response: { 201: CreatedWebhook, ...AuthWriteErrors },
      },
    },
    async (request, reply) => {
      const actor = operatorOf(request, deps.tokens);
      const events: string[] = request.body.events.includes('*') ? ['*'] : request.body.events;
      const endpoint = {
        id: `whk_${crypto.randomBytes(12).toString('base64url')}`,
        url: request.body.url,
        events,
        description: request.body.description ?? '',
        createdAt: Date.now(),
        secret: newSecret(),
      };
      await store.addEndpoint(endpoint);
      request.log.info({ actor: actor.identity, webhook: endpoint.id, url: endpoint.url, events }, 'webhook added');
      reply.code(201);
      return { ...presentWebhook(endpoint), secret: endpoint.secret };
    },
  );

  r.get(
    '/api/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhooks',
        summary: 'The webhook endpoints (without their secrets) (operator)',
        response: { 200: WebhookList, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      operatorOf(request, deps.tokens);
      return { webhooks: (await store.listEndpoints()).map(presentWebhook) };
    },
  );

  r.delete(
    '/api/webhooks/:id',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'removeWebhook',
        summary: 'Remove a webhook endpoint; its pending deliveries are dropped (operator)',
        params: WebhookIdParam,
        body: EmptyBody,
        response: { 200: Ok, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const actor = operatorOf(request, deps.tokens);
      if (!(await store.removeEndpoint(request.params.id))) throw fail('webhook_not_found');
      request.log.info({ actor: actor.identity, webhook: request.params.id }, 'webhook removed');
      return { ok: true as const };
    },
  );

  r.get(
    '/api/webhooks/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'listWebhookDeliveries',
        summary: 'Deliveries, newest first: pending, delivered or failed (parked after a day of retries) (operator)',
        querystring: DeliveryQuery,
        response: { 200: DeliveryList, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      operatorOf(request, deps.tokens);
      const q = request.query;
      const deliveries = await store.listDeliveries({
        limit: q.limit ?? 100,
        ...(q.state ? { state: q.state } : {}),
        ...(q.webhook ? { endpointId: q.webhook } : {}),
        ...(q.space ? { spaceId: q.space as SpaceId } : {}),
      });
      return { deliveries: deliveries.map(presentDelivery) };
    },
  );

  r.get(
    '/api/webhooks/deliveries/:id',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'getWebhookDelivery',
        summary: 'One delivery with every attempt made (operator)',
        params: DeliveryIdParam,
        response: { 200: DeliveryDetail, ...ErrorResponses, ...AuthErrors },
      },
    },
    async (request) => {
      operatorOf(request, deps.tokens);
      const delivery = await store.getDelivery(request.params.id);
      if (!delivery) throw fail('delivery_not_found');
      return {
        ...presentDelivery(delivery),
        attemptLog: delivery.attemptLog.map((a) => ({ ...a, at: iso(a.at) as string, durationMs: Math.round(a.durationMs) })),
      };
    },
  );

  r.post(
    '/api/webhooks/deliveries/:id/retry',
    {
      schema: {
        tags: ['webhooks'],
        operationId: 'retryWebhookDelivery',
        summary: 'Send a delivery again now (a failed one, or any), with a fresh day of retries (operator)',
        params: DeliveryIdParam,
        body: EmptyBody,
        response: { 200: Ok, ...AuthWriteErrors },
      },
    },
    async (request) => {
      const actor = operatorOf(request, deps.tokens);
      if (!(await store.retryDelivery(request.params.id, Date.now()))) throw fail('delivery_not_found');
      request.log.info({ actor: actor.identity, delivery: request.params.id }, 'webhook delivery sent again on request');
      deps.nudgeWebhooks();
      return { ok: true as const };
    },
  );
}
