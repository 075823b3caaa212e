/**
 * Decodes a fragmented-MP4 AAC stream as it arrives, with ffmpeg (the same decoder family players
 * use): an init segment and then fragments go in on stdin, 48 kHz mono s16le PCM comes out on stdout
 * within a millisecond of each fragment. The AAC encoder's 1024 priming samples are dropped by the
 * decoder, so output sample s is media sample s + PRIMING_SAMPLES of the first fragment fed.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export const PRIMING_SAMPLES = 1024;

export class AacDecoder {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  readonly exited: Promise<void>;

  /** `adts`: a raw AAC stream (Icecast's), whose priming samples are not dropped (nothing says how many). */
  constructor(ffmpeg: string, onPcm: (pcm: Buffer) => void, format: 'mp4' | 'adts' = 'mp4') {
    this.child = spawn(
      ffmpeg,
      [
        ...['-hide_banner', '-loglevel', 'error', '-fflags', 'nobuffer', '-probesize', '32', '-analyzeduration', '0'],
        ...['-f', format === 'adts' ? 'aac' : 'mp4', '-i', 'pipe:0', '-f', 's16le', '-ac', '1', '-ar', '48000', 'pipe:1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdin.on('error', () => {}); // reported through exit
    this.child.stdout.on('data', onPcm);
    this.child.stderr.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-500);
    });
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
  }

  /** What ffmpeg said on stderr (errors), if anything. */
  get errors(): string {
    return this.stderr.trim();
  }

  write(data: Buffer): void {
    this.child.stdin.write(data);
  }

  /** Ends the input and waits until all the PCM is out. */
  async end(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
