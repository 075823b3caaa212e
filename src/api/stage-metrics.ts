/**
 * The stage's metrics, read at each scrape: sockets bridged to the node that runs their space (and
 * the bridges that failed), sockets replaced by a newer one of the same identity, seats freed from
 * speakers without a connection, and whether the per-packet fast paths are on (werift-adapter.ts).
 */
import type { SeatKeeper } from '../stage/seat-keeper.js';
import type { SignallingHub } from '../stage/signalling-hub.js';
import type { WeriftCheck } from '../stage/werift-adapter.js';
import type { Metrics } from './metrics.js';

export function registerStageMetrics(metrics: Metrics, hub: SignallingHub, seats: SeatKeeper, werift: WeriftCheck): void {
  const bridges = hub.bridges;
  metrics.gaugeFrom('rostrum_rtc_bridges', 'Stage sockets this node bridges to the node that runs their space', () => bridges.open);
  metrics.countFrom(
    'rostrum_rtc_bridge_failures_total',
    'Stage sockets that could not be bridged to the node that runs their space',
    () => bridges.failed,
  );
  metrics.countFrom(
    'rostrum_stage_sockets_replaced_total',
    'Stage sockets closed because a newer one of the same identity came (a reload, another tab or device)',
    () => hub.replaced,
  );
  metrics.countFrom(
    'rostrum_stage_seats_freed_total',
    'Speakers moved to the audience for having no stage connection for ROSTRUM_STAGE_GRACE_MS',
    () => seats.freed,
  );
  metrics.gaugeFrom(
    'rostrum_werift_fast_paths',
    "Whether the stage's per-packet fast paths are on (1) or it runs on werift's own paths (0: another werift version than the pinned one, or ROSTRUM_WERIFT_FAST_PATHS=off)",
    () => (werift.fastPaths ? 1 : 0),
  );
}
