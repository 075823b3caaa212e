/**
 * A trimmed replay, without a server: a packager records real AAC fragments (ffmpeg), the records are
 * trimmed at part boundaries, and the replay made from them lists, serves and remuxes exactly the
 * parts kept — each edge segment as a slice under its own name, byte for byte the parts recorded.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Packager } from '../../src/broadcast/packager.js';
import { type SegmentRecord, segmentDuration } from '../../src/broadcast/playlist.js';
import { remuxRecording } from '../../src/broadcast/remux.js';
import { sliceSegment, timelineLength, trimRecords } from '../../src/broadcast/replay-trim.js';
import { broadcastTiming } from '../../src/config.js';
import { ffmpeg, probeDuration } from '../helpers/media.js';
import { MemoryRecording } from './memory-recording.js';
import { makeFragments } from './recording-contract.js';

/** A recorded broadcast: its records, the recording, and every part's bytes and start on the timeline. */
function recorded() {
  const { init, fragments } = makeFragments();
  const recording = new MemoryRecording();
  const live = new Packager(recording, { timing: { ...broadcastTiming(256), partsPerSegment: 4 }, windowSegments: 6 });
  const startedAt = Date.parse('2026-12-05T10:00:00Z');
  live.startRun(init, startedAt);
  for (const f of fragments) live.addFragment(Buffer.from(f.moof), Buffer.from(f.mdat));
  live.end();
  const records = [...recording.segments.values()].map((s) => s.record);
  const parts: Array<{ msn: number; index: number; at: number; seconds: number }> = [];
  let at = 0;
  for (const r of records) {
    r.parts.forEach((seconds, index) => {
      parts.push({ msn: r.msn, index, at, seconds });
      at += seconds;
    });
  }
  return { init, fragments, recording, records, parts, startedAt };
}

test('a trim keeps the parts whose middle lies inside it, slicing the edge segments', async () => {
  const { recording, records, parts, fragments } = recorded();
  assert.ok(records.length >= 4 && parts.length === fragments.length, `${records.length} segments, ${parts.length} parts`);
  const total = timelineLength(records);
  // From a little past the start of the 3rd part to a little before the end of the 3rd-last.
  const from = parts[2]!;
  const to = parts.at(-3)!;
  const cut = trimRecords(records, { start: from.at + 0.05, end: to.at + to.seconds - 0.05 });
  assert.ok(cut);
  assert.deepEqual(cut.snapped, { start: round(from.at), end: round(to.at + to.seconds) }, 'snapped to the parts kept');
  const kept = cut.records.reduce((sum, r) => sum + segmentDuration(r), 0);
  assert.ok(Math.abs(kept - (cut.snapped.end - cut.snapped.start)) < 1e-6, `${kept} s kept`);
  assert.equal(cut.records[0]!.discontinuity, false, 'the replay opens without a discontinuity');
  // The first segment kept starts at the third part: its program date time moves with it.
  const first = cut.records[0]!;
  const original = records.find((r) => r.msn === first.msn)!;
  assert.equal(first.pdt, original.pdt + Math.round((from.at - partStart(records, first.msn)) * 1000));

  // Served from a replay of the trimmed records: each sliced edge is exactly the parts it keeps.
  const replay = new Packager(recording, { timing: { ...broadcastTiming(256), partsPerSegment: 4 }, windowSegments: 6 }, cut.records);
  replay.end();
  const playlist = replay.playlist('ll');
  assert.match(playlist, /#EXT-X-ENDLIST/);
  const names = [...playlist.matchAll(/^(\d+(?:\.p\d+-\d+)?\.m4s)$/gm)].map((m) => m[1]);
  assert.equal(names.length, cut.records.length, 'one line per segment kept');
  const listed = [...playlist.matchAll(/^#EXTINF:([\d.]+),/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.ok(Math.abs(listed - kept) < 0.001, `the playlist lists ${listed} s`);
  for (const record of cut.records) {
    const wanted = parts.filter((p) => p.msn === record.msn && p.at >= from.at - 1e-9 && p.at <= to.at + 1e-9);
    const bytes = Buffer.concat(wanted.map((p) => Buffer.concat([fragments[parts.indexOf(p)]!.moof, fragments[parts.indexOf(p)]!.mdat])));
    const served = await replay.segment(record.msn, record.slice ? [record.slice[0], record.slice[1]] : undefined);
    assert.ok(served, `segment ${record.msn} is served`);
    // The packager rewrote each fragment's sequence number and decode time when it was recorded; compare lengths and the mdat bytes.
    assert.equal(served.length, bytes.length, `segment ${record.msn}: the parts kept, no more`);
    if (record.slice) {
      assert.equal(await replay.segment(record.msn), undefined, `sliced segment ${record.msn} is never served whole`);
      assert.equal(await replay.segment(record.msn, [0, record.slice[2]]), undefined, 'nor as another slice');
      assert.ok(names.includes(`${record.msn}.p${record.slice[0]}-${record.slice[1]}.m4s`), 'listed under its slice name');
    }
  }
  for (const r of records.filter((r) => !cut.records.some((k) => k.msn === r.msn))) {
    assert.equal(await replay.segment(r.msn), undefined, `segment ${r.msn}, cut, is not served`);
  }
  assert.ok(cut.snapped.end - cut.snapped.start < total - 1, 'something was cut');
});

test('the trimmed recording remuxes to a file as long as the trim says (ffprobe)', async () => {
  const { recording, records, parts } = recorded();
  const cut = trimRecords(records, { start: parts[1]!.at, end: parts.at(-2)!.at });
  assert.ok(cut);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-trim-'));
  try {
    const out = path.join(dir, 'recording.m4a');
    const info = await remuxRecording(ffmpeg, recording, cut.records, out);
    assert.ok(info);
    const probed = await probeDuration(out);
    const wanted = cut.snapped.end - cut.snapped.start;
    // AAC frames are 1024 samples (21.3 ms at 48 kHz): the file may differ by one or two of them.
    assert.ok(Math.abs(probed - wanted) < 0.05, `ffprobe: ${probed} s for a trim of ${wanted} s`);
    assert.ok(Math.abs(info.duration - probed) < 0.05, `recording.json says ${info.duration} s`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a trim that keeps nothing, or slices a damaged segment, gives nothing', () => {
  const { records } = recorded();
  const total = timelineLength(records);
  assert.equal(trimRecords(records, { start: total + 1, end: total + 5 }), undefined);
  assert.equal(trimRecords(records, { start: 1, end: 1 }), undefined);
  const whole = trimRecords(records, { start: 0, end: Number.POSITIVE_INFINITY });
  assert.deepEqual(whole?.records, records, 'an open trim from 0 keeps every record as it is');
  assert.equal(sliceSegment(Buffer.alloc(64), [0, 1, 2]), undefined, 'zeros are not fragments');
});

const round = (n: number) => Math.round(n * 1000) / 1000;

function partStart(records: readonly SegmentRecord[], msn: number): number {
  let at = 0;
  for (const r of records) {
    if (r.msn === msn) return at;
    at += segmentDuration(r);
  }
  return at;
}
