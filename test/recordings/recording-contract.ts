/**
 * The RecordingStore contract, run against each implementation: what the owner writes is read back in
 * order (by itself after a restart, and by any node when the store is shared), the finished file is
 * a real MP4 that ffprobe reads at the right length, and a recording that is switched off is gone.
 * The audio is real: AAC in fragmented MP4 made by ffmpeg, cut into the segments a packager makes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { SegmentRecord } from '../../src/broadcast/playlist.js';
import type { RecordingStore } from '../../src/broadcast/recording-store.js';
import { trimRecords } from '../../src/broadcast/replay-trim.js';
import type { SpaceId } from '../../src/ids.js';
import { ffmpeg, probeDuration } from '../helpers/media.js';

export interface OpenedRecordings {
  /** The writer's store (the owner). */
  store: RecordingStore;
  /** The store as the same node sees it after a restart. */
  reopen(): Promise<RecordingStore>;
  /** The store as another node sees it (shared stores), or undefined (only the writer reads it). */
  another(): Promise<RecordingStore | undefined>;
  cleanup(): Promise<void>;
}

export interface Audio {
  init: Buffer;
  segments: Array<{ record: SegmentRecord; data: Buffer }>;
  seconds: number;
}

/** Top-level ISO BMFF boxes, in order. */
function boxes(file: Buffer): Array<{ type: string; data: Buffer }> {
  const out: Array<{ type: string; data: Buffer }> = [];
  for (let at = 0; at < file.length; ) {
    const size = file.readUInt32BE(at);
    out.push({ type: file.toString('latin1', at + 4, at + 8), data: file.subarray(at, at + size) });
    at += size;
  }
  return out;
}

/** Six seconds of a 440 Hz tone as AAC in fragmented MP4 (~0.5 s fragments): the init segment and each fragment's boxes. */
export function makeFragments(): { init: Buffer; fragments: Array<{ moof: Buffer; mdat: Buffer }> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-rec-audio-'));
  const file = path.join(dir, 'tone.mp4');
  execFileSync(ffmpeg, [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:duration=6',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-movflags',
    'frag_keyframe+empty_moov+default_base_moof',
    '-frag_duration',
    '500000',
    '-f',
    'mp4',
    file,
  ]);
  const all = boxes(fs.readFileSync(file));
  fs.rmSync(dir, { recursive: true, force: true });
  const moov = all.findIndex((b) => b.type === 'moov');
  const init = Buffer.concat(all.slice(0, moov + 1).map((b) => b.data));
  const fragments: Array<{ moof: Buffer; mdat: Buffer }> = [];
  for (let i = moov + 1; i < all.length; i++) {
    if (all[i]!.type === 'moof' && all[i + 1]?.type === 'mdat')
      fragments.push({ moof: Buffer.from(all[i]!.data), mdat: Buffer.from(all[i + 1]!.data) });
  }
  assert.ok(fragments.length >= 6, `ffmpeg made ${fragments.length} fragments`);
  return { init, fragments };
}

