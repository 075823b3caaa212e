/** Levels of mono s16le PCM: RMS (full scale = 1) and the RFC 6464 level in −dBov. */

/** Root mean square of mono s16le PCM, full scale = 1. */
export function rms(pcm: Buffer): number {
  const n = pcm.length >> 1;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = pcm.readInt16LE(i * 2) / 32768;
    sum += v * v;
  }
  return Math.sqrt(sum / n);
}

/** A frame's level in −dBov for the RFC 6464 header: 0 is full scale, 127 digital silence. */
export function dBov(pcm: Buffer): number {
  const level = rms(pcm);
  return level <= 0 ? 127 : Math.max(0, Math.min(127, Math.round(-20 * Math.log10(level))));
}
