/**
 * A space's mixer: every speaker's Opus packets go through their own jitter buffer, and each 20 ms
 * frame mixes the loudest few of the speakers who have audio — decoded by libopus (with its
 * packet-loss concealment), summed, and passed through the limiter. Mutes need nothing here: the
 * stage drops a muted speaker's packets before they reach the mixer, so the mix honours them within
 * one packet plus the playout delay. Nobody talking gives silence, never a missing frame.
 *
 * Why only the loudest few: a listener follows two or three voices at once, no more, and decoding
 * is most of a mix's cost (about 20 µs a packet), so a stage of thirteen all talking costs what
 * three do. Large conferencing mixers work the same way (the N loudest; Google Meet forwards three).
 * The ranking uses each packet's RFC 6464 level, which browsers and our bots send, so a speaker
 * left out of the mix is never decoded; a speaker whose packets carry no level is always mixed (it
 * cannot be ranked without decoding). The choice is sticky — a speaker in the mix counts 6 dB
 * louder — so two voices of about the same level do not take turns; a voice coming in is faded in
 * over one frame, its decoder primed with the packet before, and a voice pushed out is faded out,
 * so switching never clicks.
 */
import opus from '@discordjs/opus';
import { opusSamples } from '../audio/opus-toc.js';
import { PeakLevel, STICKINESS } from '../audio/peak-level.js';
import type { Identity } from '../ids.js';
import { JitterBuffer } from './jitter-buffer.js';
import { Limiter } from './limiter.js';

const { OpusEncoder } = opus;
type Decoder = InstanceType<typeof OpusEncoder>;

export const SAMPLE_RATE = 48_000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
const EMPTY = Buffer.alloc(0);
const NO_SAMPLES = new Int16Array(0);

interface Source {
  buffer: JitterBuffer;
  decoder: Decoder;
  /** Decoded samples not mixed yet (packets longer than 20 ms). */
  carry: Int16Array;
  /** Samples of skipped (undecoded) audio not yet accounted to a frame, while out of the mix. */
  skipped: number;
  /** The last packet skipped: decoded (and thrown away) on coming into the mix, to prime the decoder. */
  lastSkipped: Buffer | undefined;
  /** The previous frame had audio of this speaker that was left out of the mix. */
  leftOut: boolean;
  /** Recent peak level from the packets' RFC 6464 headers; null while they carry none. */
  level: PeakLevel | null;
  /** Its rank in this frame: the level, favoured if mixed; Infinity without a level. */
  rank: number;
  /** Its audio was in the previous frame's mix. */
  mixed: boolean;
}

/** Counters of what the mixer did, for metrics and tests. */
export interface MixerCounts {
  frames: number;
  decoded: number;
  concealed: number;
  late: number;
  /** Packets played out without decoding: their speaker was not among the loudest. */
  skipped: number;
  /** Times a speaker came into the mix while talking, pushing a quieter one out (faded). */
  switches: number;
}

export class Mixer {
  private readonly sources = new Map<Identity, Source>();
  /** The same sources, re-ranked loudest first every frame. */
  private readonly ranked: Source[] = [];
  private readonly sum = new Float32Array(FRAME_SAMPLES);
  private readonly limiter = new Limiter();
  readonly counts: MixerCounts = { frames: 0, decoded: 0, concealed: 0, late: 0, skipped: 0, switches: 0 };

  constructor(
    /** Voices mixed at once: the loudest this many of those with audio (config: voices). */
    private readonly voices: number,
  ) {
    if (!Number.isInteger(voices) || voices < 1) throw new RangeError(`a mix needs at least one voice, not ${voices}`);
  }

  /**
   * One microphone packet that the stage let through (not muted, not held-back silence), with its
   * RFC 6464 level (−dBov, 0 loudest, 127 silence) when the client sent one.
   */
  push(identity: Identity, seq: number, payload: Buffer, now: number, dBov?: number): void {
    let source = this.sources.get(identity);
    if (!source) {
      source = {
        buffer: new JitterBuffer(),
        decoder: new OpusEncoder(SAMPLE_RATE, 1),
        carry: NO_SAMPLES,
        skipped: 0,
        lastSkipped: undefined,
        leftOut: false,
        level: null,
        rank: 0,
        mixed: false,
      };
      this.sources.set(identity, source);
      this.ranked.push(source);
    }
    if (dBov === undefined) source.level = null;
    else {
      source.level ??= new PeakLevel();
      source.level.note(dBov, now);
    }
    source.buffer.push(seq, payload, now);
  }

  /** A speaker left the stage: their buffer and decoder go. */
  remove(identity: Identity): void {
    const source = this.sources.get(identity);
    if (!source) return;
    this.counts.late += source.buffer.late;
    this.sources.delete(identity);
    this.ranked.splice(this.ranked.indexOf(source), 1);
  }

