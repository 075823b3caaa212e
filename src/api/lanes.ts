/**
 * Priority lanes under overload (DESIGN's order of defences). LoopPressure samples the event loop's
 * delay and utilisation every 250 ms; while either is over its limit, a request is treated by its
 * route's lane:
 * - `sheddable` (new listener joins): answered at once with 503 `overloaded` and a jittered
 *   Retry-After — never left to time out;
 * - `reads` (the state document, playlists, parts: listeners already here): served, unless the
 *   loop is far behind (delay over three times its limit), then shed like joins;
 * - critical (everything else: stage signalling, host and co-host actions, the stage's audio is in
 *   the media worker anyway): never shed.
 */
import type { FastifyInstance } from 'fastify';
import { fail } from '../errors.js';
import { type PressureLimits as LoopLimits, LoopPressure, type PressureKind } from './loop-pressure.js';

export type Lane = 'sheddable' | 'reads';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route is treated under overload (absent: critical, never shed). */
    lane?: Lane;
  }
}

export interface PressureLimits extends LoopLimits {
  /** Counts each shed request by lane (metrics). */
  onShed?: (lane: Lane) => void;
}

/** Retry-After for a shed request: 1–5 s, jittered so the shed do not come back together. */
const retryAfter = () => 1 + Math.floor(Math.random() * 5);

/** Whether a request in `lane` is shed, given the limit the loop is over (its kind and measured value). */
function sheds(lane: Lane | undefined, kind: PressureKind, value: number, limits: PressureLimits): lane is Lane {
  if (!lane) return false; // critical
  const severe = kind === 'eventLoopDelay' && value > 3 * limits.maxEventLoopDelayMs;
  return lane === 'sheddable' || severe;
}

/**
 * Registers the shedding. Returns whether a new join would be shed right now — the verdict the
 * route's hook would give, for the join lane (join-lane.ts), which answers before any hook runs.
 */
export function registerLanes(app: FastifyInstance, limits: PressureLimits): () => boolean {
  const pressure = new LoopPressure(limits);
  app.addHook('onClose', async () => pressure.stop());
  app.addHook('onRequest', (request, _reply, done) => {
    const over = pressure.over();
    const lane = request.routeOptions.config.lane;
    if (!over || !sheds(lane, over.kind, over.value, limits)) return done();
    limits.onShed?.(lane);
    done(fail('overloaded', 'The server is busy; retry after Retry-After.', retryAfter()));
  });
  return () => {
    const over = pressure.over();
    return over !== undefined && sheds('sheddable', over.kind, over.value, limits);
  };
}
