/**
 * A fast path for a peer connection's incoming microphone packets — the stage's receive side, 650
 * packets a second with 13 speakers talking, and on its CPU profile a fifth of the media worker.
 *
 * werift (0.24) hands each SRTP packet through six layers: the UDP transport, a STUN parse attempt,
 * the ICE connection, the DTLS transport (decrypt and parse), the RTP router (every header
 * extension decoded by URI, the MID as a new string) and the receiver (the codec list copied and
 * sorted twice to ask whether TWCC or NACK is on, the codec name split and lower-cased twice, the
 * packet deep-cloned); each of the five events on the way also starts an async function, a promise
 * and a microtask job, whether or not anyone awaits it.
 *
 * Once a stream is established on werift's path — its first packet went through all of it, so the
 * receiver knows the SSRC, keeps statistics for it and runs its RTCP reports — its later packets are
 * taken straight from the UDP socket: opened with the transport's GcmSrtpSession, parsed with the
 * fast header parser, counted where werift counts them (the ICE pair, the DTLS transport, the
 * receiver's statistics, which its receiver reports are made from) and given to the consumer
 * registered for the track. Everything else goes werift's way untouched: STUN, DTLS, RTCP, another
 * SRTP profile, an unknown SSRC or payload type, a receiver with TWCC, NACK, RTX or RED, a packet
 * of a track nobody registered here. A packet that fails authentication or does not parse is
 * dropped, as werift drops it.
 *
 * werift 0.24's private fields are read by name (the interfaces below): the version is pinned, and
 * test/fast-receive.test.ts checks the path against werift's own on a real connection.
 */
import type { MediaStreamTrack, RTCDtlsTransport, RTCPeerConnection, RtpPacket } from 'werift';
import { RTCRtpReceiver, RtpPacket as WeriftRtpPacket } from 'werift';
import { fastPathsEnabled } from './werift-adapter.js';
import { GcmSrtpSession } from './werift-fast-paths.js';

/** Where a fast packet goes: the same function the track's onReceiveRtp subscription calls. */
export type RtpConsumer = (rtp: RtpPacket) => void;

interface UdpTransportInternals {
  type: string;
  onData: (data: Buffer, addr: [string, number]) => void;
}

interface ProtocolInternals {
  type: string;
  transport?: UdpTransportInternals;
}

interface ConnectionInternals {
  protocols: ProtocolInternals[];
  nominated?: { protocol: ProtocolInternals; packetsReceived: number; bytesReceived: number };
}

interface StreamStatistics {
  add(rtp: RtpPacket): void;
}

interface ReceiverInternals {
  stopped: boolean;
  codecs: Record<number, { mimeType: string; rtcpFeedback: Array<{ type: string }> } | undefined>;
  trackBySSRC: Record<number, MediaStreamTrack | undefined>;
  remoteStreams: Record<number, StreamStatistics | undefined>;
  receiverTWCC?: unknown;
}

interface PeerConnectionInternals {
  router: { ssrcTable: Record<number, unknown> };
}

/** One established stream: what its packets need, checked again on every packet. */
interface Route {
  receiver: ReceiverInternals;
  track: MediaStreamTrack;
  payloadType: number;
  stats: StreamStatistics;
  consumer: RtpConsumer;
}

/** Microphone packets a server's sessions were handed, by the path that brought them (metrics). */
export interface ReceivePaths {
  fast: number;
  werift: number;
}

/** Counts of the fast path, for tests and metrics. */
export interface FastReceiveCounts {
  /** Packets taken on the fast path and delivered. */
  taken: number;
  /** Packets the fast path dropped: not authentic (forged, replayed) or not parseable. */
  dropped: number;
}

export class FastReceive {
  private readonly consumers = new Map<MediaStreamTrack, RtpConsumer>();
  private readonly routes = new Map<number, Route>();
  private readonly hooked = new WeakSet<UdpTransportInternals>();
  readonly counts: FastReceiveCounts = { taken: 0, dropped: 0 };

