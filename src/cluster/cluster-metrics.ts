/**
 * What scaling out costs and loses, as metrics read at each scrape: changes this node could not put
 * on the change log, copies of other nodes' spaces reloaded after a gap, and (with Redis) the crowd's
 * commands and the sightings it could not send.
 */
import type { Metrics } from '../api/metrics.js';

export interface ClusterCounters {
  changeLog: { readonly dropped: number };
  readViews: { readonly reloads: number };
  /** The Redis crowd's counters; absent on a single node. */
  crowd?: { readonly commands: number; readonly dropped: number } | undefined;
}

export function registerClusterMetrics(metrics: Metrics, { changeLog, readViews, crowd }: ClusterCounters): void {
  metrics.countFrom(
    'rostrum_change_log_dropped_total',
    'Changes this node could not put on the change log (Redis away); other nodes reload their copies after the gap',
    () => changeLog.dropped,
  );
  metrics.countFrom(
    'rostrum_read_view_reloads_total',
    'Copies of other nodes’ spaces reloaded from the store after a possible gap in the change log',
    () => readViews.reloads,
  );
  if (!crowd) return;
  metrics.countFrom(
    'rostrum_crowd_redis_commands_total',
    'Commands this node sent Redis for listener counts and reactions (batched once a second per space)',
    () => crowd.commands,
  );
  metrics.countFrom(
    'rostrum_crowd_dropped_total',
    'Listener sightings not sent to Redis (it was away longer than the batch can hold); this node still counts them',
    () => crowd.dropped,
  );
}
