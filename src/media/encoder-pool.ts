/**
 * A spare encoder, started before it is needed: a go-live (and an encoder's restart, and a space
 * taken over from another node) takes an ffmpeg process that is already running instead of
 * starting one, and the next spare starts behind it. An idle ffmpeg waits on its input and writes
 * nothing, so a spare's first sample is the broadcast's first: nothing said before go-live is
 * encoded, published or recorded.
 *
 * Measured here (NOTES.md): ffmpeg's start (~0.1 s on a calm machine) overlaps the first part's
 * 256 ms of audio, so a warm encoder gains little when the machine is idle; it keeps the start of
 * a broadcast free of a process start when the machine is busy (a flood at go-live).
 */
import { AacEncoder, type EncoderOptions, type EncoderOutput } from './aac-encoder.js';

const keyOf = (o: EncoderOptions) => `${o.ffmpeg}|${o.bitrate}|${o.fragmentMs}`;

export class EncoderPool {
  private spare: { key: string; encoder: AacEncoder } | undefined;
  private closed = false;
  /** Encoders handed out already running, and those started on demand (no spare, or a different setting). */
  readonly taken = { warm: 0, cold: 0 };

  /** Keeps a spare running for these settings (idempotent while it lives). */
  warm(options: EncoderOptions): void {
    if (this.closed) return;
    const key = keyOf(options);
    if (this.spare?.key === key && this.spare.encoder.alive) return;
    void this.spare?.encoder.kill();
    this.spare = { key, encoder: new AacEncoder(options) };
  }

  /** An encoder for `output`: the spare when it fits and lives (a new one then starts), else a new process. */
  take(options: EncoderOptions, output: EncoderOutput): AacEncoder {
    const spare = this.spare;
    if (spare && spare.key === keyOf(options) && spare.encoder.alive && !this.closed) {
      this.spare = undefined;
      spare.encoder.attach(output);
      this.taken.warm++;
      // The next spare, once this go-live's work is done.
      setImmediate(() => this.warm(options));
      return spare.encoder;
    }
    this.taken.cold++;
    return new AacEncoder(options, output);
  }

  /** The spare's process id (tests). */
  get sparePid(): number | undefined {
    return this.spare?.encoder.pid;
  }

  /** Stops the spare; none is started after this. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    await spare?.encoder.kill();
  }
}