  /** Made with the connection, before it gathers: each time gathering completes, its sockets are hooked. */
  constructor(private readonly pc: RTCPeerConnection) {
    // Candidates gathered later (an ICE restart) bring new sockets: hook those too.
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') this.hook();
    });
  }

  /** Packets of `track` taken on the fast path go to `consumer` (subscribe it to track.onReceiveRtp as well). */
  deliver(track: MediaStreamTrack, consumer: RtpConsumer): void {
    this.consumers.set(track, consumer);
  }

  /** Puts the fast path in front of every UDP socket the connection has gathered (idempotent). */
  private hook(): void {
    if (!fastPathsEnabled()) return; // werift's own path for every packet (werift-adapter.ts)
    for (const dtls of this.pc.dtlsTransports) {
      const connection = dtls.iceTransport.connection as unknown as ConnectionInternals;
      for (const protocol of connection.protocols) {
        const udp = protocol.type === 'stun' ? protocol.transport : undefined;
        if (udp?.type !== 'udp' || this.hooked.has(udp)) continue;
        this.hooked.add(udp);
        const werift = udp.onData;
        udp.onData = (data, addr) => {
          if (!this.take(dtls, connection, protocol, data)) werift(data, addr);
        };
      }
    }
  }

  /** Whether `data` was an established stream's SRTP packet, taken (delivered or dropped) here. */
  private take(dtls: RTCDtlsTransport, connection: ConnectionInternals, protocol: ProtocolInternals, data: Buffer): boolean {
    // RTP and RTCP start with version 2 (first byte 128–191); RTCP's second byte is 192–223.
    if (data.length < 12 || (data[0]! & 0xc0) !== 0x80) return false;
    const payloadType = data[1]! & 0x7f;
    if (payloadType >= 64 && payloadType <= 95) return false;
    const srtp = dtls.srtp as unknown;
    if (dtls.state !== 'connected' || !(srtp instanceof GcmSrtpSession)) return false;
    const route = this.route(data.readUInt32BE(8), payloadType);
    if (!route) return false;
    let rtp: RtpPacket;
    try {
      rtp = WeriftRtpPacket.deSerialize(srtp.decrypt(data));
    } catch {
      this.counts.dropped++;
      return true;
    }
    dtls.bytesReceived += data.length;
    dtls.packetsReceived++;
    const pair = connection.nominated;
    if (pair && pair.protocol === protocol) {
      pair.packetsReceived++;
      pair.bytesReceived += data.length;
    }
    route.stats.add(rtp);
    this.counts.taken++;
    route.consumer(rtp);
    return true;
  }

  /** The stream's route if werift has established it and nothing about it needs werift's path. */
  private route(ssrc: number, payloadType: number): Route | undefined {
    const entry = (this.pc as unknown as PeerConnectionInternals).router.ssrcTable[ssrc];
    // The router's table holds the senders' SSRCs too.
    const receiver = entry instanceof RTCRtpReceiver ? (entry as unknown as ReceiverInternals) : undefined;
    const known = this.routes.get(ssrc);
    if (
      known &&
      known.receiver === receiver &&
      known.payloadType === payloadType &&
      !known.receiver.stopped &&
      known.receiver.trackBySSRC[ssrc] === known.track &&
      known.receiver.remoteStreams[ssrc] === known.stats
    ) {
      return known;
    }
    this.routes.delete(ssrc);
    if (!receiver || receiver.stopped) return undefined;
    const track = receiver.trackBySSRC[ssrc];
    const stats = receiver.remoteStreams[ssrc];
    const codec = receiver.codecs[payloadType];
    const consumer = track && this.consumers.get(track);
    if (!track || !stats || !codec || !consumer || receiver.receiverTWCC) return undefined;
    // Only plain Opus: RTX and RED need unwrapping, and NACK or TWCC feedback (werift asks its first
    // codec, so any codec having it counts) is werift's to send.
    if (codec.mimeType.toLowerCase() !== 'audio/opus') return undefined;
    const feedback = Object.values(receiver.codecs).flatMap((c) => c?.rtcpFeedback ?? []);
    if (feedback.some((f) => f.type === 'nack' || f.type === 'transport-cc')) return undefined;
    const route: Route = { receiver, track, payloadType, stats, consumer };
    this.routes.set(ssrc, route);
    return route;
  }
}
