/**
 * One speaker's jitter buffer in the mixer: packets are reordered by RTP sequence number and played
 * out one per 20 ms frame, starting PLAYOUT_DELAY_MS after the first packet of a burst. A missing
 * packet is concealed (libopus PLC) for up to MAX_CONCEALED frames; after that, or when the speaker
 * stops sending (muted, silent, gone — the stage holds such packets back), the buffer goes idle and
 * the next packet starts a new burst, so a pause never costs latency afterwards.
 */

/** What one frame gets from the buffer. */
export type Playout = { kind: 'packet'; payload: Buffer } | { kind: 'lost' } | { kind: 'idle' };

/**
 * Wait after a burst's first packet before playing it out, so later packets can overtake (ms): 60 ms
 * of slack for a late packet, plus the 100 ms by which the mix clock (it mixes six frames each
 * 120 ms, see space-mix.ts) may consume a tick's last packet early.
 */
export const PLAYOUT_DELAY_MS = 160;
/** Consecutive missing packets concealed before the buffer gives up and goes idle (60 ms). */
const MAX_CONCEALED = 3;
/** Packets held at most; more means the clock stalled — the oldest go. */
const MAX_HELD = 50;

const IDLE: Playout = { kind: 'idle' };
const LOST: Playout = { kind: 'lost' };

export class JitterBuffer {
  private readonly packets = new Map<number, Buffer>();
  private next: number | undefined;
  private playFrom = 0;
  private missing = 0;
  /** Packets that came after their turn had passed. */
  late = 0;

  push(seq: number, payload: Buffer, now: number): void {
    if (this.next === undefined) {
      this.next = seq;
      this.playFrom = now + PLAYOUT_DELAY_MS;
    } else {
      const ahead = (seq - this.next) & 0xffff;
      if (ahead >= 0x8000) {
        this.late++;
        return;
      }
      if (ahead >= MAX_HELD) this.restart(seq, now);
    }
    this.packets.set(seq, payload);
  }

  /** The packet for this frame, a loss to conceal, or nothing (idle). */
  pop(now: number): Playout {
    if (this.next === undefined || now < this.playFrom) return IDLE;
    const payload = this.packets.get(this.next);
    if (payload) {
      this.packets.delete(this.next);
      this.next = (this.next + 1) & 0xffff;
      this.missing = 0;
      return { kind: 'packet', payload };
    }
    if (this.missing < MAX_CONCEALED) {
      this.missing++;
      this.next = (this.next + 1) & 0xffff;
      return LOST;
    }
    // Too long a gap: skip to the earliest packet held, or wait idle for the next burst.
    const earliest = this.earliest();
    this.missing = 0;
    if (earliest === undefined) {
      this.next = undefined;
      return IDLE;
    }
    this.next = earliest;
    return this.pop(now);
  }

  private earliest(): number | undefined {
    let best: number | undefined;
    for (const seq of this.packets.keys()) {
      if (best === undefined || ((seq - best) & 0xffff) >= 0x8000) best = seq;
    }
    return best;
  }

  private restart(seq: number, now: number): void {
    this.packets.clear();
    this.next = seq;
    this.playFrom = now + PLAYOUT_DELAY_MS;
    this.missing = 0;
  }
}
