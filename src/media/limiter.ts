/**
 * The mix's limiter: sums above full scale are turned down, never clipped. The gain drops at once
 * (within the 20 ms frame that would clip) and comes back up over about 400 ms; inside a frame it
 * moves in a straight line between two values that are both at most what the frame's peak allows,
 * so no sample can exceed full scale and the gain never jumps while recovering.
 */

/** Peak the limiter keeps the mix under, as a fraction of full scale (−0.3 dBFS). */
const CEILING = 0.966 * 32767;
/** Gain regained per 20 ms frame while recovering: 1 → full in ~400 ms from −6 dB. */
const RELEASE_PER_FRAME = 0.025;

export class Limiter {
  private gain = 1;
  /** Frames in which the gain was below 1. */
  limitedFrames = 0;

  /** Scales `mix` (float samples on the int16 scale) into `out` as int16. */
  process(mix: Float32Array, out: Int16Array): void {
    let peak = 0;
    for (let i = 0; i < mix.length; i++) {
      const a = Math.abs(mix[i]!);
      if (a > peak) peak = a;
    }
    const allowed = peak > CEILING ? CEILING / peak : 1;
    const start = Math.min(this.gain, allowed);
    const end = Math.min(allowed, this.gain + RELEASE_PER_FRAME);
    this.gain = end;
    if (start < 1 || end < 1) this.limitedFrames++;
    const step = (end - start) / mix.length;
    let g = start;
    for (let i = 0; i < mix.length; i++, g += step) out[i] = Math.round(mix[i]! * g);
  }
}
