/**
 * Click timing for the speaker-to-speaker latency figures: the sender sends a click (a loud 20 ms
 * frame after silence) every 200 ms and records when each left; the receiver times each click's
 * arrival (a decoded frame's level crossing a threshold). Used for Rostrum's stage (WebRTC bots) and
 * for the Janus AudioBridge peer (plain RTP), so both are timed the same way.
 */
import { rms } from '../src/audio/levels.js';
import type { HeardFrame } from '../src/bots/opus-stream.js';
import { FRAME_SAMPLES, toneFrame } from '../src/bots/tone.js';

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Clicks sent that never arrived. */
  missed: number;
}

export const CLICK_EVERY_FRAMES = 10; // 200 ms
const CLICK_LEVEL = 0.5;
/** Decoded RMS (of full scale) above which a frame is the click; silence decodes to ~0. */
const CLICK_THRESHOLD = 0.05;
const SILENCE = Buffer.alloc(FRAME_SAMPLES * 2);

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Times clicks: the sender side records when each click left, the receiver side when it arrived. */
export class ClickTimer {
  private readonly sent: number[] = [];
  private readonly latencies: number[] = [];
  private wasLoud = false;

  readonly frameAt = (index: number): Buffer =>
    index % CLICK_EVERY_FRAMES === 0 && index > 0 ? toneFrame(1000, index, CLICK_LEVEL) : SILENCE;

  readonly onSent = (index: number, at: number): void => {
    if (index % CLICK_EVERY_FRAMES === 0 && index > 0) this.sent.push(at);
  };

  readonly onHeard = (frame: HeardFrame): void => {
    const loud = !frame.concealed && rms(frame.pcm) > CLICK_THRESHOLD;
    if (loud && !this.wasLoud) {
      const sentAt = this.sent.findLast((t) => t <= frame.perf);
      if (sentAt !== undefined && frame.perf - sentAt < CLICK_EVERY_FRAMES * 20) this.latencies.push(frame.perf - sentAt);
    }
    this.wasLoud = loud;
  };

  get clicksSent(): number {
    return this.sent.length;
  }

  distribution(): Distribution {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      count: sorted.length,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? Number.NaN,
      missed: Math.max(0, this.sent.length - sorted.length),
    };
  }
}
