/**
 * How much audio an Opus packet holds, from its table-of-contents byte alone (RFC 6716 §3.1), so a
 * packet can be accounted for without decoding it. libopus has opus_packet_get_nb_samples, but
 * @discordjs/opus does not expose it; the rule is a table lookup and a frame count.
 */

/** Frame length in 48 kHz samples for each of the 32 configurations (SILK, hybrid, CELT). */
const FRAME_SAMPLES_BY_CONFIG = [
  // SILK-only: NB, MB, WB × 10, 20, 40, 60 ms
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
  // Hybrid: SWB, FB × 10, 20 ms
  480, 960, 480, 960,
  // CELT-only: NB, WB, SWB, FB × 2.5, 5, 10, 20 ms
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/** Samples at 48 kHz in one Opus packet, or 0 when the packet is empty or malformed. */
export function opusSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0]!;
  const frame = FRAME_SAMPLES_BY_CONFIG[toc >> 3]!;
  const code = toc & 3;
  if (code === 0) return frame;
  if (code !== 3) return 2 * frame;
  if (packet.length < 2) return 0;
  const frames = packet[1]! & 0x3f;
  // A packet never holds more than 120 ms (§3.2.5).
  return frames * frame > 5760 ? 0 : frames * frame;
}
