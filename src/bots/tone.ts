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
