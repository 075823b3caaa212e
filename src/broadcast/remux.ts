/**
 * Makes a recording's one file from its segments: the first run's init segment and every segment in
 * order, joined into a temporary fragmented MP4 and remuxed by ffmpeg (no re-encode) into a plain
 * MP4 with its seek index at the front. Every run's init describes the same AAC stream and the
 * packager keeps the timeline continuous across runs, so one init serves them all.
 */
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { mediaDuration, type SegmentRecord } from './playlist.js';
import type { RecordingInfo } from './recording-store.js';

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
    for (const s of segments) if (!s.gap) await handle.write((await source.readSegment(s.msn)) ?? Buffer.alloc(0));
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
    await fsp.rename(made, out);
  } finally {
    await fsp.rm(joined, { force: true });
    await fsp.rm(made, { force: true });
  }
  return {
    duration: Math.round(segments.reduce((sum, s) => sum + mediaDuration(s), 0) * 1000) / 1000,
    bytes: (await fsp.stat(out)).size,
    createdAt: Date.now(),
  };
}
