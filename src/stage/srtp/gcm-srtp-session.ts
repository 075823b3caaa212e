/**
 * SRTP and SRTCP with AEAD_AES_128_GCM (RFC 7714), the profile werift prefers: one direction's keys
 * and per-stream state each. They replace werift's SrtpSession and SrtcpSession on a DTLS transport
 * (see werift-fast-paths.ts), which build a native GCM cipher per packet; these keep one AesGcm per
 * key, and add what werift leaves out: a replay window (RFC 3711 §3.3.2) and, for RTP, a packet
 * index estimated as RFC 3711 §3.3.1 says. RTCP matters too: every slot of every session sends a
 * sender report and every receiver a receiver report, a few hundred packets a second on a full stage.
 */
import { SrtpAuthenticationError } from 'werift';
import { AesGcm, GCM_IV_LENGTH, GCM_TAG_LENGTH } from './aes-gcm.js';

/** Packets older than this many behind the newest one seen are refused as possible replays. */
export const REPLAY_WINDOW = 128;

/** Where an RTP packet's payload starts (the header is the AAD), or -1 if the packet is shorter than its header says. */
export function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < 12) return -1;
  let length = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) return -1;
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  return length <= packet.length ? length : -1;
}

/** The GCM IV of one packet (RFC 7714 §8.1): (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) xor the session salt. */
class IvMaker {
  private readonly iv = Buffer.alloc(GCM_IV_LENGTH);
  constructor(private readonly salt: Buffer) {}

  of(ssrc: number, roc: number, seq: number): Buffer {
    const iv = this.iv;
    iv.writeUInt16BE(0, 0);
    iv.writeUInt32BE(ssrc, 2);
    iv.writeUInt32BE(roc, 6);
    iv.writeUInt16BE(seq, 10);
    for (let i = 0; i < GCM_IV_LENGTH; i++) iv[i]! ^= this.salt[i]!;
    return iv;
  }
}

/**
 * RFC 3711 §3.3.2 replay protection for one stream: the highest packet index authenticated and the
 * last REPLAY_WINDOW indexes seen (by index mod REPLAY_WINDOW).
 */
class ReplayWindow {
  private readonly seen = new Float64Array(REPLAY_WINDOW).fill(-1);

  constructor(public highest: number) {
    this.seen[highest % REPLAY_WINDOW] = highest;
  }

  /** Whether `index` may still be accepted: not seen, and not older than the window. */
  fresh(index: number): boolean {
    return index > this.highest - REPLAY_WINDOW && this.seen[index % REPLAY_WINDOW] !== index;
  }

  /** `index` was authenticated. */
  accept(index: number): void {
    if (index > this.highest) this.highest = index;
    this.seen[index % REPLAY_WINDOW] = index;
  }
}

/** One outgoing stream: its rollover counter and last sequence number. */
interface OutboundStream {
  roc: number;
  lastSeq: number;
}

/** Unprotects incoming SRTP (the remote side's keys). */
export class GcmSrtpReceiver {
  private readonly gcm: AesGcm;
  private readonly iv: IvMaker;
  /** Per SSRC; the highest index is ROC·2^16 + SEQ of the newest packet authenticated. */
  private readonly streams = new Map<number, ReplayWindow>();

  constructor(sessionKey: Buffer, sessionSalt: Buffer) {
    this.gcm = new AesGcm(sessionKey);
    this.iv = new IvMaker(sessionSalt);
  }

  /** The RTP packet (header and payload) inside `packet`; throws SrtpAuthenticationError for a forged, broken or replayed one. */
  unprotect(packet: Buffer): Buffer {
    const headerLength = rtpHeaderLength(packet);
    if (headerLength < 0 || packet.length < headerLength + GCM_TAG_LENGTH) {
      throw new SrtpAuthenticationError('SRTP packet shorter than its header and tag');
    }
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    const stream = this.streams.get(ssrc);
    const roc = stream ? estimateRoc(stream.highest, seq) : 0;
    const index = roc * 0x10000 + seq;
    if (stream && (roc < 0 || !stream.fresh(index))) {
      throw new SrtpAuthenticationError('SRTP packet replayed or too old');
    }
    const tagAt = packet.length - GCM_TAG_LENGTH;
    const out = Buffer.allocUnsafe(tagAt);
    packet.copy(out, 0, 0, headerLength);
    const authentic = this.gcm.open(
      this.iv.of(ssrc, roc, seq),
      packet.subarray(0, headerLength),
      packet.subarray(headerLength, tagAt),
      packet.subarray(tagAt),
      out,
      headerLength,
    );
    if (!authentic) throw new SrtpAuthenticationError('Failed to authenticate SRTP packet');
    if (stream) stream.accept(index);
    else this.streams.set(ssrc, new ReplayWindow(index));
    return out;
  }
}

/** RFC 3711 §3.3.1: the ROC that puts `seq` closest to the highest index authenticated (ROC·2^16 + SEQ). */
function estimateRoc(highest: number, seq: number): number {
  const roc = Math.floor(highest / 0x10000);
  const last = highest % 0x10000;
  if (last < 0x8000) return seq - last > 0x8000 ? roc - 1 : roc;
  return last - 0x8000 > seq ? roc + 1 : roc;
}

/** Protects outgoing RTP (the local side's keys). */
export class GcmSrtpSender {
  private readonly gcm: AesGcm;
  private readonly iv: IvMaker;
  private readonly streams = new Map<number, OutboundStream>();

  constructor(sessionKey: Buffer, sessionSalt: Buffer) {
    this.gcm = new AesGcm(sessionKey);
    this.iv = new IvMaker(sessionSalt);
  }