/** The same six seconds cut into three ~2 s segments, as a packager records them. */
export function makeAudio(): Audio {
  const { init, fragments: boxed } = makeFragments();
  const fragments = boxed.map((f) => Buffer.concat([f.moof, f.mdat]));
  const perSegment = Math.ceil(fragments.length / 3);
  const segments: Audio['segments'] = [];
  const partSeconds = 6 / fragments.length;
  for (let msn = 0; msn * perSegment < fragments.length; msn++) {
    const parts = fragments.slice(msn * perSegment, (msn + 1) * perSegment);
    segments.push({
      record: { msn, run: 0, discontinuity: false, pdt: 1_700_000_000_000 + msn * 2000, parts: parts.map(() => partSeconds) },
      data: Buffer.concat(parts),
    });
  }
  return { init, segments, seconds: 6 };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let spaces = 0;
const newSpace = () => `rec-${process.pid}-${++spaces}` as SpaceId;

export function runRecordingContract(
  name: string,
  open: () => Promise<OpenedRecordings>,
  makeSpaceRow?: (id: SpaceId) => Promise<void>,
): void {
  describe(`RecordingStore contract: ${name}`, () => {
    let audio: Audio;
    before(() => {
      audio = makeAudio();
    });

    const opened = async <T>(work: (o: OpenedRecordings, id: SpaceId) => Promise<T>): Promise<T> => {
      const o = await open();
      const id = newSpace();
      await makeSpaceRow?.(id);
      try {
        return await work(o, id);
      } finally {
        await o.cleanup();
      }
    };

    test('a recording nobody wrote is empty: no segments, no file, nothing being made', () =>
      opened(async ({ store }, id) => {
        const r = store.open(id);
        assert.deepEqual(await r.load(), []);
        assert.equal(await r.readSegment(0), undefined);
        assert.equal(await r.readInit(0), undefined);
        assert.equal(await r.info(), undefined);
        assert.equal(await r.file(), undefined);
        assert.equal(await r.making(), false);
        assert.equal((await store.infos([id])).size, 0);
      }));

    test('segments are read back in order with their bytes, after a restart and (shared) on another node', () =>
      opened(async (o, id) => {
        const w = o.store.open(id);
        w.writeInit(0, audio.init);
        for (const s of audio.segments) w.appendSegment(s.record, s.data);
        await w.flushed();
        assert.equal(w.writeError, undefined);
        assert.equal(o.store.pending(), 0);
        const readers = [o.store, await o.reopen(), await o.another()].filter((s): s is RecordingStore => s !== undefined);
        for (const reader of readers) {
          const r = reader.open(id);
          assert.deepEqual(
            await r.load(),
            audio.segments.map((s) => s.record),
          );
          for (const s of audio.segments) assert.equal(sha((await r.readSegment(s.record.msn))!), sha(s.data));
          assert.equal(sha((await r.readInit(0))!), sha(audio.init));
          assert.equal(await r.readSegment(audio.segments.length), undefined);
        }
      }));

    test('a resumed broadcast appends after what was recorded (a new run, a discontinuity)', () =>
      opened(async (o, id) => {
        const first = o.store.open(id);
        first.writeInit(0, audio.init);
        first.appendSegment(audio.segments[0]!.record, audio.segments[0]!.data);
        await first.flushed();
        const again = (await o.reopen()).open(id);
        const loaded = await again.load();
        assert.equal(loaded.length, 1);
        again.writeInit(1, audio.init);
        const next: SegmentRecord = { ...audio.segments[1]!.record, msn: 1, run: 1, discontinuity: true };
        again.appendSegment(next, audio.segments[1]!.data);
        await again.flushed();
        const records = await (await o.reopen()).open(id).load();
        assert.deepEqual(
          records.map((r) => [r.msn, r.run, r.discontinuity]),
          [
            [0, 0, false],
            [1, 1, true],
          ],
        );
      }));

    test('finalize makes one MP4 of the whole recording; its figures and bytes are the same wherever it is read', () =>
      opened(async (o, id) => {
        const w = o.store.open(id);
        w.writeInit(0, audio.init);
        for (const s of audio.segments) w.appendSegment(s.record, s.data);
        const info = await w.finalize(
          ffmpeg,
          audio.segments.map((s) => s.record),
        );
        assert.ok(info, 'made');
        assert.ok(Math.abs(info.duration - audio.seconds) < 0.05, `duration ${info.duration}`);
        const file = await w.file();
        assert.ok(file && fs.existsSync(file));
        assert.equal(fs.statSync(file).size, info.bytes);
        const probed = await probeDuration(file);
        assert.ok(Math.abs(probed - audio.seconds) < 0.2, `ffprobe reads ${probed} s`);
        assert.equal(await w.making(), false, 'made, not being made');
        const readers = [await o.reopen(), await o.another()].filter((s): s is RecordingStore => s !== undefined);
        for (const reader of readers) {
          const r = reader.open(id);
          assert.deepEqual(await r.info(), info);
          const there = await r.file();
          assert.ok(there);
          assert.equal(sha(fs.readFileSync(there)), sha(fs.readFileSync(file)));
          assert.equal(fs.statSync(there).mtimeMs, fs.statSync(file).mtimeMs, 'the same Last-Modified (and ETag) on every node');
          assert.deepEqual((await reader.infos([id, newSpace()])).get(id), info);
        }
      }));

    test('a file made again (its replay trimmed) replaces the first for every reader, its stale copies too', () =>
      opened(async (o, id) => {
        const w = o.store.open(id);
        w.writeInit(0, audio.init);
        for (const s of audio.segments) w.appendSegment(s.record, s.data);
        const records = audio.segments.map((s) => s.record);
        const first = await w.finalize(ffmpeg, records);
        assert.ok(first);
        const other = await o.another();
        // Another node has read the first file (its figures and a copy in its cache).
        const copied = await other?.open(id).file();
        if (other) assert.ok(copied);
        const cut = trimRecords(records, { start: 1.2, end: 4.8 });
        assert.ok(cut);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const again = await w.finalize(ffmpeg, cut.records, { again: true });
        assert.ok(again, 'made again');
        // The fixture's records give every part the same length (the last fragment is in fact shorter):
        // the file holds the parts kept, within a fraction of one part (0.5 s).
        const parts = (rs: readonly SegmentRecord[]) => rs.reduce((n, r) => n + r.parts.length, 0);
        const kept = (first.duration * parts(cut.records)) / parts(records);
        assert.ok(parts(cut.records) < parts(records));
        assert.ok(Math.abs(again.duration - kept) < 0.1, `the file lasts the parts kept: ${again.duration} s of ${kept} s`);
        assert.ok(again.createdAt > first.createdAt);
        assert.deepEqual(await w.info(), again);
        assert.ok(!(await o.store.unfinished()).includes(id), 'finished again');
        // A node trusts a file's figures for a few seconds (pg-recordings.ts): past them, every reader has the new file.
        if (other) await new Promise((resolve) => setTimeout(resolve, 5200));
        for (const reader of [await o.reopen(), other].filter((s): s is RecordingStore => s !== undefined)) {
          const r = reader.open(id);
          assert.deepEqual(await r.info(), again);
          const there = await r.file();
          assert.ok(there);
          assert.equal(fs.statSync(there).size, again.bytes);
          assert.ok(Math.abs((await probeDuration(there)) - again.duration) < 0.05, 'the copy is the new file');
        }
      }));

    test('nothing to record: finalize of no segments makes nothing', () =>
      opened(async ({ store }, id) => {
        assert.equal(await store.open(id).finalize(ffmpeg, []), undefined);
        assert.equal(await store.open(id).info(), undefined);
      }));

    test('a recording switched off is removed: segments, init and file gone, for every reader', () =>
      opened(async (o, id) => {
        const w = o.store.open(id);
        w.writeInit(0, audio.init);
        for (const s of audio.segments) w.appendSegment(s.record, s.data);
        await w.finalize(
          ffmpeg,
          audio.segments.map((s) => s.record),
        );
        const file = await w.file();
        await w.remove();
        assert.ok(file && !fs.existsSync(file));
        for (const reader of [await o.reopen(), await o.another()].filter((s): s is RecordingStore => s !== undefined)) {
          const r = reader.open(id);
          assert.deepEqual(await r.load(), []);
          assert.equal(await r.info(), undefined);
          assert.equal(await r.file(), undefined);
        }
      }));
  });
}