  get speakers(): number {
    return this.sources.size;
  }

  /** Gain-limited frames so far. */
  get limited(): number {
    return this.limiter.limitedFrames;
  }

  /** Mixes the next 20 ms into `out` (FRAME_SAMPLES int16 samples). */
  mix(now: number, out: Int16Array): void {
    this.sum.fill(0);
    // Unknown levels first (they are always mixed), then loudest first, the mix's own voices favoured.
    for (const source of this.ranked) {
      source.rank = source.level === null ? Number.POSITIVE_INFINITY : source.level.at(now) * (source.mixed ? STICKINESS : 1);
    }
    this.ranked.sort((a, b) => b.rank - a.rank);
    let voices = 0;
    for (const source of this.ranked) {
      const wanted = voices < this.voices || source.level === null;
      if (!wanted && !source.mixed) {
        this.skip(source, now);
        continue;
      }
      // Coming in while it already had audio playing (out of the mix): prime its decoder and fade in.
      const entering = wanted && !source.mixed && source.leftOut;
      if (entering) {
        if (source.lastSkipped) this.decode(source.decoder, source.lastSkipped);
        this.counts.switches++;
      }
      source.skipped = 0;
      source.lastSkipped = undefined;
      source.leftOut = false;
      const frame = this.frameOf(source, now);
      if (!frame) {
        source.mixed = false;
        continue;
      }
      if (wanted) voices++;
      // Pushed out by a louder voice: this frame fades it out, and it is skipped from the next.
      const fade = entering ? 1 : wanted ? 0 : -1;
      add(this.sum, frame, fade);
      source.mixed = wanted;
      if (!wanted) source.carry = NO_SAMPLES;
    }
    this.limiter.process(this.sum, out);
    this.counts.frames++;
  }

  /** Plays out a frame's worth of a speaker left out of the mix, without decoding it. */
  private skip(source: Source, now: number): void {
    source.leftOut = source.skipped > 0;
    while (source.skipped < FRAME_SAMPLES) {
      const next = source.buffer.pop(now);
      if (next.kind === 'idle') break;
      source.leftOut = true;
      if (next.kind === 'packet') {
        source.skipped += opusSamples(next.payload) || FRAME_SAMPLES;
        source.lastSkipped = next.payload;
        this.counts.skipped++;
      } else {
        source.skipped += FRAME_SAMPLES;
      }
    }
    source.skipped = Math.max(0, source.skipped - FRAME_SAMPLES);
  }

  private frameOf(source: Source, now: number): Int16Array | undefined {
    while (source.carry.length < FRAME_SAMPLES) {
      const next = source.buffer.pop(now);
      if (next.kind === 'idle') break;
      const pcm = next.kind === 'packet' ? this.decode(source.decoder, next.payload) : this.conceal(source.decoder);
      source.carry = concat(source.carry, pcm);
    }
    if (source.carry.length === 0) return undefined;
    const frame = source.carry.subarray(0, FRAME_SAMPLES);
    source.carry = source.carry.subarray(frame.length);
    return frame;
  }

  private decode(decoder: Decoder, payload: Buffer): Int16Array {
    try {
      const pcm = decoder.decode(payload);
      this.counts.decoded++;
      return samplesOf(pcm, pcm.length >> 1);
    } catch {
      return this.conceal(decoder); // a packet libopus refuses is a loss
    }
  }

  /** 20 ms of libopus concealment (it extrapolates up to 120 ms; one frame is taken). */
  private conceal(decoder: Decoder): Int16Array {
    this.counts.concealed++;
    try {
      return samplesOf(decoder.decode(EMPTY), FRAME_SAMPLES);
    } catch {
      return new Int16Array(FRAME_SAMPLES);
    }
  }
}

/** Adds a frame to the sum: as it is (0), faded in over the frame (1), or faded out (−1). */
function add(sum: Float32Array, frame: Int16Array, fade: -1 | 0 | 1): void {
  if (fade === 0) {
    for (let i = 0; i < frame.length; i++) sum[i]! += frame[i]!;
    return;
  }
  const step = 1 / FRAME_SAMPLES;
  for (let i = 0; i < frame.length; i++) {
    const gain = fade === 1 ? i * step : 1 - i * step;
    sum[i]! += frame[i]! * gain;
  }
}

/** The first `count` int16 samples of a decoded buffer (copied if it is not 2-byte aligned). */
function samplesOf(pcm: Buffer, count: number): Int16Array {
  const n = Math.min(count, pcm.length >> 1);
  if (pcm.byteOffset % 2 === 0) return new Int16Array(pcm.buffer, pcm.byteOffset, n);
  return new Int16Array(Uint8Array.from(pcm.subarray(0, n * 2)).buffer);
}

function concat(a: Int16Array, b: Int16Array): Int16Array {
  if (a.length === 0) return b;
  const out = new Int16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