  /**
   * The SRTP packet for an RTP packet given as its header bytes and payload: the header in the clear
   * (it is the AAD), the payload encrypted, the tag after it.
   */
  protect(header: Buffer, payload: Buffer): Buffer {
    const ssrc = header.readUInt32BE(8);
    const seq = header.readUInt16BE(2);
    const out = Buffer.allocUnsafe(header.length + payload.length + GCM_TAG_LENGTH);
    header.copy(out, 0);
    this.gcm.seal(this.iv.of(ssrc, this.rocFor(ssrc, seq), seq), header, payload, out, header.length);
    return out;
  }

  /** The sequence number wrapping forward adds one to the ROC; a late packet from before a wrap keeps the old one. */
  private rocFor(ssrc: number, seq: number): number {
    const stream = this.streams.get(ssrc);
    if (!stream) {
      this.streams.set(ssrc, { roc: 0, lastSeq: seq });
      return 0;
    }
    if (seq < stream.lastSeq && stream.lastSeq - seq > 0x8000) stream.roc++;
    else if (seq > stream.lastSeq && seq - stream.lastSeq > 0x8000) return Math.max(0, stream.roc - 1);
    stream.lastSeq = seq;
    return stream.roc;
  }
}

/** SRTCP's index field: the E (encrypted) flag and a 31-bit packet index (RFC 3711 §3.4). */
const SRTCP_E_FLAG = 0x8000_0000;
const SRTCP_INDEX_MASK = 0x7fff_ffff;
const SRTCP_TRAILER = 4;

/** The GCM IV of an SRTCP packet (RFC 7714 §9.1): (0x0000 ‖ SSRC ‖ 0x0000 ‖ index) xor the salt. */
function srtcpIv(iv: IvMaker, ssrc: number, index: number): Buffer {
  // Same layout as RTP's with the ROC's place taken by 0x0000 ‖ the index's high half.
  return iv.of(ssrc, index >>> 16, index & 0xffff);
}

/** Protects outgoing RTCP (RFC 7714 §9, always encrypted): header and SSRC in the clear, the rest sealed. */
export class GcmSrtcpSender {
  private readonly gcm: AesGcm;
  private readonly iv: IvMaker;
  private readonly indexes = new Map<number, number>();
  private readonly aad = Buffer.alloc(12);

  constructor(sessionKey: Buffer, sessionSalt: Buffer) {
    this.gcm = new AesGcm(sessionKey);
    this.iv = new IvMaker(sessionSalt);
  }

  protect(rtcp: Buffer): Buffer {
    if (rtcp.length < 8) throw new RangeError(`an RTCP packet has at least 8 bytes, not ${rtcp.length}`);
    const ssrc = rtcp.readUInt32BE(4);
    const index = ((this.indexes.get(ssrc) ?? 0) + 1) & SRTCP_INDEX_MASK;
    this.indexes.set(ssrc, index);
    const trailer = (SRTCP_E_FLAG | index) >>> 0;
    rtcp.copy(this.aad, 0, 0, 8);
    this.aad.writeUInt32BE(trailer, 8);
    const body = rtcp.subarray(8);
    const out = Buffer.allocUnsafe(rtcp.length + GCM_TAG_LENGTH + SRTCP_TRAILER);
    rtcp.copy(out, 0, 0, 8);
    this.gcm.seal(srtcpIv(this.iv, ssrc, index), this.aad, body, out, 8);
    out.writeUInt32BE(trailer, 8 + body.length + GCM_TAG_LENGTH);
    return out;
  }
}

/** Unprotects incoming SRTCP, encrypted or only authenticated, refusing replays. */
export class GcmSrtcpReceiver {
  private readonly gcm: AesGcm;
  private readonly iv: IvMaker;
  private readonly streams = new Map<number, ReplayWindow>();

  constructor(sessionKey: Buffer, sessionSalt: Buffer) {
    this.gcm = new AesGcm(sessionKey);
    this.iv = new IvMaker(sessionSalt);
  }

  /** The RTCP compound packet inside `packet`; throws SrtpAuthenticationError for a forged, broken or replayed one. */
  unprotect(packet: Buffer): Buffer {
    if (packet.length < 8 + GCM_TAG_LENGTH + SRTCP_TRAILER) throw new SrtpAuthenticationError('SRTCP packet too short');
    const trailerAt = packet.length - SRTCP_TRAILER;
    const tagAt = trailerAt - GCM_TAG_LENGTH;
    const trailer = packet.readUInt32BE(trailerAt);
    const encrypted = (trailer & SRTCP_E_FLAG) !== 0;
    const index = trailer & SRTCP_INDEX_MASK;
    const ssrc = packet.readUInt32BE(4);
    const stream = this.streams.get(ssrc);
    if (stream && !stream.fresh(index)) {
      throw new SrtpAuthenticationError('SRTCP packet replayed or too old');
    }
    const trailerBytes = packet.subarray(trailerAt);
    const aad = encrypted ? Buffer.concat([packet.subarray(0, 8), trailerBytes]) : Buffer.concat([packet.subarray(0, tagAt), trailerBytes]);
    const out = Buffer.allocUnsafe(tagAt);
    packet.copy(out, 0, 0, encrypted ? 8 : tagAt);
    const ciphertext = encrypted ? packet.subarray(8, tagAt) : packet.subarray(tagAt, tagAt);
    if (!this.gcm.open(srtcpIv(this.iv, ssrc, index), aad, ciphertext, packet.subarray(tagAt, trailerAt), out, 8)) {
      throw new SrtpAuthenticationError('Failed to authenticate SRTCP packet');
    }
    if (stream) stream.accept(index);
    else this.streams.set(ssrc, new ReplayWindow(index));
    return out;
  }
}
