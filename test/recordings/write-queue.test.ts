/**
 * The recording's write queue (broadcast/write-queue.ts) with a writer that fails on command: a
 * failing write is retried in order and nothing is lost while the backlog is within its bound; past
 * it the oldest segments become gaps (written as gaps, reported to onLost, counted); a failure that
 * cannot be retried stops the recording; a recording deleted on purpose loses nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SegmentRecord } from '../../src/broadcast/playlist.js';
import { RecordingCounters, type RecordingWriter, WriteQueue } from '../../src/broadcast/write-queue.js';
import type { SpaceId } from '../../src/ids.js';

const segment = (msn: number): SegmentRecord => ({ msn, run: 0, discontinuity: false, pdt: 1_000_000 + msn * 2000, parts: [1, 1] });

function enospc(): Error {
  return Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
}

/** A writer that fails while `failing` says so, and records what it stored. */
function flakyWriter(): RecordingWriter & {
  failing: () => Error | undefined;
  stored: Array<{ msn: number; gap: boolean; bytes: number }>;
} {
  const writer = {
    failing: (): Error | undefined => undefined,
    stored: [] as Array<{ msn: number; gap: boolean; bytes: number }>,
    async writeInit() {
      const err = writer.failing();
      if (err) throw err;
    },
    async writeSegment(record: SegmentRecord, data: Buffer) {
      const err = writer.failing();
      if (err) throw err;
      writer.stored.push({ msn: record.msn, gap: record.gap === true, bytes: data.length });
    },
  };
  return writer;
}

function queue(writer: RecordingWriter, maxBacklogSeconds: number, retryable = (_err: unknown) => true) {
  const counters = new RecordingCounters();
  const q = new WriteQueue(writer, { spaceId: 's' as SpaceId, counters, log: undefined, maxBacklogSeconds, retryable });
  const lost: number[] = [];
  q.onLost((msn) => lost.push(msn));
  return { q, counters, lost };
}

test('writes that fail for a while are retried in order, and nothing is lost within the backlog', async () => {
  const writer = flakyWriter();
  let failures = 3;
  writer.failing = () => (failures-- > 0 ? enospc() : undefined);
  const { q, counters, lost } = queue(writer, 60);
  q.writeInit(0, Buffer.from('init'));
  for (let msn = 0; msn < 4; msn++) q.appendSegment(segment(msn), Buffer.alloc(100));
  assert.ok(counters.pendingWrites > 0);
  await q.flushed();
  assert.deepEqual(
    writer.stored.map((s) => s.msn),
    [0, 1, 2, 3],
  );
  assert.equal(counters.writeFailures, 3);
  assert.deepEqual(lost, []);
  assert.equal(counters.failing(), undefined, 'not failing once a write went through');
  assert.equal(counters.backlogSeconds, 0);
  assert.equal(q.error, undefined);
});

test('past the backlog the oldest segments become gaps: written as gaps, reported and counted', async () => {
  const writer = flakyWriter();
  let full = true;
  writer.failing = () => (full ? enospc() : undefined);
  const { q, counters, lost } = queue(writer, 5); // 2.5 segments of 2 s
  for (let msn = 0; msn < 6; msn++) q.appendSegment(segment(msn), Buffer.alloc(100));
  await new Promise((resolve) => setTimeout(resolve, 700)); // two failed attempts
  assert.match(counters.failing() ?? '', /ENOSPC/);
  assert.deepEqual(lost, [0, 1, 2, 3], 'the oldest four go; 4 s is held');
  assert.equal(counters.backlogSeconds, 4);
  assert.equal(counters.segmentsLost, 4);
  full = false;
  await q.flushed();
  assert.deepEqual(writer.stored, [
    { msn: 0, gap: true, bytes: 0 },
    { msn: 1, gap: true, bytes: 0 },
    { msn: 2, gap: true, bytes: 0 },
    { msn: 3, gap: true, bytes: 0 },
    { msn: 4, gap: false, bytes: 100 },
    { msn: 5, gap: false, bytes: 100 },
  ]);
});

test('a failure that cannot be retried stops the recording; what was waiting is lost and said', async () => {
  const writer = flakyWriter();
  writer.failing = () => Object.assign(new Error('stale'), { code: 'stale_owner' });
  const { q, counters, lost } = queue(writer, 60, () => false);
  q.appendSegment(segment(0), Buffer.alloc(10));
  q.appendSegment(segment(1), Buffer.alloc(10));
  await q.flushed();
  assert.equal((q.error as { code?: string }).code, 'stale_owner');
  assert.deepEqual(lost, [0, 1]);
  q.appendSegment(segment(2), Buffer.alloc(10));
  await q.flushed();
  assert.deepEqual(writer.stored, [], 'nothing after the failure is written');
  assert.equal(counters.pendingWrites, 0);
});

test('a recording deleted on purpose loses nothing', async () => {
  const writer = flakyWriter();
  writer.failing = () => enospc();
  const { q, counters, lost } = queue(writer, 60);
  q.appendSegment(segment(0), Buffer.alloc(10));
  q.abandon('recording removed', true);
  await q.flushed();
  assert.deepEqual(lost, []);
  assert.equal(counters.segmentsLost, 0);
});
