/**
 * The join lane: a flash crowd's one request — an anonymous listener joining a space this node holds
 * (live, or scheduled: the lobby) — answered by the HTTP server before Fastify routes it. Why by
 * hand: measured here, each microsecond of work per join cost 1.5–3 µs of throughput (the load
 * generator shares the machine), and Fastify's
 * per-request machinery around the join (routing, hooks, schema checks, the reply object) was most
 * of what a join cost beyond the bare HTTP exchange. The lane does only what that request needs.
 *
 * It takes a request only when the route would do exactly the same with it, and hands every other
 * one, untouched, to Fastify:
 * - `POST /api/spaces/<id>/join` exactly (no query, no trailing slash, a well-formed id), with no
 *   body, no Content-Type and no Authorization (a token or a ticket or a proof of work: the route);
 *   the same header scan notices X-Forwarded-For, for the untrusted-proxy warning (proxy-watch.ts);
 * - the server is not closing and not shedding joins (the route answers those: 503);
 * - no proof of work is required; the space is held in memory and has not ended;
 * - the address is within its join limit. The lane counts the join against it; a join over the
 *   limit goes on to the route, whose check counts it again (it is over either way) and answers
 *   the coded 429 — so the refusal, its Retry-After and its metric come from one place.
 * The answer itself is decided by the same code as the route's (join-answer.ts): the waiting room,
 * the token, the body, with the headers of every response (security-headers.ts). Requests and
 * answers are timed into the same HTTP metric as the routes'.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { fail } from '../errors.js';
import { isSpaceId } from '../ids.js';
import { answerJoin, type JoinAnswer, type JoinDeps } from './join-answer.js';
import type { RateCounting } from './rate-counter.js';
import { LANE_HEADERS } from './security-headers.js';

const PREFIX = '/api/spaces/';
const SUFFIX = '/join';
/** The route's pattern, as the HTTP metric and the debug log name it. */
const ROUTE = `${PREFIX}:id${SUFFIX}`;

/** What one scan of the raw headers found. */
const NOT_BARE = -1;
const BARE = 0;
const FORWARDED = 1;

/**
 * NOT_BARE when the request has a body, a Content-Type or an Authorization; else whether it carries
 * X-Forwarded-For (proxy-watch.ts). Read from the raw header list: Node builds `request.headers` on
 * first use, an object per request the lane does not need. A Content-Length of 0 is no body.
 */
function scan(raw: string[]): number {
  let found = BARE;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Only names of these lengths can matter; the rest are skipped without lower-casing them.
    if (name.length === 12 && name.toLowerCase() === 'content-type') return NOT_BARE;
    if (name.length === 13 && name.toLowerCase() === 'authorization') return NOT_BARE;
    if (name.length === 14 && name.toLowerCase() === 'content-length' && raw[i + 1] !== '0') return NOT_BARE;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return NOT_BARE;
    if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') found = FORWARDED;
  }
  return found;
}

/** A join's answer, or the error shape's 500. */
type Answer = Omit<JoinAnswer, 'status'> & { status: number };

export interface JoinLaneOptions {
  deps: JoinDeps;
  /** True once the server stops taking requests (the route answers 503 shutting_down). */
  isClosing: () => boolean;
  /** True while new joins are shed (the route answers them 503 overloaded; lanes.ts). */
  joinsShed: () => boolean;
  /** The joins-per-address counter the route's limit uses; undefined when joins are not limited. */
  joinLimit: RateCounting | undefined;
  /** The client's address as the routes see it (X-Forwarded-For from a trusted proxy, else the peer). */
  clientIp: (request: IncomingMessage) => string;
  /** A request the lane answers carried X-Forwarded-For from this peer (proxy-watch.ts). */
  forwarded: (peer: string | undefined) => void;
  logger: Logger;
}

/** A request listener's first step: true when the lane answered, false to pass the request on. */
export type JoinLane = (request: IncomingMessage, response: ServerResponse) => boolean;

export function createJoinLane(options: JoinLaneOptions): JoinLane {
  const { deps, joinLimit } = options;
  // The timing series by status, looked up once.
  const timers = new Map([200, 202, 500].map((status) => [status, deps.metrics.http.series('POST', ROUTE, status)]));
  const debug = options.logger.isLevelEnabled('debug');

  const write = (response: ServerResponse, answer: Answer): void => {
    const headers = [...LANE_HEADERS, 'content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store'];
    if (answer.retryAfter !== undefined) headers.push('retry-after', String(answer.retryAfter));
    headers.push('content-length', String(answer.bytes ?? Buffer.byteLength(answer.body)));
    response.writeHead(answer.status, headers);
    response.end(answer.body);
  };

  return (request, response) => {
    const url = request.url;
    if (request.method !== 'POST' || url === undefined || !url.startsWith(PREFIX) || !url.endsWith(SUFFIX)) return false;
    const headers = scan(request.rawHeaders);
    if (headers === NOT_BARE) return false;
    const id = url.slice(PREFIX.length, -SUFFIX.length);
    if (!isSpaceId(id) || options.isClosing() || options.joinsShed() || deps.pow.required) return false;
    const live = deps.audience.held(id);
    if (live === undefined || live.space.state === 'ended') return false;
    const started = performance.now();
    if (joinLimit !== undefined && joinLimit.hit(options.clientIp(request), Date.now()) > 0) return false;
    if (headers === FORWARDED) options.forwarded(request.socket.remoteAddress);

    let answer: Answer;
    try {
      answer = answerJoin(deps, live, undefined, 'lane');
    } catch (err) {
      // Not an answer the route would give differently: a bug, answered as the route's error handler does.
      options.logger.error({ err, url, spaceId: id }, 'request failed');
      answer = { status: 500, body: JSON.stringify(fail('internal_error').toJSON()) };
    }
    write(response, answer);
    const ms = performance.now() - started;
    timers.get(answer.status)?.observe(ms / 1000);
    if (debug) options.logger.debug({ spaceId: id, method: 'POST', route: ROUTE, status: answer.status, ms, way: 'lane' }, 'request');
    return true;
  };
}
