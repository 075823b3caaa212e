/**
 * What a join is answered with, decided in one place for both ways a join comes in: the Fastify
 * route (every join) and the join lane (the common case, answered before routing; join-lane.ts).
 * Through the waiting room when there is one — a place in line (202) — else a listener token and
 * the prebuilt body (200). The caller writes the answer.
 */
import type { AudienceService } from '../audience/audience-service.js';
import type { InviteTags } from '../audience/invite-tags.js';
import type { ProofOfWork } from '../audience/proof-of-work.js';
import type { Arrival, TicketGrant, WaitingRoom } from '../audience/waiting-room.js';
import type { LiveSpace } from '../control/live-space.js';
import type { TokenClaims } from '../control/tokens.js';
import { joinBody } from './join-body.js';
import type { Metrics } from './metrics.js';
import type { Urls } from './urls.js';

/** A wait in line beyond this, seconds, counts as pressure toward switching the proof of work on. */
const LONG_WAIT_SECONDS = 30;

export interface JoinDeps {
  audience: AudienceService;
  inviteTags: InviteTags;
  urls: Urls;
  metrics: Metrics;
  waitingRoom: WaitingRoom | undefined;
  pow: ProofOfWork;
}

export interface JoinAnswer {
  status: 200 | 202;
  /** Seconds, sent as Retry-After: when a joiner in line comes back with its ticket. */
  retryAfter?: number;
  /** JSON. */
  body: string;
  /** The body's length in UTF-8 bytes, when known without encoding it. */
  bytes?: number;
}

/** Which way the join came in (a label on the joins metric). */
export type JoinWay = 'lane' | 'route';

export function answerJoin(deps: JoinDeps, live: LiveSpace, claims: TokenClaims | undefined, way: JoinWay): JoinAnswer {
  if (deps.waitingRoom && live.space.state !== 'ended') {
    const arrival = deps.waitingRoom.arrive(live.space.id);
    if (!arrival.admit) {
      // A line minutes long is demand far beyond what the node serves: a crowd, or bots collecting
      // tickets. It counts as pressure, so the proof of work comes on (and makes each new place
      // in line cost a solution) if it lasts.
      if (arrival.grant.estimatedWaitSeconds > LONG_WAIT_SECONDS) deps.pow.notePressure();
      return queued(arrival.grant);
    }
  }
  return admitted(deps, live, claims, way);
}

/**
 * A joiner coming back with a waiting-room ticket: admitted once its place came (a promise when the
 * ticket must be spent across nodes), else told its place again.
 */
export function answerComeBack(
  deps: JoinDeps,
  live: LiveSpace,
  claims: TokenClaims | undefined,
  ticket: string,
): JoinAnswer | Promise<JoinAnswer> {
  if (!deps.waitingRoom || live.space.state === 'ended') return admitted(deps, live, claims, 'route');
  const arrival = deps.waitingRoom.comeBack(live.space.id, ticket);
  const answer = (a: Arrival): JoinAnswer => (a.admit ? admitted(deps, live, claims, 'route') : queued(a.grant));
  return arrival instanceof Promise ? arrival.then(answer) : answer(arrival);
}

/** In line: a signed ticket, the place and the wait; come back with it after Retry-After. */
function queued(grant: TicketGrant): JoinAnswer {
  return { status: 202, retryAfter: grant.retryAfterSeconds, body: JSON.stringify({ queued: true, ...grant }) };
}

function admitted(deps: JoinDeps, live: LiveSpace, claims: TokenClaims | undefined, way: JoinWay): JoinAnswer {
  const grant = deps.audience.join(live, claims);
  deps.metrics.joins[way]++;
  const tag = deps.inviteTags.tag(live.space.id, grant.identity);
  const { body, bytes } = joinBody(live, grant, deps.urls, deps.audience.heartbeatIntervalSeconds, tag);
  return { status: 200, body, bytes };
}
