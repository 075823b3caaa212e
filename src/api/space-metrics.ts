/**
 * The health of each live space in /metrics, labelled `space`: its listeners, the people on its
 * stage, its encoder's restarts, and the age of its broadcast's newest part — so an alert can tell
 * a silent broadcast (parts keep coming, the audio is quiet: the age stays under a second or two)
 * from a dead one (no new part: the age grows). Read at each scrape from the node's own services;
 * only live spaces this node holds have series, and a space's series go with it when it ends.
 */
import { Gauge, type Registry } from 'prom-client';
import type { AudienceService } from '../audience/audience-service.js';
import type { Broadcaster } from '../broadcast/broadcaster.js';
import type { LiveSpace } from '../control/live-space.js';

export interface SpaceHealth {
  space: string;
  listeners: number;
  onStage: number;
  /** Encoder runs that ended in a crash and were started again. */
  encoderRestarts: number;
  /** Seconds since the newest part's audio ends (by its program date time); undefined before the first part. */
  partAgeSeconds: number | undefined;
}

/** The health of every live space among `spaces`. */
export function liveSpaceHealth(
  spaces: Iterable<LiveSpace>,
  audience: AudienceService,
  broadcaster: Broadcaster,
  now: number = Date.now(),
): SpaceHealth[] {
  const health: SpaceHealth[] = [];
  for (const live of spaces) {
    if (live.space.state !== 'live') continue;
    const broadcast = broadcaster.broadcast(live.space.id);
    const newest = broadcast?.packager.newestPartEnd;
    health.push({
      space: live.space.id,
      listeners: audience.listeners(live.space.id),
      onStage: live.stage.size,
      encoderRestarts: broadcast?.mix.crashes ?? 0,
      partAgeSeconds: newest === undefined ? undefined : Math.max(0, (now - newest) / 1000),
    });
  }
  return health;
}

/** Registers the per-space gauges; `sample` is read once per gauge at each scrape. */
export function registerSpaceHealth(registry: Registry, sample: () => SpaceHealth[]): void {
  const gauge = (name: string, help: string, value: (health: SpaceHealth) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['space'] as const,
      registers: [registry],
      collect() {
        // Series of spaces that ended (or moved away) go: only what is live now is set.
        this.reset();
        for (const health of sample()) {
          const v = value(health);
          if (v !== undefined) this.set({ space: health.space }, v);
        }
      },
    });
  };
  gauge('rostrum_space_listeners', 'Concurrent listeners of a live space (HyperLogLog over the heartbeat window)', (h) => h.listeners);
  gauge('rostrum_space_on_stage', 'People on the stage of a live space (host, co-hosts, speakers)', (h) => h.onStage);
  gauge(
    'rostrum_broadcast_encoder_restarts',
    'Times the encoder of a live space’s broadcast died and was started again, so far (each is a discontinuity)',
    (h) => h.encoderRestarts,
  );
  gauge(
    'rostrum_broadcast_part_age_seconds',
    'Seconds since the end of the newest part of a live space’s broadcast, by its program date time: under a second or two while parts come (even silent ones), growing when none do',
    (h) => h.partAgeSeconds,
  );
}
