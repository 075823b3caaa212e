/**
 * Media helpers for tests: decode a URL or a file with ffmpeg (a real client, not our code), probe a
 * file's duration with ffprobe, and measure tones in PCM windows placed by wall-clock time.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { goertzel } from '../../src/bots/tone.js';
import { findFfmpeg } from '../../src/media/ffmpeg.js';

export const ffmpeg = findFfmpeg();

/** Everything ffmpeg decodes from `input` (an HLS playlist URL, a file), as 48 kHz mono s16le. */
export function decode(input: string, extra: string[] = []): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, [
      '-hide_banner',
      '-loglevel',
      'error',
      ...extra,
      '-i',
      input,
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      '48000',
      'pipe:1',
    ]);
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg ${code}: ${stderr}`))));
  });
}

/** Duration of a media file by ffprobe, s. */
export async function probeDuration(file: string): Promise<number> {
  const ffprobe = ffmpeg === 'ffmpeg' ? 'ffprobe' : ffmpeg.replace(/ffmpeg$/, 'ffprobe');
  const { stdout } = await promisify(execFile)(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** The power of `hz` in the PCM between two wall-clock times, given the wall time of sample 0. */
export function toneBetween(pcm: Buffer, startsAt: number, from: number, to: number, hz: number): number {
  const at = (t: number) => Math.max(0, Math.min(pcm.length, Math.round(((t - startsAt) * 48_000) / 1000) * 2));
  return goertzel(pcm.subarray(at(from), at(to)), hz);
}
