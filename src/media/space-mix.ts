/**
 * The media side of one live space: a drift-free clock drives the mixer, and every mixed frame goes
 * to the space's AAC encoder (one ffmpeg process), which is restarted with backoff if it
 * dies — each run starts a new stretch of the broadcast (a discontinuity), and the mix never stops.
 * Owned by the space's broadcast; `close()` ends the encoder cleanly (its last fragment included)
 * and leaves no timer or process behind.
 *
 * The clock ticks every TICK_MS and mixes the six 20 ms frames due, written to ffmpeg at once:
 * each wake-up of this thread and of ffmpeg costs more than mixing a frame (a 20 ms timer alone is
 * about 0.3 % of a core here; writing each frame on its own doubled the mix's idle cost; a pipe
 * write that wakes ffmpeg costs ~0.2 ms of this thread, and ffmpeg fed every 60 ms used ~0.15 % of
 * a core more than fed every 120 ms). The jitter buffer waits TICK_MS − FRAME_MS longer to match,
 * so a speaker's late packet has as much time to arrive as with a 20 ms tick; glass-to-ear grows by
 * those 100 ms, well inside LL-HLS's second (a part is 256 ms; players hold three back).
 */
import type { Identity } from '../ids.js';
import { AacEncoder, type EncoderOptions, type EncoderOutput } from './aac-encoder.js';
import { PLAYOUT_DELAY_MS } from './jitter-buffer.js';
import { FRAME_MS, FRAME_SAMPLES, Mixer } from './mixer.js';

/** A space's mix settings: its encoder's, and how many voices are mixed at once (the loudest). */
export interface MixOptions extends EncoderOptions {
  voices: number;
}

/** How often the clock mixes what is due (six frames), ms. */
export const TICK_MS = 6 * FRAME_MS;
/**
 * How long before its frame was due a frame's audio was said, on average: a burst starts playing
 * PLAYOUT_DELAY_MS after its first packet, at the next tick (half a tick later on average), and
 * the first of a tick's frames was due TICK_MS − FRAME_MS before the tick. The playlist's
 * PROGRAM-DATE-TIME is reckoned with it, so glass-to-ear measured from it is honest.
 */
const SAID_BEFORE_DUE_MS = PLAYOUT_DELAY_MS - (TICK_MS - FRAME_MS) + TICK_MS / 2;

export interface MixOutput {
  /** An encoder run began: its init segment, and the wall-clock time (epoch ms) of its first sample. */
  runStarted(init: Buffer, startedAt: number): void;
  fragment(moof: Buffer, mdat: Buffer): void;
  /**
   * The clock skipped ahead (the process was stalled past MAX_CATCH_UP): from sample `atSample` of
   * the current run on (48 kHz), the audio is `jumpMs` later on the wall clock than its media time
   * says. The packager re-anchors the playlist's PROGRAM-DATE-TIME there, after a discontinuity.
   */
  clockJumped?(atSample: number, jumpMs: number): void;
  /** The run ended (asked to, or the encoder died; `reason` says which). */
  runEnded(reason?: string): void;
}

/** Frames behind schedule beyond which the clock skips ahead instead of catching up (1 s). */
const MAX_CATCH_UP = 50;
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 5000;

export class SpaceMix {
  readonly mixer: Mixer;
  private readonly timer: NodeJS.Timeout;
  private readonly epoch = performance.now();
  private produced = 0;
  private encoder: AacEncoder | undefined;
  private runStartedAt: number | undefined;
  /** Frames written to the current encoder run. */
  private runFrames = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = RESTART_MIN_MS;
  private closed = false;
  /** Encoder runs that ended in a crash. */
  crashes = 0;
  /** Times the clock fell more than a second behind (the process was stalled) and skipped ahead. */
  skips = 0;

  constructor(
    private readonly options: MixOptions,
    private readonly output: MixOutput,
    /** Where its encoders come from: a running spare (encoder-pool.ts), or a new process. */
    private readonly encoders: (options: EncoderOptions, output: EncoderOutput) => AacEncoder = (o, out) => new AacEncoder(o, out),
  ) {
    this.mixer = new Mixer(options.voices);
    this.startEncoder();
    this.timer = setInterval(() => this.tick(), TICK_MS);
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
      if (this.encoder && this.runStartedAt !== undefined) this.output.clockJumped?.(this.runFrames * FRAME_SAMPLES, (due - 1) * FRAME_MS);
      due = 1;
    }
    if (due <= 0) return;
    const now = Date.now();
    // A fresh buffer each time: the pipe may hold on to a written buffer until ffmpeg reads it.
    const frames = new Int16Array(due * FRAME_SAMPLES);
    for (let i = 0; i < due; i++) this.mixer.mix(now, frames.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
    this.produced += due;
    if (!this.encoder) return;
    this.runStartedAt ??= now - (due - 1) * FRAME_MS - SAID_BEFORE_DUE_MS;
    this.runFrames += due;
    this.encoder.write(Buffer.from(frames.buffer));
  }

  private startEncoder(): void {
    this.runStartedAt = undefined;
    this.runFrames = 0;
    const startedRunAt = Date.now();
    const encoder: AacEncoder = this.encoders(this.options, {
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

  /** For the mixer: a microphone packet the stage let through, with its RFC 6464 level if it had one. */
  push(identity: Identity, seq: number, payload: Buffer, dBov?: number): void {
    this.mixer.push(identity, seq, payload, Date.now(), dBov);
  }
}
