/**
 * Which speakers the stage forwards to the others: the loudest few of those talking, from each
 * packet's RFC 6464 level. A stage of thirteen all talking at once is noise to every one of them,
 * and forwarding is the stage's cost (each forwarded stream is an SRTP encryption and a UDP send per
 * packet per receiver), so, like Google Meet, the server forwards the three loudest voices. The
 * choice is sticky: a voice takes the place of the quietest chosen one only when it is 6 dB
 * louder, so voices of about the same level do not take turns. A voice that stops (held back as
 * silence, muted, gone) frees its place at once.
 */
import { PeakLevel, STICKINESS } from '../audio/peak-level.js';
import type { Identity } from '../ids.js';

export class LoudestVoices {
  private readonly levels = new Map<Identity, PeakLevel>();
  private readonly chosen = new Set<Identity>();

  constructor(
    /** How many voices are forwarded at once. */
    private readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`at least one voice must be heard, not ${size}`);
  }

  /** A packet of `identity` at `dBov` (−dBov, 127 silence): whether its voice is among the loudest. */
  admit(identity: Identity, dBov: number, now: number): boolean {
    let level = this.levels.get(identity);
    if (!level) {
      level = new PeakLevel();
      this.levels.set(identity, level);
    }
    level.note(dBov, now);
    if (this.chosen.has(identity)) return true;
    if (this.chosen.size < this.size) {
      this.chosen.add(identity);
      return true;
    }
    let quietest: Identity | undefined;
    let quietestLevel = Number.POSITIVE_INFINITY;
    for (const other of this.chosen) {
      const l = this.levels.get(other)!.at(now);
      if (l < quietestLevel) {
        quietest = other;
        quietestLevel = l;
      }
    }
    if (quietest === undefined || level.at(now) <= quietestLevel * STICKINESS) return false;
    this.chosen.delete(quietest);
    this.chosen.add(identity);
    return true;
  }

  /** The voice stopped (held back as silence, muted, off stage): its place is free. */
  release(identity: Identity): void {
    this.chosen.delete(identity);
  }

  /** The speaker left the stage. */
  forget(identity: Identity): void {
    this.chosen.delete(identity);
    this.levels.delete(identity);
  }
}
