/**
 * Makes a recording's one file from its segments: the first run's init segment and every segment in
 * order, joined into a temporary fragmented MP4 and remuxed by ffmpeg (no re-encode) into a plain
 * MP4 with its seek index at the front. Every run's init describes the same AAC stream and the
 * packager keeps the timeline continuous across runs, so one init serves them all.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { syncDir, syncFile } from './durable-file.js';
import { isWholeSegment, movieDuration } from './fmp4.js';
import type { SegmentRecord } from './playlist.js';
import type { RecordingInfo } from './recording-store.js';
import { sliceSegment } from './replay-trim.js';

const run = promisify(execFile);

export interface SegmentSource {
  readInit(run: number): Promise<Buffer | undefined>;
  readSegment(msn: number): Promise<Buffer | undefined>;
}

/** Writes the recording to `out` (through `out`.tmp files beside it); undefined when there is nothing to record. */
export async function remuxRecording(
  ffmpeg: string,
  source: SegmentSource,
  segments: readonly SegmentRecord[],
  out: string,
): Promise<RecordingInfo | undefined> {
  const first = segments.find((s) => !s.gap);
  if (!first) return undefined;
  const joined = `${out}.joined.tmp`;
  const made = `${out}.tmp`;
  const handle = await fsp.open(joined, 'w');
  try {
    await handle.write((await source.readInit(first.run)) ?? Buffer.alloc(0));
    for (const s of segments) {
      if (s.gap) continue;
      // A segment missing or damaged since it was written is left out (recording-dir.ts counts and logs it on reading).
      const read = await source.readSegment(s.msn);
      // A trimmed replay's edge segment: only its slice of parts (replay-trim.ts).
      const data = read && s.slice ? sliceSegment(read, s.slice) : read;
      if (data && isWholeSegment(data)) await handle.write(data);
    }
  } finally {
    await handle.close();
  }
  try {
    await run(ffmpeg, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      joined,
      '-c',
      'copy',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      made,
    ]);
    await syncFile(made);
    await fsp.rename(made, out);
    await syncDir(path.dirname(out));
  } finally {
    await fsp.rm(joined, { force: true });
    await fsp.rm(made, { force: true });
  }
  // The duration the file itself says (its movie header), so the feed, recording.json and every
  // player agree on it whatever gaps the recording has.
  return {
    duration: Math.round((await fileDuration(out)) * 1000) / 1000,
    bytes: (await fsp.stat(out)).size,
    createdAt: Date.now(),
  };
}

/** An MP4 file's duration, seconds, from its movie header (the top-level boxes are walked, only moov is read). */
export async function fileDuration(file: string): Promise<number> {
  const handle = await fsp.open(file, 'r');
  try {
    const { size: length } = await handle.stat();
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= length) {
      await handle.read(header, 0, 16, offset);
      let size = header.readUInt32BE(0);
      let headerBytes = 8;
      if (size === 1) {
        size = Number(header.readBigUInt64BE(8));
        headerBytes = 16;
      } else if (size === 0) size = length - offset;
      if (size < headerBytes) break;
      if (header.toString('latin1', 4, 8) === 'moov') {
        const moov = Buffer.alloc(size - headerBytes);
        await handle.read(moov, 0, moov.length, offset + headerBytes);
        return movieDuration(moov);
      }
      offset += size;
    }
  } finally {
    await handle.close();
  }
  throw new Error(`${file}: no movie header`);
}
