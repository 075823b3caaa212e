/**
 * The media side of one live space: a drift-free 20 ms clock drives the mixer, and every mixed
 * frame goes to the space's AAC encoder (one ffmpeg process), which is restarted with backoff if it
 * dies — each run starts a new stretch of the broadcast (a discontinuity), and the mix never stops.
 * Owned by the space's broadcast; `close()` ends the encoder cleanly (its last fragment included)
 * and leaves no timer or process behind.
 */
import type { Identity } from '../ids.js';
import { AacEncoder, type EncoderOptions } from './aac-encoder.js';
import { PLAYOUT_DELAY_MS } from './jitter-buffer.js';
import { FRAME_MS, FRAME_SAMPLES, Mixer } from './mixer.js';

export interface MixOutput {
  /** An encoder run began: its init segment, and the wall-clock time (epoch ms) of its first sample. */
  runStarted(init: Buffer, startedAt: number): void;
  fragment(moof: Buffer, mdat: Buffer): void;
  /** The run ended (asked to, or the encoder died; `reason` says which). */
  runEnded(reason?: string): void;
}

/** Frames behind schedule beyond which the clock skips ahead instead of catching up (1 s). */
const MAX_CATCH_UP = 50;
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 5000;

export class SpaceMix {
  readonly mixer = new Mixer();
  private readonly timer: NodeJS.Timeout;
  private readonly epoch = performance.now();
  private produced = 0;
  private encoder: AacEncoder | undefined;
  private runStartedAt: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = RESTART_MIN_MS;
  private closed = false;
  /** Encoder runs that ended in a crash. */
  crashes = 0;
  /** Times the clock fell more than a second behind (the process was stalled) and skipped ahead. */
  skips = 0;

  constructor(
    private readonly options: EncoderOptions,
    private readonly output: MixOutput,
  ) {
    this.startEncoder();
    this.timer = setInterval(() => this.tick(), FRAME_MS);
  }

  /** The ffmpeg process encoding now (tests kill it to prove the restart). */
  get encoderPid(): number | undefined {
    return this.encoder?.pid;
  }

  private tick(): void {
    let due = Math.floor((performance.now() - this.epoch) / FRAME_MS) - this.produced;
    if (due > MAX_CATCH_UP) {
      this.skips++;
      this.produced += due - 1;
      due = 1;
    }
    for (; due > 0; due--) {
      const now = Date.now();
      // A fresh frame each time: the pipe may hold on to a written buffer until ffmpeg reads it.
      const frame = new Int16Array(FRAME_SAMPLES);
      this.mixer.mix(now, frame);
      this.produced++;
      if (!this.encoder) continue;
      this.runStartedAt ??= now - PLAYOUT_DELAY_MS;
      this.encoder.write(Buffer.from(frame.buffer));
    }
  }

  private startEncoder(): void {
    this.runStartedAt = undefined;
    const startedRunAt = Date.now();
    const encoder: AacEncoder = new AacEncoder(this.options, {
      init: (data) => this.output.runStarted(data, this.runStartedAt ?? Date.now()),
      fragment: (moof, mdat) => this.output.fragment(moof, mdat),
      died: (reason) => {
        if (this.encoder !== encoder) return;
        this.encoder = undefined;
        this.crashes++;
        this.output.runEnded(reason);
        if (this.closed) return;
        // A run that lived a while resets the backoff; one that keeps dying waits longer each time.
        this.backoffMs = Date.now() - startedRunAt > 30_000 ? RESTART_MIN_MS : Math.min(this.backoffMs * 2, RESTART_MAX_MS);
        this.restartTimer = setTimeout(() => this.startEncoder(), this.backoffMs);
      },
    });
    this.encoder = encoder;
  }

  /** Stops the clock and lets the encoder finish its last fragment; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    const encoder = this.encoder;
    this.encoder = undefined;
    if (encoder) {
      await encoder.end();
      this.output.runEnded();
    }
  }

  /** Stops at once without flushing (the process is going down). */
  async kill(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    await this.encoder?.kill();
    this.encoder = undefined;
  }

  /** For the mixer: a microphone packet the stage let through. */
  push(identity: Identity, seq: number, payload: Buffer): void {
    this.mixer.push(identity, seq, payload, Date.now());
  }
}
