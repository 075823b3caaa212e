/**
 * The broadcast's timing is one setting (ROSTRUM_PART_MS): the part length in whole AAC frames, the
 * parts per segment, the target duration, the encoder's fragment length and how long a blocking
 * request waits all follow from it — and a server run with another part length really makes parts
 * of that length, listed as such.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { broadcastTiming, loadConfig } from '../src/config.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer } from './helpers/server.js';

test('the default: 12 AAC frames a part (256 ms), 8 parts a segment, a 2 s target, blocking for 6 s', () => {
  assert.deepEqual(broadcastTiming(256), {
    framesPerPart: 12,
    partSeconds: 0.256,
    partsPerSegment: 8,
    targetDuration: 2,
    fragmentMs: 245,
    blockMs: 6000,
    firstSegmentParts: [1, 1, 2, 4],
    firstPlaylistSegments: 2,
  });
  assert.deepEqual(loadConfig({}, {}).broadcast, broadcastTiming(256));
  assert.equal(loadConfig({}, { ROSTRUM_PART_MS: '512' }).broadcast.partsPerSegment, 4);
  assert.throws(() => loadConfig({}, { ROSTRUM_PART_MS: '10' }), /ROSTRUM_PART_MS/);
});

test('other part lengths round to whole frames, and segments stay near 2 s', () => {
  for (const ms of [100, 200, 333, 500, 1000]) {
    const t = broadcastTiming(ms);
    assert.equal(t.partSeconds, (t.framesPerPart * 1024) / 48_000);
    assert.ok(Math.abs(t.partSeconds * 1000 - ms) <= 1024 / 48 / 2 + 1e-9, `${ms} ms → ${t.partSeconds} s`);
    assert.ok(Math.abs(t.partSeconds * t.partsPerSegment - 2) <= t.partSeconds / 2 + 1e-9);
    assert.ok(t.partSeconds <= t.targetDuration, 'a part is never longer than the target duration');
  }
});

test('a server with 512 ms parts makes and lists 512 ms parts, four to a segment after the first short ones', async () => {
  const t = await startTestServer({ broadcast: broadcastTiming(512) });
  try {
    const id = await createSpace(t, { live: true });
    await sleep(5000);
    const text = await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text();
    assert.match(text, /#EXT-X-PART-INF:PART-TARGET=0\.512\n/);
    assert.match(text, /#EXT-X-TARGETDURATION:2\n/);
    const durations = [...text.matchAll(/#EXT-X-PART:DURATION=([\d.]+),URI="(\d+)\.(\d+)\.m4s"/g)];
    assert.ok(durations.length >= 4, text);
    for (const [, d] of durations) assert.equal(Number(d), 0.512, `a part of ${d} s`);
    // The run's first segments are 1, 1, 2 and then 4 parts: two whole segments out 1 s after the start.
    const segments = [...text.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    assert.deepEqual(segments.slice(0, 4), [0.512, 0.512, 1.024, 2.048], text);
    for (const s of segments.slice(3)) assert.equal(s, 2.048, 'then four parts a segment');
  } finally {
    await t.close();
  }
});
