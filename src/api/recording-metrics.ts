/**
 * What this node's recordings did (broadcast/write-queue.ts), read at each scrape: writes waiting
 * and the audio among them, writes that failed, segments given up or found damaged (gaps in a
 * recording: never silent), and finished files that could not be made at the first attempt.
 */
import type { RecordingStore } from '../broadcast/recording-store.js';
import type { Metrics } from './metrics.js';

export function registerRecordingMetrics(metrics: Metrics, recordings: RecordingStore): void {
  const counters = recordings.counters;
  metrics.gaugeFrom(
    'rostrum_recording_writes_pending',
    'Recording writes (segments, init segments) waiting for the recording store (it is away, slow or full)',
    () => recordings.pending(),
  );
  metrics.gaugeFrom(
    'rostrum_recording_backlog_seconds',
    'Seconds of audio held in memory for recordings whose writes fail (ROSTRUM_RECORDING_BACKLOG bounds it per space)',
    () => counters.backlogSeconds,
  );
  metrics.countFrom(
    'rostrum_recording_write_failures_total',
    'Recording writes that failed (each attempt; retried)',
    () => counters.writeFailures,
  );
  metrics.countFrom(
    'rostrum_recording_segments_lost_total',
    'Recorded segments given up (held past the backlog, or when the node stopped): gaps in their recording',
    () => counters.segmentsLost,
  );
  metrics.countFrom(
    'rostrum_recording_segments_damaged_total',
    'Recorded segments found damaged when read back (cut short or zeroed by a crash or a bad disk): skipped as gaps',
    () => counters.segmentsDamaged,
  );
  metrics.countFrom(
    'rostrum_recording_finalize_failures_total',
    'Attempts to make a recording file that failed (a full disk, ffmpeg failing): retried',
    () => counters.finalizeFailures,
  );
}
