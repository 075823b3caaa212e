/**
 * Per-address and per-token rate limits on every write (DESIGN's third defence), counted in fixed
 * windows in this process (rate-counter.ts; a bounded map per limit) and, with several nodes,
 * shared between them for the keys near their limit (shared-rate-counter.ts). A write route names its
 * limits in `config.limits`; a write that names none gets the general pair — `write` per token and
 * `addressWrite` per address — so no write goes unlimited. Reads are never limited here: they are
 * cached, and shed by lane under overload (lanes.ts).
 *
 * Every limit a route names is checked, synchronously, and a refusal is a coded 429
 * `rate_limited` with Retry-After. Stage signalling (the WebSocket) is not
 * an HTTP write and is never limited here; it has its own per-connection message limit. The
 * per-token limit on host and co-host actions is far above what a person clicks, so in practice it
 * only ever stops a runaway script.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import { fail } from '../errors.js';
import { localRateCounter, type RateCounterFactory, type RateCounting } from './rate-counter.js';

export type LimitName = 'join' | 'heartbeat' | 'reaction' | 'request' | 'write' | 'addressWrite';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The rate limits this route is subject to (a write without any gets `write` + `addressWrite`). */
    limits?: LimitName[];
  }
}

/** Requests allowed per window for each limit; 0 turns a limit off. */
export interface RateLimits {
  /** Joins per address per 10 s. */
  join: number;
  /** Heartbeats per token per minute. */
  heartbeat: number;
  /** Reactions per token per 10 s. */
  reaction: number;
  /** Requests to speak and reminder sign-ups per address per minute. */
  request: number;
  /** Any other write per token per minute. */
  write: number;
  /** Writes other than joins per address per minute (listeners behind one NAT share it). */
  addressWrite: number;
  /**
   * Spaces one operator identity may create per hour (0: no cap). Counted by the route after the
   * token is verified — keyed by who the token says, so a forged token never spends a real operator's.
   */
  spaceCreate?: number;
  /** Counts each refusal by limit (metrics). */
  onLimited?: (limit: LimitName) => void;
  /** Where the counts are kept: this node alone (default), or shared between nodes (shared-rate-counter.ts). */
  counters?: RateCounterFactory;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Distinct addresses or tokens each limit remembers (those whose windows began first are forgotten first). */
const REMEMBERED_KEYS = 100_000;
/** An HS256 JWT's signature: 43 base64url characters, unique per token and shorter than the token. */
const SIGNATURE_CHARS = 43;

/**
 * A token's bucket is keyed by its signature (a forged token only spends its own bucket, and the
 * address limit bounds how many of those one address can make); no token falls back to the address.
 */
function tokenKey(request: FastifyRequest): string {
  const auth = request.headers.authorization;
  return auth && auth.length > SIGNATURE_CHARS ? `t:${auth.slice(-SIGNATURE_CHARS)}` : `a:${request.ip}`;
}

/**
 * A join is counted against its address, except a waiting-room ticket coming back: that joiner was
 * counted when it arrived, and a line of listeners behind one NAT polling as told must not use up
 * their neighbours' joins (a forged ticket is refused by its HMAC at the cost of a 429).
 */
function joinKey(request: FastifyRequest): string {
  const ticket = (request.body as { ticket?: unknown } | undefined)?.ticket;
  return typeof ticket === 'string' && ticket.length > SIGNATURE_CHARS ? `w:${ticket.slice(-SIGNATURE_CHARS)}` : request.ip;
}

const addressKey = (request: FastifyRequest): string => request.ip;

/** `perRoute`: each route counts on its own (asking to speak does not use up reminder sign-ups); else one count across routes. */
const LIMITS: Record<LimitName, { windowMs: number; key: (request: FastifyRequest) => string; perRoute: boolean }> = {
  join: { windowMs: 10_000, key: joinKey, perRoute: false },
  heartbeat: { windowMs: 60_000, key: tokenKey, perRoute: false },
  reaction: { windowMs: 10_000, key: tokenKey, perRoute: false },
  request: { windowMs: 60_000, key: addressKey, perRoute: true },
  write: { windowMs: 60_000, key: tokenKey, perRoute: false },
  addressWrite: { windowMs: 60_000, key: addressKey, perRoute: false },
};

/**
 * Adds the limits to every route as it is registered. Returns the joins-per-address counter, which
 * the join lane (join-lane.ts) counts with too, so a join counts once whichever way it comes in.
 */
export function registerRateLimits(
  app: FastifyInstance,
  limits: RateLimits,
): { join: RateCounting | undefined; spaceCreate: RateCounting | undefined } {
  let routes = 0;
  const make = limits.counters ?? localRateCounter;
  // A per-route limit's counter is named by its route's order, the same on every node (same code).
  const create = (name: LimitName) =>
    make(LIMITS[name].perRoute ? `${name}.${++routes}` : name, limits[name], LIMITS[name].windowMs, REMEMBERED_KEYS);
  const shared = new Map<LimitName, RateCounting>();
  const counterFor = (name: LimitName): RateCounting | undefined => {
    if (limits[name] <= 0) return undefined;
    if (LIMITS[name].perRoute) return create(name);
    let counter = shared.get(name);
    if (!counter) {
      counter = create(name);
      shared.set(name, counter);
    }
    return counter;
  };

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = [route.method].flat();
    const named = route.config?.limits ?? (methods.some((m) => WRITES.has(m)) ? ['write', 'addressWrite'] : []);
    const applied = named.flatMap((name) => {
      const counter = counterFor(name);
      return counter ? [{ name, counter, key: LIMITS[name].key }] : [];
    });
    if (applied.length === 0) return;
    // Callback style: no promise on the way through (a refusal goes to the error handler).
    const hook = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
      // Limited where it came in: the node that forwarded it here counted it against its client.
      if (request.forwardedBy !== undefined) return done();
      const now = Date.now();
      for (const { name, counter, key } of applied) {
        const waitMs = counter.hit(key(request), now);
        if (waitMs > 0) {
          limits.onLimited?.(name);
          const seconds = Math.max(1, Math.ceil(waitMs / 1000));
          done(fail('rate_limited', `Too many requests; retry in ${seconds} s.`, seconds));
          return;
        }
      }
      done();
    };
    // After the body is parsed (a join's key may be its ticket); overload shedding stays in onRequest.
    route.preValidation = [...[route.preValidation ?? []].flat(), hook];
  });
  const spaceCreate = limits.spaceCreate ? make('spaceCreate', limits.spaceCreate, SPACE_CREATE_WINDOW_MS, REMEMBERED_KEYS) : undefined;
  return { join: counterFor('join'), spaceCreate };
}

/** The space creation cap's window: an hour. */
const SPACE_CREATE_WINDOW_MS = 3_600_000;

/** Counts one space created by `identity`; a refusal is the coded 429 with Retry-After. */
export function countSpaceCreated(counter: RateCounting | undefined, identity: string): void {
  if (!counter) return;
  const waitMs = counter.hit(identity, Date.now());
  if (waitMs <= 0) return;
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  throw fail(
    'rate_limited',
    `This operator has created as many spaces as it may this hour (ROSTRUM_SPACE_CREATE_LIMIT); retry in ${seconds} s.`,
    seconds,
  );
}
