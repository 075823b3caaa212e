/**
 * The progressive stream's metrics (/listen/<id>.aac: broadcast/live-stream.ts), read at each
 * scrape from the counters every live stream on this node shares.
 */
import type { StreamCounters } from '../broadcast/live-stream.js';
import type { Metrics } from './metrics.js';

export function registerStreamMetrics(metrics: Metrics, streams: StreamCounters): void {
  metrics.gaugeFrom(
    'rostrum_stream_listeners',
    'Listeners of /listen/<id>.aac connected to this node itself (not to the edges)',
    () => streams.listeners,
  );
  metrics.countFrom('rostrum_stream_cut_off_total', 'Listeners of /listen/<id>.aac cut off for falling 8 s behind', () => streams.cutOff);
  metrics.countFrom(
    'rostrum_stream_edge_parts_total',
    'Parts of the progressive stream the stream edges took (ROSTRUM_STREAM_EDGES)',
    () => streams.edgeSent,
  );
  metrics.countFrom(
    'rostrum_stream_edge_parts_lost_total',
    'Parts a stream edge did not take (refused, unreachable or dropped from a full queue): its listeners heard a gap',
    () => streams.edgeLost,
  );
}
