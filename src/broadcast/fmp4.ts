/**
 * The few fragmented-MP4 (ISO BMFF, CMAF) operations the packager needs, on the encoder's byte
 * stream: split it into top-level boxes as it arrives, read a fragment's decode time and duration,
 * and rewrite a fragment's decode time and sequence number in place so every encoder run continues
 * one timeline. Hand-written because it is ~100 lines over four fixed box layouts (ISO/IEC 14496-12
 * §8.8) and the MP4 libraries on npm are demuxers for players, not in-place rewriters.
 */

export interface Box {
  type: string;
  /** The whole box, header included. */
  data: Buffer;
}

/** Collects bytes and hands out complete top-level boxes in order. */
export class BoxSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Box[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const boxes: Box[] = [];
    let offset = 0;
    while (this.pending.length - offset >= 8) {
      const size = boxSize(this.pending, offset);
      if (size < 8) throw new Error(`malformed MP4 box of size ${size}`);
      if (this.pending.length - offset < size) break;
      const data = this.pending.subarray(offset, offset + size);
      boxes.push({ type: data.toString('latin1', 4, 8), data: Buffer.from(data) });
      offset += size;
    }
    this.pending = this.pending.subarray(offset);
    return boxes;
  }
}

function boxSize(buf: Buffer, offset: number): number {
  const size = buf.readUInt32BE(offset);
  if (size !== 1) return size === 0 ? buf.length - offset : size;
  return Number(buf.readBigUInt64BE(offset + 8));
}

/** The child boxes of a container box (moof, traf…), as offsets into `buf`. */
export function* boxChildren(buf: Buffer, start: number, end: number): Generator<{ type: string; offset: number; size: number }> {
  let offset = start;
  while (offset + 8 <= end) {
    const size = boxSize(buf, offset);
    if (size < 8 || offset + size > end) throw new Error('malformed MP4 container');
    yield { type: buf.toString('latin1', offset + 4, offset + 8), offset, size };
    offset += size;
  }
}

function child(buf: Buffer, start: number, end: number, type: string): { offset: number; size: number } {
  for (const box of boxChildren(buf, start, end)) if (box.type === type) return box;
  throw new Error(`MP4 box ${type} not found`);
}

/** The box at `path` below the boxes between `start` and `end`, each step a child of the one before. */
export function findBox(buf: Buffer, start: number, end: number, path: string[]): { offset: number; size: number } {
  let box = { offset: start - 8, size: end - start + 8 };
  for (const type of path) box = child(buf, box.offset + 8, box.offset + box.size, type);
  return box;
}

export interface FragmentTiming {
  /** tfdt baseMediaDecodeTime, in the track's timescale. */
  decodeTime: number;
  /** Sum of the samples' durations, in the track's timescale. */
  duration: number;
  samples: number;
}

/** The first track's timing in a `moof` box. */
export function fragmentTiming(moof: Buffer): FragmentTiming {
  const traf = child(moof, 8, moof.length, 'traf');
  const trafEnd = traf.offset + traf.size;
  const tfhd = child(moof, traf.offset + 8, trafEnd, 'tfhd');
  const tfhdFlags = moof.readUIntBE(tfhd.offset + 9, 3);
  // tfhd: track id, then optional fields in flag order (base offset 8 bytes, sample description 4).
  let field = tfhd.offset + 16;
  if (tfhdFlags & 0x01) field += 8;
  if (tfhdFlags & 0x02) field += 4;
  const defaultDuration = tfhdFlags & 0x08 ? moof.readUInt32BE(field) : 0;
  const tfdt = child(moof, traf.offset + 8, trafEnd, 'tfdt');
  const decodeTime = moof[tfdt.offset + 8] === 1 ? Number(moof.readBigUInt64BE(tfdt.offset + 12)) : moof.readUInt32BE(tfdt.offset + 12);
  let duration = 0;
  let samples = 0;
  for (const box of boxChildren(moof, traf.offset + 8, trafEnd)) {
    if (box.type !== 'trun') continue;
    const flags = moof.readUIntBE(box.offset + 9, 3);
    const count = moof.readUInt32BE(box.offset + 12);
    samples += count;
    if (!(flags & 0x100)) {
      duration += count * defaultDuration;
      continue;
    }
    let cursor = box.offset + 16 + (flags & 0x01 ? 4 : 0) + (flags & 0x04 ? 4 : 0);
    const perSample = 4 * [0x100, 0x200, 0x400, 0x800].filter((bit) => flags & bit).length;
    for (let i = 0; i < count; i++, cursor += perSample) duration += moof.readUInt32BE(cursor);
  }
  return { decodeTime, duration, samples };
}

/** Rewrites a `moof`'s sequence number and first track's decode time, in place. */
export function rewriteFragment(moof: Buffer, sequence: number, decodeTime: number): void {
  const mfhd = child(moof, 8, moof.length, 'mfhd');
  moof.writeUInt32BE(sequence >>> 0, mfhd.offset + 12);
  const traf = child(moof, 8, moof.length, 'traf');
  const tfdt = child(moof, traf.offset + 8, traf.offset + traf.size, 'tfdt');
  if (moof[tfdt.offset + 8] === 1) moof.writeBigUInt64BE(BigInt(decodeTime), tfdt.offset + 12);
  else if (decodeTime <= 0xffffffff) moof.writeUInt32BE(decodeTime, tfdt.offset + 12);
  else throw new Error('decode time does not fit a version-0 tfdt');
}

/** The timescale of the first track of an init segment (`moov/trak/mdia/mdhd`). */
export function initTimescale(init: Buffer): number {
  const moov = [...boxChildren(init, 0, init.length)].find((b) => b.type === 'moov');
  if (!moov) throw new Error('init segment has no moov');
  const trak = child(init, moov.offset + 8, moov.offset + moov.size, 'trak');
  const mdia = child(init, trak.offset + 8, trak.offset + trak.size, 'mdia');
  const mdhd = child(init, mdia.offset + 8, mdia.offset + mdia.size, 'mdhd');
  return init[mdhd.offset + 8] === 1 ? init.readUInt32BE(mdhd.offset + 28) : init.readUInt32BE(mdhd.offset + 20);
}

/** Top-level boxes a media segment may hold (ISO/IEC 14496-12 §8.16, CMAF). */
const SEGMENT_BOXES = new Set(['styp', 'sidx', 'prft', 'emsg', 'moof', 'mdat']);

/**
 * Whether `buf` is a whole media segment: known top-level boxes that tile it exactly, with a `moof`
 * and an `mdat`. What a crash or a power loss leaves — a file cut short, or the right length of
 * zeros — is not.
 */
export function isWholeSegment(buf: Buffer): boolean {
  let offset = 0;
  let moof = false;
  let mdat = false;
  while (offset < buf.length) {
    if (buf.length - offset < 8) return false;
    const size = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    if (size < 8 || offset + size > buf.length || !SEGMENT_BOXES.has(type)) return false;
    moof ||= type === 'moof';
    mdat ||= type === 'mdat';
    offset += size;
  }
  return moof && mdat;
}

/** A movie's duration in seconds, from its `mvhd` box (`moov`'s contents, without the moov header). */
export function movieDuration(moov: Buffer): number {
  const mvhd = findBox(moov, 0, moov.length, ['mvhd']);
  const at = mvhd.offset + 8;
  const version = moov.readUInt8(at);
  if (version === 1) return Number(moov.readBigUInt64BE(at + 24)) / moov.readUInt32BE(at + 20);
  return moov.readUInt32BE(at + 16) / moov.readUInt32BE(at + 12);
}
