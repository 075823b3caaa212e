/**
 * Any node answers any request: one that only a space's owner can serve is sent to it. Which those
 * are is decided per route: a write to a space (`/api/spaces/:id/…` with POST, PUT, PATCH, DELETE)
 * runs on the owner unless the route is marked `anyNode` (joins, heartbeats, reactions, reminders,
 * token grants: answered from this node's own view and counters), and a read marked `owner` (the
 * live window and the recording, on the owner's disk) goes there too. The stage's socket is bridged
 * separately (stage/rtc-bridge.ts).
 *
 * A request is forwarded after this node's rate limits and validation passed, once: it carries the
 * sending node's id and the cluster's key (derived from the API secret every node shares), so the
 * owner neither limits it again (it would count every client of the sending node as one address)
 * nor forwards it on — if ownership moved meanwhile it runs where it landed, or is refused with
 * stale_owner and retried by the client. A node that cannot reach the owner answers
 * cluster_unavailable (503, Retry-After); nothing is retried here, so a write is never sent twice.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import type { NodeInfo } from '../cluster/node-identity.js';
import type { Ownership } from '../cluster/ownership.js';
import { fail } from '../errors.js';
import { asSpaceId } from '../ids.js';
import { sendError } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served only by the space's owner (other nodes forward it); default: writes to a space. */
    owner?: boolean;
    /** A write any node answers itself (joins, heartbeats, reactions…). */
    anyNode?: boolean;
  }
  interface FastifyRequest {
    /** The node that forwarded this request here (authenticated), if one did. */
    forwardedBy: string | undefined;
  }
}

export const FORWARDED_BY = 'x-rostrum-forwarded-by';
export const NODE_KEY = 'x-rostrum-node-key';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a route is served only by the owner of the space in its `:id`. */
export function ownerOnly(route: Pick<RouteOptions, 'url' | 'method' | 'config'>): boolean {
  if (!route.url.includes('/:id')) return false;
  const config = route.config as { owner?: boolean; anyNode?: boolean } | undefined;
  if (config?.owner) return true;
  if (config?.anyNode) return false;
  return [route.method].flat().some((m) => WRITES.has(m)) && route.url.startsWith('/api/spaces/:id');
}

export interface Forwarding {
  /** Requests sent to another node, and those that could not reach it. */
  counts: { forwarded: number; failed: number };
}

/**
 * `readAnywhere(id)`: whether the reads marked `owner` may be served by any node for this space now —
 * when it has ended and its recording is in a store every node reads, its replay is not the owner's.
 */
export async function registerForwarding(
  app: FastifyInstance,
  ownership: Ownership,
  clusterKey: string,
  readAnywhere: (id: ReturnType<typeof asSpaceId>) => boolean = () => false,
): Promise<Forwarding> {
  const counts = { forwarded: 0, failed: 0 };
  app.decorateRequest('forwardedBy', undefined);
  // One node: nobody forwards to it, so no request pays for the check below.
  if (ownership.kind === 'local') return { counts };
  // Which node sent a request here is believed only with the cluster's key; the headers are never passed on to a handler.
  app.addHook('onRequest', (request, _reply, done) => {
    const by = request.headers[FORWARDED_BY];
    if (by !== undefined) {
      if (typeof by === 'string' && request.headers[NODE_KEY] === clusterKey) request.forwardedBy = by;
      delete request.headers[FORWARDED_BY];
      delete request.headers[NODE_KEY];
    }
    done();
  });

  // Loaded only when there are other nodes: the embedded default carries none of its code (undici).
  const { default: replyFrom } = await import('@fastify/reply-from');
  await app.register(replyFrom, {
    disableRequestLogging: true,
    undici: { connections: 128, pipelining: 1, headersTimeout: 15_000, bodyTimeout: 30_000 },
  });

  const send = (request: FastifyRequest, reply: FastifyReply, owner: NodeInfo): void => {
    counts.forwarded++;
    reply.header('x-rostrum-node', owner.id);
    reply.from(`${owner.url}${request.url}`, {
      // Never retried here: a write must not be sent twice, and a 503 goes back to the client with its Retry-After.
      retryDelay: () => null,
      rewriteRequestHeaders: (_req, headers) => ({
        ...headers,
        [FORWARDED_BY]: ownership.node.id,
        [NODE_KEY]: clusterKey,
        'x-forwarded-for': [headers['x-forwarded-for'], request.ip].filter(Boolean).join(', '),
      }),
      onError: (r, { error }) => {
        counts.failed++;
        request.log.warn({ err: error, owner: owner.id, url: request.url }, 'could not reach the node that runs the space');
        sendError(r as FastifyReply, fail('cluster_unavailable', `The node that runs this space (${owner.id}) does not answer; retry.`, 1));
      },
    });
  };

  // Callback style: when the request is forwarded, `done` is never called — the owner's answer is the reply.
  const hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const id = asSpaceId((request.params as { id: string }).id);
    // Sent here by another node, or run here, or a replay any node reads: served here.
    const read = request.routeOptions.config.owner === true && !WRITES.has(request.method);
    if (request.forwardedBy !== undefined || ownership.owns(id) || (read && readAnywhere(id))) {
      done();
      return;
    }
    ownership.ownerOf(id).then(
      (owner) => (owner.id === ownership.node.id ? done() : send(request, reply, owner)),
      (err: unknown) => done(err as Error),
    );
  };

  app.addHook('onRoute', (route) => {
    if (ownerOnly(route)) route.preHandler = [hook, ...[route.preHandler ?? []].flat()];
  });
  return { counts };
}
