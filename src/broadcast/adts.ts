/**
 * The broadcast's parts as an ADTS AAC stream (ISO/IEC 13818-7 §6.2, ISO/IEC 14496-3 §1.A.2): the
 * format Icecast, radio apps, smart speakers, VLC, ffmpeg and a plain <audio src> play as a
 * progressive HTTP stream. No re-encoding: each AAC frame of a part (an fMP4 `moof` + `mdat`) gets a
 * 7-byte ADTS header built from the init segment's AudioSpecificConfig. Hand-written because it is
 * a header of fixed bit fields over the same four boxes fmp4.ts reads; checked against ffmpeg, which
 * must decode the ADTS stream to the same PCM as the fMP4 parts (test/adts.test.ts).
 */
import { boxChildren, findBox } from './fmp4.js';

/** What an ADTS header repeats from the init segment's AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1). */
export interface AdtsConfig {
  /** Audio object type: 2 for AAC-LC. ADTS carries types 1–4 (profile = type − 1). */
  objectType: number;
  /** Sampling frequency index (3: 48 kHz). */
  frequencyIndex: number;
  /** Channel configuration (1: mono). */
  channels: number;
}

/** Reads a descriptor's length (ISO/IEC 14496-1 §8.3.3: up to four bytes, 7 bits each). */
function descriptorLength(buf: Buffer, at: number): { length: number; header: number } {
  let length = 0;
  let i = 0;
  for (; i < 4; i++) {
    const b = buf[at + i]!;
    length = (length << 7) | (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { length, header: i + 1 };
}

/** The AudioSpecificConfig of an init segment's first track (moov/trak/mdia/minf/stbl/stsd/mp4a/esds). */
export function adtsConfig(init: Buffer): AdtsConfig {
  let box = findBox(init, 0, init.length, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  // stsd: version/flags, entry count, then the sample entries; mp4a: 28 bytes of AudioSampleEntry fields.
  const mp4a = [...boxChildren(init, box.offset + 16, box.offset + box.size)].find((b) => b.type === 'mp4a');
  if (!mp4a) throw new Error('the init segment has no mp4a sample entry');
  box = findBox(init, mp4a.offset + 36, mp4a.offset + mp4a.size, ['esds']);
  // esds: version/flags, then ES_Descriptor (3) ⊃ DecoderConfigDescriptor (4) ⊃ DecoderSpecificInfo (5).
  let at = box.offset + 12;
  const end = box.offset + box.size;
  while (at < end) {
    const tag = init[at]!;
    const { length, header } = descriptorLength(init, at + 1);
    const body = at + 1 + header;
    if (tag === 0x03) {
      // ES_ID, flags, then what the flags say: a depended-on ES_ID, a URL (length first), an OCR ES_ID.
      const flags = init[body + 2]!;
      at = body + 3 + (flags & 0x80 ? 2 : 0);
      if (flags & 0x40) at += 1 + init[at]!;
      if (flags & 0x20) at += 2;
    } else if (tag === 0x04) {
      at = body + 13;
    } else if (tag === 0x05) {
      if (length < 2) break;
      const asc = init.readUInt16BE(body);
      const config = { objectType: asc >> 11, frequencyIndex: (asc >> 7) & 0x0f, channels: (asc >> 3) & 0x0f };
      if (config.objectType < 1 || config.objectType > 4 || config.frequencyIndex > 12 || config.channels < 1 || config.channels > 7) {
        throw new Error(`AudioSpecificConfig ${JSON.stringify(config)} cannot be carried in ADTS`);
      }
      return config;
    } else {
      at = body + length;
    }
  }
  throw new Error('the init segment has no AudioSpecificConfig');
}

/** The sizes of a fragment's samples and where its first sample starts, from its `moof` (tfhd, trun). */
function samplesOf(moof: Buffer): { sizes: number[]; dataOffset: number } {
  const traf = findBox(moof, 8, moof.length, ['traf']);
  const trafEnd = traf.offset + traf.size;
  const tfhd = findBox(moof, traf.offset + 8, trafEnd, ['tfhd']);
  const tfhdFlags = moof.readUIntBE(tfhd.offset + 9, 3);
  if (tfhdFlags & 0x01) throw new Error('fragments with an explicit base data offset are not supported');
  // tfhd: track id, then optional fields in flag order (sample description 4, duration 4, size 4).
  const sizeField = tfhd.offset + 16 + (tfhdFlags & 0x02 ? 4 : 0) + (tfhdFlags & 0x08 ? 4 : 0);
  const defaultSize = tfhdFlags & 0x10 ? moof.readUInt32BE(sizeField) : 0;
  const sizes: number[] = [];
  let dataOffset = -1;
  for (const box of boxChildren(moof, traf.offset + 8, trafEnd)) {
    if (box.type !== 'trun') continue;
    const flags = moof.readUIntBE(box.offset + 9, 3);
    const count = moof.readUInt32BE(box.offset + 12);
    let cursor = box.offset + 16;
    if (flags & 0x01) {
      if (dataOffset < 0) dataOffset = moof.readInt32BE(cursor);
      cursor += 4;
    }
    if (flags & 0x04) cursor += 4;
    // Per sample, in order: duration (0x100), size (0x200), flags (0x400), composition offset (0x800).
    const before = flags & 0x100 ? 4 : 0;
    const perSample = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
    for (let i = 0; i < count; i++, cursor += perSample) {
      sizes.push(flags & 0x200 ? moof.readUInt32BE(cursor + before) : defaultSize);
    }
  }
  // Default base is the moof (ISO/IEC 14496-12 §8.8.7.1, default-base-is-moof, as CMAF requires);
  // without a data offset the samples start right after the mdat header.
  return { sizes, dataOffset: dataOffset >= 0 ? dataOffset : moof.length + 8 };
}

/** One 7-byte ADTS header (no CRC) for a raw AAC frame of `size` bytes. */
export function adtsHeader(config: AdtsConfig, size: number): Buffer {
  const length = size + 7;
  if (length > 0x1fff) throw new Error(`an AAC frame of ${size} bytes does not fit an ADTS header`);
  const h = Buffer.alloc(7);
  h[0] = 0xff;
  h[1] = 0xf1; // sync, MPEG-4, layer 0, no CRC
  h[2] = ((config.objectType - 1) << 6) | (config.frequencyIndex << 2) | (config.channels >> 2);
  h[3] = ((config.channels & 0x03) << 6) | (length >> 11);
  h[4] = (length >> 3) & 0xff;
  h[5] = ((length & 0x07) << 5) | 0x1f; // buffer fullness 0x7ff: variable bitrate
  h[6] = 0xfc; // the rest of the fullness, one raw data block
  return h;
}

/** A part (its `moof` and `mdat`) as ADTS frames. */
export function fragmentToAdts(config: AdtsConfig, moof: Buffer, mdat: Buffer): Buffer {
  const { sizes, dataOffset } = samplesOf(moof);
  const out: Buffer[] = [];
  // The offset counts from the moof's first byte; the mdat follows it.
  let at = dataOffset - moof.length;
  for (const size of sizes) {
    if (at < 8 || at + size > mdat.length) throw new Error('a sample lies outside its mdat');
    out.push(adtsHeader(config, size), mdat.subarray(at, at + size));
    at += size;
  }
  return Buffer.concat(out);
}
