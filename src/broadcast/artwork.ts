/**
 * The artwork a host's feed shows when the host set none: Apple Podcasts refuses a show without one
 * (a square JPEG or PNG, 1400 to 3000 pixels). A 1400 × 1400 PNG, drawn once per host: a dark field
 * with rings spreading from a dot (a voice on air), in a hue taken from the host's identity so two
 * hosts' shows differ. Encoded by pngjs.
 */
import crypto from 'node:crypto';
import { PNG } from 'pngjs';

export const ARTWORK_SIZE = 1400;
const cache = new Map<string, Buffer>();
const MAX_CACHED = 256;

/** HSL (h in degrees, s and l in 0..1) to RGB 0..255. */
function rgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))));
  return [f(0), f(8), f(4)];
}

export function hostArtwork(host: string): Buffer {
  const cached = cache.get(host);
  if (cached) return cached;
  const hue = crypto.createHash('sha256').update(host).digest().readUInt16BE(0) % 360;
  const background = rgb(hue, 0.45, 0.14);
  const ring = rgb(hue, 0.75, 0.62);
  const png = new PNG({ width: ARTWORK_SIZE, height: ARTWORK_SIZE, colorType: 2 });
  const centre = ARTWORK_SIZE / 2;
  for (let y = 0; y < ARTWORK_SIZE; y++) {
    for (let x = 0; x < ARTWORK_SIZE; x++) {
      const r = Math.hypot(x - centre, y - centre);
      // A dot, then rings every 110 px, fading outwards.
      const onRing = r < 70 || (r < 620 && r % 110 < 18);
      const fade = r < 70 ? 1 : Math.max(0, 1 - r / 700);
      const i = (y * ARTWORK_SIZE + x) * 4;
      for (let c = 0; c < 3; c++) png.data[i + c] = Math.round(background[c]! + (onRing ? (ring[c]! - background[c]!) * fade : 0));
      png.data[i + 3] = 255;
    }
  }
  const buffer = PNG.sync.write(png, { colorType: 2 });
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(host, buffer);
  return buffer;
}
