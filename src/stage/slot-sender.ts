/**
 * Sends forwarded Opus packets into one slot (a send-only audio of a speaker's session) — the
 * stage's hottest path: with 13 speakers all talking it runs 1,800 times a second.
 *
 * werift's own path (track.writeRtp → RTCRtpSender.sendRtp → RTCDtlsTransport.sendRtp → ICE) works
 * through event dispatch, header objects, extension rebuilding, a string-formatted NTP time and
 * three nested async sends per packet; on the stage's CPU profile it cost as much as the encryption.
 * This writes the RTP header bytes itself (the slot's SSRC and payload type, the sender's sequence
 * and timestamp offsets, the MID header extension — exactly what werift's sender puts on such a
 * packet), seals it with the transport's GcmSrtpSession and hands it to the ICE connection. It keeps
 * the sender's counters and last timestamps current, so the sender reports and werift's
 * replaceRTP stay right. werift 0.24's sender fields are read by name (SenderInternals): the
 * version is pinned, and every stage test runs through here.
 *
 * A transport whose SRTP profile is not AES-GCM (browsers may pick AES-CM with HMAC-SHA1) keeps
 * werift's session for the encryption only. A sender not ready yet (not connected, no codec) gets
 * the packet through werift's own path, which drops or sends it as werift decides.
 *
 * werift's per-sender report loop is not started: SlotReports sends one compound report for all of
 * a session's slots, from what each SlotSender reports here.
 */
import type { MediaStreamTrack, RTCDtlsTransport, RTCRtpSender } from 'werift';
import { RtpHeader, RtpPacket } from 'werift';
import { fastPathsEnabled } from './werift-adapter.js';
import { GcmSrtpSession, parseRtpHeader, sendOnIce } from './werift-fast-paths.js';

/** What a forwarded packet keeps of its source. */
export interface ForwardedRtp {
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  payload: Buffer;
}

/** The RTCRtpSender fields (private in werift's types) this path reads and keeps current. */
interface SenderInternals {
  readonly ssrc: number;
  readonly dtlsTransport: RTCDtlsTransport;
  codec?: { payloadType: number; clockRate: number };
  cname?: string;
  mid?: string;
  headerExtensions: Array<{ uri: string; id: number }>;
  seqOffset: number;
  timestampOffset: number;
  sequenceNumber?: number;
  timestamp?: number;
  ntpTimestamp: bigint;
  rtpTimestamp: number;
  octetCount: number;
  packetCount: number;
  /** The compact NTP time of the last sender report and when it went out (s): werift's RTT from receiver reports. */
  lastSRtimestamp?: number;
  lastSentSRTimestamp?: number;
}

/** One slot's sender report, due now. */
export interface SenderReport {
  transport: RTCDtlsTransport;
  ssrc: number;
  ntpTimestamp: bigint;
  /** The RTP time of the same instant (the last packet's, advanced by the time since at the codec's clock). */
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  /** The session's CNAME, when it has one an SDES item can carry (1 to 255 bytes). */
  cname?: Buffer;
}

const SDES_MID_URI = 'urn:ietf:params:rtp-hdrext:sdes:mid';
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** The 64-bit NTP time of `ms` (Unix milliseconds): seconds above, the fraction of a second below. */
export function ntpTime(ms: number): bigint {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - seconds * 1000) / 1000) * 0x1_0000_0000);
  return (BigInt(seconds + NTP_UNIX_OFFSET_S) << 32n) | BigInt(fraction);
}

export class SlotSender {
  private readonly sender: SenderInternals;
  /** The header's fixed part after the sequence number and timestamp: SSRC and the MID extension. */
  private header: Buffer | undefined;
  private cname: Buffer | undefined;
  /** When the last packet was sent (Unix ms; 0: never). */
  lastSentAt = 0;

  constructor(
    sender: RTCRtpSender,
    private readonly track: MediaStreamTrack,
  ) {
    this.sender = sender as unknown as SenderInternals;
  }

  /** Whether this path may reach into werift's sender (werift-adapter.ts). */
  private readonly fast = fastPathsEnabled();

