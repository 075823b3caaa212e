/**
 * A broadcast resumed where its recording ends (after a restart, or on the node that took the space
 * over): the segment that may have been in the making is marked missing (EXT-X-GAP: no parts, no
 * bytes) and never numbered again, the new run follows after a discontinuity, blocking requests
 * skip the gap, and the media timeline runs on without the gap's length in it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fragmentTiming } from '../../src/broadcast/fmp4.js';
import { Packager } from '../../src/broadcast/packager.js';
import { broadcastTiming } from '../../src/config.js';
import { MemoryRecording } from './memory-recording.js';
import { makeFragments } from './recording-contract.js';

test('a resumed broadcast marks the segment that was in the making missing, and goes on after it', async () => {
  const { init, fragments } = makeFragments();
  const options = { timing: { ...broadcastTiming(256), partsPerSegment: 4 }, windowSegments: 6 };
  const first = new MemoryRecording();
  const before = new Packager(first, options);
  before.startRun(init, Date.now() - 10_000);
  // A run's first segments are 1, 1 and 2 parts long: three recorded, and a fourth in the making (two parts served) when the node stopped.
  for (const f of fragments.slice(0, 6)) before.addFragment(Buffer.from(f.moof), Buffer.from(f.mdat));
  assert.equal(before.lastMsn, 3);
  assert.ok(before.part(3, 1), 'a part of segment 3 was served');
  const recorded = [...first.segments.values()].map((s) => s.record);
  assert.deepEqual(
    recorded.map((r) => [r.msn, r.parts.length]),
    [
      [0, 1],
      [1, 1],
      [2, 2],
    ],
    'a run begins with short segments',
  );

  const after = new Packager(first, options, [...recorded]);
  after.resume();
  after.resume(); // once only
  const gap = first.segments.get(3)?.record;
  assert.equal(gap?.gap, true, 'segment 3 is recorded as a gap');
  assert.equal(first.segments.get(3)?.data.length, 0, 'with no bytes');
  assert.equal(await after.segment(3), undefined, 'its URL answers nothing');
  assert.equal(after.part(3, 0), undefined);
  assert.equal(after.hasPart(3, 0), false, 'a blocking request for the gap waits for the next segment');

  after.startRun(init, Date.now());
  for (const f of fragments.slice(0, 2)) after.addFragment(Buffer.from(f.moof), Buffer.from(f.mdat));
  assert.equal(after.hasPart(3, 0), true, 'and is answered once segment 4 begins');
  assert.ok(after.part(4, 0), 'the new run numbers on after the gap');
  const text = after.playlist('ll');
  assert.match(text, /#EXT-X-GAP\n#EXTINF:[\d.]+,\n3\.m4s\n/, 'the playlist lists segment 3 as a gap');
  assert.doesNotMatch(text, /URI="3\.\d+\.m4s"/, 'no part of the gap is listed');
  assert.match(
    text,
    /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXT-X-PART:DURATION=[\d.]+,URI="4\.0\.m4s"/,
  );
  // The media timeline: the new run's first part starts where the recorded audio ends (the gap adds no time).
  const recordedSeconds = recorded.reduce((sum, r) => sum + r.parts.reduce((a, b) => a + b, 0), 0);
  const firstNew = after.part(4, 0)!;
  const moof = firstNew.subarray(0, firstNew.readUInt32BE(0));
  assert.ok(Math.abs(fragmentTiming(moof).decodeTime / 48_000 - recordedSeconds) < 0.01, 'the timeline runs on without the gap');
});
