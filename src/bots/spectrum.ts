/**
 * The tones in a stretch of PCM: Goertzel power on a 10 Hz grid (100 ms windows, averaged over up
 * to 20 windows spread across the audio), peaks refined by parabolic interpolation. Good enough to
 * say "440 Hz at −16 dBFS and 660 Hz at −17 dBFS" about a test broadcast; not a general analyser.
 */
import { SAMPLE_RATE } from './tone.js';

export interface Tone {
  hz: number;
  /** Level of the tone, dB relative to a full-scale sine. */
  dbfs: number;
}

const WINDOW = 4800; // 100 ms: 10 Hz bins
const STEP_HZ = 10;
const MIN_HZ = 50;
const MAX_HZ = 5000;
/** Quieter peaks are noise, and so are peaks far below the loudest (Hann sidelobes sit at −31 dB). */
const FLOOR_DBFS = -50;
const RANGE_DB = 25;
const HANN = Float64Array.from({ length: WINDOW }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WINDOW));

/** Power at `hz` of a Hann-windowed chunk, scaled so a full-scale sine gives 0.25. */
function windowedPower(samples: Float64Array, hz: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / SAMPLE_RATE);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  // The Hann window halves the amplitude (coherent gain 0.5).
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.length * samples.length * 0.25);
}

export function tonesIn(pcm: Buffer, maxTones = 8): Tone[] {
  const windows = Math.floor(pcm.length / 2 / WINDOW);
  if (windows === 0) return [];
  const picks = Math.min(20, windows);
  const bins = Math.floor((MAX_HZ - MIN_HZ) / STEP_HZ) + 1;
  const power = new Float64Array(bins);
  for (let w = 0; w < picks; w++) {
    const index = Math.floor((w * windows) / picks);
    const samples = new Float64Array(WINDOW);
    for (let i = 0; i < WINDOW; i++) samples[i] = (pcm.readInt16LE((index * WINDOW + i) * 2) / 32768) * HANN[i]!;
    for (let b = 0; b < bins; b++) power[b]! += windowedPower(samples, MIN_HZ + b * STEP_HZ) / picks;
  }
  const db = (p: number) => 10 * Math.log10(Math.max(p, 1e-12) / 0.25);
  const tones: Tone[] = [];
  for (let b = 1; b < bins - 1; b++) {
    const [l, c, r] = [power[b - 1]!, power[b]!, power[b + 1]!];
    if (c <= l || c < r || db(c) < FLOOR_DBFS) continue;
    // Parabolic interpolation on the dB values places the peak between grid points.
    const [dl, dc, dr] = [db(l), db(c), db(r)];
    const denom = dl - 2 * dc + dr;
    const shift = denom === 0 ? 0 : (0.5 * (dl - dr)) / denom;
    tones.push({ hz: Math.round(MIN_HZ + (b + shift) * STEP_HZ), dbfs: Math.round(dc * 10) / 10 });
  }
  const loudest = Math.max(...tones.map((t) => t.dbfs));
  return tones
    .filter((t) => t.dbfs >= loudest - RANGE_DB)
    .sort((a, b) => b.dbfs - a.dbfs)
    .slice(0, maxTones);
}
