/**
 * Priority lanes under overload (DESIGN's order of defences). @fastify/under-pressure samples the
 * event loop's delay and utilisation every 250 ms (each over that sample alone); while either is
 * over its limit, a request is treated by its route's lane:
 * - `sheddable` (new listener joins): answered at once with 503 `overloaded` and a jittered
 *   Retry-After — never left to time out;
 * - `reads` (the state document, playlists, parts: listeners already here): served, unless the
 *   loop is far behind (delay over three times its limit), then shed like joins;
 * - critical (everything else: stage signalling, host and co-host actions, the stage's audio is in
 *   the media worker anyway): never shed.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fail } from '../errors.js';

export type Lane = 'sheddable' | 'reads';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route is treated under overload (absent: critical, never shed). */
    lane?: Lane;
  }
}

export interface PressureLimits {
  /** Mean event-loop delay over a sample, ms. */
  maxEventLoopDelayMs: number;
  /** Event-loop utilisation, 0–1. */
  maxEventLoopUtilization: number;
  /** Counts each shed request by lane (metrics). */
  onShed?: (lane: Lane) => void;
}

/** Retry-After for a shed request: 1–5 s, jittered so the shed do not come back together. */
const retryAfter = () => 1 + Math.floor(Math.random() * 5);

/** Whether a request in `lane` is shed, given the limit under-pressure found exceeded (its type and measured value). */
function sheds(lane: Lane | undefined, type: string, value: number | undefined, limits: PressureLimits): lane is Lane {
  // No lane: critical. An infinite delay means the loop never turned during the sample (it was
  // starting up): no measurement, so no verdict — the next sample decides.
  if (!lane || value === Number.POSITIVE_INFINITY) return false;
  const severe = type === underPressure.TYPE_EVENT_LOOP_DELAY && (value ?? 0) > 3 * limits.maxEventLoopDelayMs;
  return lane === 'sheddable' || severe;
}

/**
 * Registers the shedding. Returns whether a new join would be shed right now — the verdict the
 * route's hook would give, for the join lane (join-lane.ts), which answers before any hook runs.
 */
export async function registerLanes(app: FastifyInstance, limits: PressureLimits): Promise<() => boolean> {
  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxEventLoopUtilization: limits.maxEventLoopUtilization,
    // Each sample's own utilisation. The default ('cumulative') is the average since the server
    // started: after an idle hour a flood would have to last another hour to reach the limit.
    eventLoopUtilizationMode: 'interval',
    sampleInterval: 250,
    pressureHandler: (request: FastifyRequest, _reply, type, value) => {
      const lane = request.routeOptions.config.lane;
      if (!sheds(lane, type, value, limits)) return undefined;
      limits.onShed?.(lane);
      return Promise.reject(fail('overloaded', 'The server is busy; retry after Retry-After.', retryAfter()));
    },
  });
  // The same checks in the same order as under-pressure's own request hook (only these two limits are set).
  return () => {
    if (!app.isUnderPressure()) return false;
    const { eventLoopDelay, eventLoopUtilized } = app.memoryUsage();
    if (eventLoopDelay > limits.maxEventLoopDelayMs) return sheds('sheddable', underPressure.TYPE_EVENT_LOOP_DELAY, eventLoopDelay, limits);
    return sheds('sheddable', underPressure.TYPE_EVENT_LOOP_UTILIZATION, eventLoopUtilized, limits);
  };
}
