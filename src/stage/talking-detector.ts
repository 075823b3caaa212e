/**
 * Who is talking right now, from the audio itself: each packet's level, from its RFC 6464 header
 * when the client sends one (browsers do), else by decoding the Opus (about 20 µs a packet with
 * native libopus), is compared with two thresholds — talking starts
 * above START and ends only after HOLD_MS below STOP — so the indicator does not flicker between
 * words. Changes are reported at once; a steady state is never re-reported.
 */
import opus from '@discordjs/opus';
import { rms } from '../audio/levels.js';
import type { Identity } from '../ids.js';

// @discordjs/opus is CommonJS: its named exports arrive on the default export under ESM.
const { OpusEncoder } = opus;

/** RMS (full scale = 1) above which a speaker starts talking: about −34 dBFS. */
const START = 0.02;
/** RMS below which a speaker counts as quiet: about −40 dBFS. */
const STOP = 0.01;
/** How long a speaker must stay quiet before talking ends, ms. */
const HOLD_MS = 400;

interface SpeakerState {
  /** Made on the first packet without a level header. */
  decoder: InstanceType<typeof OpusEncoder> | undefined;
  talking: boolean;
  lastLoudAt: number;
}

export class TalkingDetector {
  private readonly speakers = new Map<Identity, SpeakerState>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly onChange: (identity: Identity, talking: boolean) => void) {
    // Silence means no packets at all (a muted or gone speaker): a sweep ends talking for those too.
    this.timer = setInterval(() => this.sweep(Date.now()), 100);
    this.timer.unref();
  }

  /** The identities talking now. */
  talking(): Identity[] {
    return [...this.speakers].filter(([, s]) => s.talking).map(([identity]) => identity);
  }

  /** A packet without a level header: decode it to measure. */
  push(identity: Identity, payload: Buffer, now: number): void {
    const state = this.state(identity);
    state.decoder ??= new OpusEncoder(48_000, 1);
    let level: number;
    try {
      level = rms(state.decoder.decode(payload));
    } catch {
      return; // an undecodable packet says nothing about talking
    }
    this.observe(identity, state, level, now);
  }

  /** A packet whose RFC 6464 header gives its level, −dBov (0 loudest, 127 silence): no decoding. */
  pushLevel(identity: Identity, dBov: number, now: number): void {
    this.observe(identity, this.state(identity), 10 ** (-dBov / 20), now);
  }

  private state(identity: Identity): SpeakerState {
    let state = this.speakers.get(identity);
    if (!state) {
      state = { decoder: undefined, talking: false, lastLoudAt: 0 };
      this.speakers.set(identity, state);
    }
    return state;
  }

  private observe(identity: Identity, state: SpeakerState, level: number, now: number): void {
    if (level >= STOP) state.lastLoudAt = now;
    if (!state.talking && level >= START) {
      state.talking = true;
      this.onChange(identity, true);
    }
    this.settle(identity, state, now);
  }

  forget(identity: Identity): void {
    const state = this.speakers.get(identity);
    this.speakers.delete(identity);
    if (state?.talking) this.onChange(identity, false);
  }

  private settle(identity: Identity, state: SpeakerState, now: number): void {
    if (state.talking && now - state.lastLoudAt > HOLD_MS) {
      state.talking = false;
      this.onChange(identity, false);
    }
  }

  private sweep(now: number): void {
    for (const [identity, state] of this.speakers) this.settle(identity, state, now);
  }

  close(): void {
    clearInterval(this.timer);
    this.speakers.clear();
  }
}
