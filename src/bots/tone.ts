/**
 * Test signals: a sine tone as 20 ms PCM frames, and the Goertzel algorithm to measure how much of a
 * given frequency a stretch of PCM holds (one DFT bin, no FFT needed).
 */

export const SAMPLE_RATE = 48_000;
export const FRAME_SAMPLES = 960; // 20 ms at 48 kHz

/** Frame `index` of a sine at `hz`, mono s16le, amplitude `level` (0–1). */
export function toneFrame(hz: number, index: number, level = 0.3): Buffer {
  const frame = Buffer.alloc(FRAME_SAMPLES * 2);
  const start = index * FRAME_SAMPLES;
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    frame.writeInt16LE(Math.round(level * 32767 * Math.sin((2 * Math.PI * hz * (start + i)) / SAMPLE_RATE)), i * 2);
  }
  return frame;
}

/** The demo speaker's tune: an A-major arpeggio, one note every 400 ms, then a rest; loops every 3.2 s. */
const CHIME_NOTES = [440, 554.37, 659.25, 880, 659.25, 554.37, 0, 0];
const NOTE_FRAMES = 20;

/** Frame `index` of the demo chime (each note faded in and out so it never clicks). */
export function chimeFrame(index: number, level = 0.2): Buffer {
  const frame = Buffer.alloc(FRAME_SAMPLES * 2);
  const note = Math.floor(index / NOTE_FRAMES) % CHIME_NOTES.length;
  const hz = CHIME_NOTES[note]!;
  if (hz === 0) return frame;
  const noteSamples = NOTE_FRAMES * FRAME_SAMPLES;
  const offset = (index % NOTE_FRAMES) * FRAME_SAMPLES;
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    const n = offset + i;
    const envelope = Math.sin((Math.PI * n) / noteSamples);
    frame.writeInt16LE(Math.round(level * 32767 * envelope * Math.sin((2 * Math.PI * hz * n) / SAMPLE_RATE)), i * 2);
  }
  return frame;
}

/** Power of `hz` in mono s16le PCM, normalised so a full-scale sine at `hz` gives about 0.25. */
export function goertzel(pcm: Buffer, hz: number): number {
  const n = Math.floor(pcm.length / 2);
  if (n === 0) return 0;
  const k = Math.round((n * hz) / SAMPLE_RATE);
  const w = (2 * Math.PI * k) / n;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = pcm.readInt16LE(i * 2) / 32768 + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
}

/** Frequency of the timing clicks a speaker bot sends (far from the test tones, inside AAC's band). */
export const CLICK_HZ = 3000;
const CLICK_SAMPLES = 720; // 15 ms

/**
 * Adds a click (a 15 ms Hann-windowed 3 kHz burst) to a 20 ms frame if a whole wall-clock second
 * falls inside it. `frameEnd` is the wall time (epoch ms) at which the frame's last sample was
 * captured; the click starts exactly on the second, so a listener that finds it knows when it was said.
 */
export function withClick(frame: Buffer, frameEnd: number): Buffer {
  const frameStart = frameEnd - (FRAME_SAMPLES * 1000) / SAMPLE_RATE;
  const second = Math.ceil(frameStart / 1000) * 1000;
  const tail = Math.floor(frameStart / 1000) * 1000; // a click begun in the previous frame
  const out = Buffer.from(frame);
  for (const at of new Set([second, tail])) {
    const offset = Math.round(((at - frameStart) * SAMPLE_RATE) / 1000);
    for (let i = Math.max(0, offset); i < FRAME_SAMPLES && i - offset < CLICK_SAMPLES; i++) {
      const n = i - offset;
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / CLICK_SAMPLES);
      const click = 0.5 * 32767 * hann * Math.sin((2 * Math.PI * CLICK_HZ * n) / SAMPLE_RATE);
      out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(out.readInt16LE(i * 2) + click))), i * 2);
    }
  }
  return out;
}

/**
 * Where clicks start in mono s16le PCM (sample offsets): 5 ms windows whose 3 kHz power rises above
 * the threshold after at least 0.5 s below it.
 */
export function findClicks(pcm: Buffer, threshold = 0.003): number[] {
  const window = 240;
  const found: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (let start = 0; start + window * 2 <= pcm.length; start += window * 2) {
    const power = goertzel(pcm.subarray(start, start + window * 2), CLICK_HZ);
    const sample = start / 2;
    if (power > threshold) {
      if (sample - last > SAMPLE_RATE / 2) found.push(sample);
      last = sample;
    }
  }
  return found;
}
