/**
 * A space's mixer: every speaker's Opus packets go through their own jitter buffer and libopus
 * decoder (with its packet-loss concealment), and each 20 ms tick sums one frame from every speaker
 * who has audio and passes it through the limiter. Mutes need nothing here: the stage drops a muted
 * speaker's packets before they reach the mixer, so the mix honours them within one packet plus the
 * playout delay. Nobody talking gives silence, never a missing frame.
 */
import opus from '@discordjs/opus';
import type { Identity } from '../ids.js';
import { JitterBuffer } from './jitter-buffer.js';
import { Limiter } from './limiter.js';

const { OpusEncoder } = opus;
type Decoder = InstanceType<typeof OpusEncoder>;

export const SAMPLE_RATE = 48_000;
export const FRAME_MS = 20;
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
const EMPTY = Buffer.alloc(0);

interface Source {
  buffer: JitterBuffer;
  decoder: Decoder;
  /** Decoded samples not mixed yet (packets longer than 20 ms). */
  carry: Int16Array;
}

/** Counters of what the mixer did, for metrics and tests. */
export interface MixerCounts {
  frames: number;
  decoded: number;
  concealed: number;
  late: number;
}

export class Mixer {
  private readonly sources = new Map<Identity, Source>();
  private readonly sum = new Float32Array(FRAME_SAMPLES);
  private readonly limiter = new Limiter();
  readonly counts: MixerCounts = { frames: 0, decoded: 0, concealed: 0, late: 0 };

  /** One microphone packet that the stage let through (not muted, not held-back silence). */
  push(identity: Identity, seq: number, payload: Buffer, now: number): void {
    let source = this.sources.get(identity);
    if (!source) {
      source = { buffer: new JitterBuffer(), decoder: new OpusEncoder(SAMPLE_RATE, 1), carry: new Int16Array(0) };
      this.sources.set(identity, source);
    }
    source.buffer.push(seq, payload, now);
  }

  /** A speaker left the stage: their buffer and decoder go. */
  remove(identity: Identity): void {
    const source = this.sources.get(identity);
    if (source) this.counts.late += source.buffer.late;
    this.sources.delete(identity);
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
    for (const source of this.sources.values()) {
      const frame = this.frameOf(source, now);
      if (!frame) continue;
      for (let i = 0; i < frame.length; i++) this.sum[i]! += frame[i]!;
    }
    this.limiter.process(this.sum, out);
    this.counts.frames++;
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
