/**
 * One ffmpeg process encoding a space's mix: 48 kHz mono s16le PCM in on stdin, AAC-LC in
 * fragmented MP4 out on stdout, one `moof`+`mdat` fragment every ~256 ms (twelve 1024-sample AAC
 * frames) — each a ready LL-HLS part. The flags that keep ffmpeg from waiting to probe its input
 * are the ones measured in NOTES.md (first fragment ≈ 80 ms after its last PCM frame).
 * Restarting after a crash is the owner's job (SpaceBroadcast); this class is one run. It may be
 * started before it has an output (a spare, encoder-pool.ts): until it is given PCM it writes
 * nothing, and what it says before `attach` (its death) is told on attaching.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { BoxSplitter } from '../broadcast/fmp4.js';

export interface EncoderOutput {
  /** The init segment (ftyp + moov), once per run, before any fragment. */
  init(data: Buffer): void;
  /** One fragment: its moof box and its mdat box. */
  fragment(moof: Buffer, mdat: Buffer): void;
  /** The process exited without being asked to (crash, kill, bad output). */
  died(reason: string): void;
}

export interface EncoderOptions {
  ffmpeg: string;
  /** AAC bitrate, bits/s. */
  bitrate: number;
  /** Target fragment (LL-HLS part) length, ms; ffmpeg cuts at the first AAC frame past it. */
  fragmentMs: number;
}

/** PCM waiting in ffmpeg's stdin beyond which it is declared stuck (≈ 10 s of audio). */
const MAX_BACKLOG_BYTES = 960_000;

export class AacEncoder {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly splitter = new BoxSplitter();
  private init: Buffer[] = [];
  private moof: Buffer | undefined;
  private stderrTail = '';
  private ending = false;
  private gone = false;
  private output: EncoderOutput | undefined;
  /** Why it died before it had an output. */
  private diedEarly: string | undefined;
  readonly exited: Promise<void>;

  constructor(options: EncoderOptions, output?: EncoderOutput) {
    this.output = output;
    const args = [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
      ...['-fflags', 'nobuffer', '-probesize', '32', '-analyzeduration', '0'],
      ...['-f', 's16le', '-ar', '48000', '-ac', '1', '-i', 'pipe:0'],
      ...['-c:a', 'aac', '-profile:a', 'aac_low', '-aac_coder', 'fast', '-b:a', String(options.bitrate), '-ac', '1', '-ar', '48000'],
      ...['-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_keyframe'],
      ...['-frag_duration', String(options.fragmentMs * 1000), '-flush_packets', '1', 'pipe:1'],
    ];
    this.child = spawn(options.ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => {}); // EPIPE after a crash: reported through 'exit'
    this.child.stdout.on('data', (chunk: Buffer) => this.read(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-500);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.gone = true;
        if (!this.ending) this.died(`ffmpeg exited (${signal ?? code}) ${this.stderrTail.trim()}`.trim());
        resolve();
      });
      this.child.once('error', (err) => {
        this.gone = true;
        if (!this.ending) this.died(`ffmpeg could not run: ${err.message}`);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has exited (a spare that died waiting is not handed out). */
  get alive(): boolean {
    return !this.gone;
  }

  /** Gives a spare its output; a death before now is told at once (asynchronously, as it would have been). */
  attach(output: EncoderOutput): void {
    this.output = output;
    const reason = this.diedEarly;
    if (reason !== undefined) queueMicrotask(() => output.died(reason));
  }

  private died(reason: string): void {
    if (this.output) this.output.died(reason);
    else this.diedEarly = reason;
  }

  /** Feeds PCM (s16le mono 48 kHz). A stuck encoder is killed, which reports it as died. */
  write(pcm: Buffer): void {
    if (this.gone || this.ending) return;
    if (this.child.stdin.writableLength > MAX_BACKLOG_BYTES) {
      this.stderrTail += ' (stopped reading its input)';
      this.child.kill('SIGKILL');
      return;
    }
    this.child.stdin.write(pcm);
  }

  /** Closes the input: ffmpeg writes the last (shorter) fragment and exits. */
  async end(timeoutMs = 5000): Promise<void> {
    if (this.ending) return this.exited;
    this.ending = true;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops at once, dropping what is in flight. */
  kill(): Promise<void> {
    this.ending = true;
    if (!this.gone) this.child.kill('SIGKILL');
    return this.exited;
  }

  private read(chunk: Buffer): void {
    const output = this.output;
    if (!output) {
      // Output before any input is not an encoder at work: treat it as broken.
      this.stderrTail += ' (wrote before it was given audio)';
      this.child.kill('SIGKILL');
      return;
    }
    let boxes: ReturnType<BoxSplitter['push']>;
    try {
      boxes = this.splitter.push(chunk);
    } catch (err) {
      this.stderrTail += ` (unreadable output: ${(err as Error).message})`;
      this.child.kill('SIGKILL');
      return;
    }
    for (const box of boxes) {
      if (box.type === 'ftyp') this.init = [box.data];
      else if (box.type === 'moov') output.init(Buffer.concat([...this.init, box.data]));
      else if (box.type === 'moof') this.moof = box.data;
      else if (box.type === 'mdat' && this.moof) {
        output.fragment(this.moof, box.data);
        this.moof = undefined;
      }
      // mfra (written at the end) and anything else is not part of the stream.
    }
  }
}
