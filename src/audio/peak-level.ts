/**
 * A voice's recent peak level, from its packets' RFC 6464 headers: it rises at once with a louder
 * packet and falls by about 1 dB every 20 ms after, so a voice keeps its rank through the short
 * dips between syllables but gives way within a second once it has really gone quiet. Used to pick
 * the loudest voices, on stage and in the broadcast mix.
 */

/** How much of the peak is left after 20 ms (≈ −1 dB). */
const DECAY_PER_20_MS = 0.89;

/**
 * When the loudest voices are chosen, one already chosen counts this much louder (6 dB): voices of
 * about the same level then do not take turns.
 */
export const STICKINESS = 2;

export class PeakLevel {
  private peak = 0;
  private peakAt = 0;

  /** A packet's level, −dBov (0 loudest, 127 silence), heard at `now` (ms). */
  note(dBov: number, now: number): void {
    const level = 10 ** (-dBov / 20);
    if (level >= this.at(now)) {
      this.peak = level;
      this.peakAt = now;
    }
  }

  /** The level at `now`: linear, full scale 1. */
  at(now: number): number {
    return this.peak * DECAY_PER_20_MS ** ((now - this.peakAt) / 20);
  }
}