  send(rtp: ForwardedRtp, now = Date.now()): void {
    const s = this.sender;
    const transport = s.dtlsTransport;
    if (transport.state !== 'connected' || !s.codec || !this.fast) {
      // werift's own path drops it (not connected yet), or sends it once a codec is negotiated; it
      // takes every packet when the fast paths are off (werift-adapter.ts), its report loop too.
      const header = new RtpHeader({
        payloadType: s.codec?.payloadType ?? 0,
        sequenceNumber: rtp.sequenceNumber,
        timestamp: rtp.timestamp,
        marker: rtp.marker,
      });
      this.track.writeRtp(new RtpPacket(header, rtp.payload));
      return;
    }
    const header = this.headerFor(s);
    const seq = (rtp.sequenceNumber + s.seqOffset) & 0xffff;
    const timestamp = (rtp.timestamp + s.timestampOffset) >>> 0;
    header[1] = (rtp.marker ? 0x80 : 0) | s.codec.payloadType;
    header.writeUInt16BE(seq, 2);
    header.writeUInt32BE(timestamp, 4);
    const srtp = transport.srtp as unknown;
    // Another profile (AES-CM with HMAC-SHA1, which Chromium picks here) is sealed by werift's own
    // session, given the header as werift's object: only the encryption then takes werift's path.
    const packet =
      srtp instanceof GcmSrtpSession
        ? srtp.sender.protect(header, rtp.payload)
        : transport.srtp.encrypt(rtp.payload, parseRtpHeader(header));
    s.sequenceNumber = seq;
    s.timestamp = timestamp;
    s.rtpTimestamp = timestamp;
    s.packetCount = (s.packetCount + 1) >>> 0;
    s.octetCount += rtp.payload.length;
    this.lastSentAt = now;
    sendSealed(transport, packet);
  }

  /**
   * The slot's sender report at `now`, if it has sent and its transport is connected. Records it on
   * werift's sender as werift's own report loop would, so receiver reports still give it the RTT.
   */
  report(now: number): SenderReport | undefined {
    const s = this.sender;
    const transport = s.dtlsTransport;
    if (this.lastSentAt === 0 || transport.state !== 'connected' || !s.codec) return undefined;
    const ntpTimestamp = ntpTime(now);
    const elapsedTicks = Math.round(((now - this.lastSentAt) * s.codec.clockRate) / 1000);
    s.ntpTimestamp = ntpTimestamp;
    s.lastSRtimestamp = Number((ntpTimestamp >> 16n) & 0xffff_ffffn);
    s.lastSentSRTimestamp = now / 1000;
    if (s.cname && !this.cname) {
      const cname = Buffer.from(s.cname);
      if (cname.length <= 255) this.cname = cname;
    }
    return {
      transport,
      ssrc: s.ssrc,
      ntpTimestamp,
      rtpTimestamp: (s.rtpTimestamp + elapsedTicks) >>> 0,
      packetCount: s.packetCount,
      octetCount: s.octetCount,
      cname: this.cname,
    };
  }

  /** The slot's header, made on its first packet (the SSRC and MID never change). */
  private headerFor(s: SenderInternals): Buffer {
    if (this.header) return this.header;
    const midId = s.headerExtensions.find((e) => e.uri === SDES_MID_URI)?.id;
    this.header = rtpHeaderTemplate(s.ssrc, midId !== undefined && s.mid ? { id: midId, value: s.mid } : undefined);
    return this.header;
  }
}

/** Counts a sealed (S)RTP or SRTCP packet on its transport and hands it to ICE. */
export function sendSealed(transport: RTCDtlsTransport, packet: Buffer): void {
  transport.bytesSent += packet.length;
  transport.packetsSent++;
  sendOnIce(transport.iceTransport.connection, packet);
}

/**
 * An RTP header with version 2 and `ssrc` set (the rest is filled per packet), and, when given, the
 * MID as an RFC 8285 one-byte header extension: 0xBEDE, the length in words, the id/length byte, the
 * value, zero padding to a word.
 */
export function rtpHeaderTemplate(ssrc: number, mid?: { id: number; value: string }): Buffer {
  const value = mid ? Buffer.from(mid.value) : undefined;
  if (value && (value.length < 1 || value.length > 16))
    throw new RangeError(`a MID in a one-byte extension is 1 to 16 bytes, not ${value.length}`);
  const extension = value ? 4 + Math.ceil((1 + value.length) / 4) * 4 : 0;
  const header = Buffer.alloc(12 + extension);
  header[0] = value ? 0x90 : 0x80;
  header.writeUInt32BE(ssrc, 8);
  if (mid && value) {
    header.writeUInt16BE(0xbede, 12);
    header.writeUInt16BE((extension - 4) / 4, 14);
    header[16] = (mid.id << 4) | (value.length - 1);
    value.copy(header, 17);
  }
  return header;
}
