/**
 * Faster versions of werift (0.24) per-packet paths, installed once for every peer connection in
 * the process. A forwarding stage is all per-packet work — 13 speakers all talking is 650 packets
 * in and 1,800 out a second — and on a CPU profile of that stage these were a quarter of it:
 *
 * - SRTP and SRTCP with AES-GCM built a native GCM cipher per packet. A DTLS transport that
 *   negotiated AEAD_AES_128_GCM gets a GcmSrtpSession and a GcmSrtcpSession instead (same keys,
 *   same wire format; they also refuse replayed packets, which werift does not). Other profiles
 *   keep werift's own sessions.
 * - RtpHeader.deSerialize read the header's bit fields by printing each byte as a binary string;
 *   parseRtpHeader reads them with shifts and gives the same header object.
 * - Every UDP send passed its IP address through dns.lookup, which answers on the next tick, so each
 *   packet cost a tick and a closure before it left. ICE sockets only ever send to IP addresses;
 *   their dgram sockets now get a lookup that answers an IP address at once (anything else still
 *   goes to dns.lookup).
 * - ICE's send went through three nested async functions per packet (sendOnIce, below).
 *
 * And two fixes of TURN's leaks: an allocation's refresh slept — 5/6 of its lifetime, ten minutes with
 * coturn — in a timers/promises setTimeout that close() could not cancel, and a refused allocation
 * (a wrong or expired credential) left its socket open; either kept the process alive long after its
 * peer connection closed (a bot's CLI, a test file). The refresh now runs on a timer close() clears,
 * and a refused allocation closes its socket (installTurnRefresh).
 *
 * All are swapped in through werift's exported classes (a prototype method and statics), so
 * werift stays an unmodified dependency; test/werift-fast-paths.test.ts checks each against
 * werift's own implementation, and every stage test runs through them.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import {
  classes,
  Message,
  methods,
  ProtectionProfileAeadAes128Gcm,
  RTCDtlsTransport,
  RtpHeader,
  type SrtcpSession,
  type SrtpSession,
  TurnProtocol,
  UdpTransport,
} from 'werift';
import { GcmSrtcpReceiver, GcmSrtcpSender, GcmSrtpReceiver, GcmSrtpSender } from './srtp/gcm-srtp-session.js';
import { fastPathsEnabled } from './werift-adapter.js';

/** werift's own header parser, kept for the test that compares the two. */
export const weriftParseRtpHeader: (packet: Buffer) => RtpHeader = RtpHeader.deSerialize.bind(RtpHeader);

const ONE_BYTE_PROFILE = 0xbede;
const TWO_BYTE_PROFILE = 0x1000;

/** RtpHeader.deSerialize, field for field, without werift's string-based bit reading. */
export function parseRtpHeader(packet: Buffer): RtpHeader {
  const h = new RtpHeader();
  const first = packet[0]!;
  h.version = first >> 6;
  h.padding = (first & 0x20) !== 0;
  h.extension = (first & 0x10) !== 0;
  h.csrcLength = first & 0x0f;
  h.marker = (packet[1]! & 0x80) !== 0;
  h.payloadType = packet[1]! & 0x7f;
  h.sequenceNumber = packet.readUInt16BE(2);
  h.timestamp = packet.readUInt32BE(4);
  h.ssrc = packet.readUInt32BE(8);
  const csrc: number[] = [];
  for (let i = 0; i < h.csrcLength; i++) csrc.push(packet.readUInt32BE(12 + 4 * i));
  h.csrc = csrc;
  let at = 12 + 4 * h.csrcLength;
  if (h.extension) {
    h.extensionProfile = packet.readUInt16BE(at) as RtpHeader['extensionProfile'];
    const length = packet.readUInt16BE(at + 2) * 4;
    h.extensionLength = length;
    at += 4;
    at = readExtensions(packet, at, at + length, h);
  }
  h.payloadOffset = at;
  if (h.padding) h.paddingSize = packet[packet.length - 1]!;
  return h;
}

/** RFC 8285 header extensions into h.extensions; returns where the payload starts (as werift counts it). */
function readExtensions(packet: Buffer, start: number, end: number, h: RtpHeader): number {
  const extensions: RtpHeader['extensions'] = [];
  h.extensions = extensions;
  let at = start;
  if (h.extensionProfile === ONE_BYTE_PROFILE) {
    while (at < end) {
      const b = packet[at]!;
      if (b === 0) {
        at++;
        continue;
      }
      const id = b >> 4;
      const length = (b & 0x0f) + 1;
      at++;
      if (id === 15) break;
      extensions.push({ id, payload: packet.subarray(at, at + length) });
      at += length;
    }
    return at;
  }
  if (h.extensionProfile === TWO_BYTE_PROFILE) {
    while (at < end) {
      if (packet[at] === 0) {
        at++;
        continue;
      }
      const id = packet[at]!;
      const length = packet[at + 1]!;
      at += 2;
      extensions.push({ id, payload: packet.subarray(at, at + length) });
      at += length;
    }
    return at;
  }
  const payload = packet.subarray(at, end);
  extensions.push({ id: 0, payload });
  return at + payload.length;
}

/**
 * The session keys werift derived for one of its sessions, local and remote, as (key, salt): RFC
 * 7714 uses the first 12 bytes of the session salt.
 */
function derivedKeys(werift: SrtpSession | SrtcpSession, kind: 'srtp' | 'srtcp') {
  type Keys = { srtpSessionKey: Buffer; srtpSessionSalt: Buffer; srtcpSessionKey: Buffer; srtcpSessionSalt: Buffer };
  const pick = (c: Keys): [Buffer, Buffer] =>
    kind === 'srtp' ? [c.srtpSessionKey, c.srtpSessionSalt.subarray(0, 12)] : [c.srtcpSessionKey, c.srtcpSessionSalt.subarray(0, 12)];
  return { local: pick(werift.localContext), remote: pick(werift.remoteContext) };
}

/** werift's SrtpSession interface (what RTCDtlsTransport calls), over GcmSrtpSender/Receiver. */
export class GcmSrtpSession {
  readonly sender: GcmSrtpSender;
  readonly receiver: GcmSrtpReceiver;

  constructor(werift: SrtpSession) {
    const { local, remote } = derivedKeys(werift, 'srtp');
    this.sender = new GcmSrtpSender(...local);
    this.receiver = new GcmSrtpReceiver(...remote);
  }

  encrypt(payload: Buffer, header: RtpHeader): Buffer {
    return this.sender.protect(header.serialize(header.serializeSize), payload);
  }

  decrypt = (packet: Buffer): Buffer => this.receiver.unprotect(packet);
}

/** werift's SrtcpSession interface over GcmSrtcpSender/Receiver (RTCP: reports, a few hundred packets a second on a full stage). */
export class GcmSrtcpSession {
  readonly sender: GcmSrtcpSender;
  readonly receiver: GcmSrtcpReceiver;

  constructor(werift: SrtcpSession) {
    const { local, remote } = derivedKeys(werift, 'srtcp');
    this.sender = new GcmSrtcpSender(...local);
    this.receiver = new GcmSrtcpReceiver(...remote);
  }

  encrypt(rtcp: Buffer): Buffer {
    return this.sender.protect(rtcp);
  }

  decrypt = (packet: Buffer): Buffer => this.receiver.unprotect(packet);
}

/** What UdpTransport keeps private in werift's types and withIpLookup needs. */
interface UdpTransportInternals {
  socket: Socket;
  socketType: 'udp4' | 'udp6';
  init(): Promise<void>;
}
const Udp = UdpTransport as unknown as {
  new (type: 'udp4' | 'udp6', options: object): UdpTransport;
  init: typeof UdpTransport.init;
};

/**
 * A transport's socket, before it is bound, swapped for one (with the same listeners) whose lookup
 * answers an IP address at once, without a tick. Until the socket is bound it answers on the next
 * tick, as dns.lookup does: bind looks its address up too, and werift waits for 'listening' after
 * calling bind, which a synchronous answer would emit before anyone listened.
 */
function withIpLookup(transport: UdpTransportInternals): void {
  let bound = false;
  const lookup = (address: string, family: number, callback: (err: Error | null, address: string, family: number) => void) => {
    const version = isIP(address);
    if (!version) return dnsLookup(address, { family } as LookupOneOptions, (err, ip, ipFamily) => callback(err, ip, ipFamily));
    if (bound) return callback(null, address, version);
    process.nextTick(callback, null, address, version);
  };
  const old = transport.socket;
  const socket = createSocket({ type: transport.socketType, lookup: lookup as never });
  socket.once('listening', () => {
    bound = true;
  });
  for (const listener of old.listeners('message')) socket.on('message', listener as (msg: Buffer) => void);
  transport.socket = socket;
  old.close();
}

/** The ICE connection's fields (private in werift's types) that sendOnIce reads and keeps current. */
interface IceInternals {
  nominated?: {
    protocol: { type: string; transport?: { type: string; closed: boolean; socket?: Socket } };
    remoteAddr: [string, number];
    packetsSent: number;
    bytesSent: number;
  };
  canSendApplicationData(): boolean;
  send(data: Buffer): Promise<void>;
}

/**
 * werift's Connection.send without its promises. werift sends through three nested async functions
 * (Connection.send → StunProtocol.sendData → UdpTransport.send): three promises and their microtask
 * jobs per packet, 1,800 packets a second on a full stage. When the nominated pair is plain UDP to an
 * IP address — always, between the stage and a browser or bot here — this sends on the pair's socket
 * at once and counts the packet on the pair as werift does, dropping it in the same cases werift does
 * (no pair nominated, ICE closed or failed, consent expired, transport closed). Any other pair (TCP,
 * TURN, a host name) goes werift's way. Send errors are dropped either way: a datagram that cannot
 * leave is a lost packet, and werift's own UDP send has no callback either.
 */
export function sendOnIce(connection: RTCDtlsTransport['iceTransport']['connection'], packet: Buffer): void {
  const ice = connection as unknown as IceInternals;
  const pair = ice.nominated;
  const transport = pair?.protocol.type === 'stun' ? pair.protocol.transport : undefined;
  if (!pair || transport?.type !== 'udp' || !transport.socket || isIP(pair.remoteAddr[0]) === 0) {
    ice.send(packet).catch(() => {});
    return;
  }
  if (transport.closed || !ice.canSendApplicationData()) return;
  try {
    transport.socket.send(packet, pair.remoteAddr[1], pair.remoteAddr[0]);
  } catch {
    return; // the socket closed under werift (its send would reject, and the caller drops that)
  }
  pair.packetsSent++;
  pair.bytesSent += packet.length;
}

let installed = false;

/** Installs the fast paths (once; later calls do nothing). */
export function installWeriftFastPaths(): void {
  if (installed) return;
  installed = true;
  // Not the werift they were written for (or switched off): werift's own paths throughout (werift-adapter.ts).
  if (!fastPathsEnabled()) return;
  RtpHeader.deSerialize = parseRtpHeader;
  // UdpTransport.init is werift's only way to make a UDP transport: construct, then bind.
  Udp.init = async (type, options = {}) => {
    const transport = new Udp(type, options);
    const internals = transport as unknown as UdpTransportInternals;
    withIpLookup(internals);
    await internals.init();
    return transport;
  };
  installTurnRefresh();
  const update = RTCDtlsTransport.prototype.updateSrtpSession;
  RTCDtlsTransport.prototype.updateSrtpSession = function (this: RTCDtlsTransport) {
    update.call(this);
    if (this.srtp.localContext.profile === ProtectionProfileAeadAes128Gcm) {
      this.srtp = new GcmSrtpSession(this.srtp) as unknown as SrtpSession;
      this.srtcp = new GcmSrtcpSession(this.srtcp) as unknown as SrtcpSession;
    }
  };
}

/** What of werift's TurnProtocol the refresh replacement uses (`refresh` is an instance field there). */
interface TurnInternals {
  server: TurnProtocol['server'];
  refresh: (exp: number) => void;
  requestWithRetry: TurnProtocol['requestWithRetry'];
}

const refreshTimers = new WeakMap<object, NodeJS.Timeout>();

/** Before werift allocates (and starts its refresh), its refresh becomes one close() can stop. */
function installTurnRefresh(): void {
  const connectionMade = TurnProtocol.prototype.connectionMade;
  TurnProtocol.prototype.connectionMade = async function (this: TurnProtocol) {
    (this as unknown as TurnInternals).refresh = (exp) => scheduleTurnRefresh(this as unknown as TurnInternals, exp);
    try {
      return await connectionMade.call(this);
    } catch (err) {
      // An allocation refused (a wrong or expired credential) left werift's socket to the TURN server open.
      await this.transport.close().catch(() => undefined);
      throw err;
    }
  };
  const close = TurnProtocol.prototype.close;
  TurnProtocol.prototype.close = function (this: TurnProtocol) {
    clearTimeout(refreshTimers.get(this));
    refreshTimers.delete(this);
    return close.call(this);
  };
}

/** Refreshes the allocation at 5/6 of its lifetime (werift's own schedule), again and again until closed. */
function scheduleTurnRefresh(turn: TurnInternals, exp: number): void {
  const timer = setTimeout(
    async () => {
      const request = new Message(methods.REFRESH, classes.REQUEST);
      request.setAttribute('LIFETIME', exp);
      try {
        const [answer] = await turn.requestWithRetry(request, turn.server);
        exp = answer.getAttributeValue('LIFETIME') as number;
      } catch {
        // As werift: keep trying at the same pace; the allocation may still be alive.
      }
      if (refreshTimers.has(turn)) scheduleTurnRefresh(turn, exp);
    },
    (5 / 6) * exp * 1000,
  );
  refreshTimers.set(turn, timer);
}

/** Whether a TURN allocation's refresh is scheduled (for the tests). */
export function turnRefreshScheduled(turn: object): boolean {
  return refreshTimers.has(turn);
}

/** Whether a transport's SRTP runs through GcmSrtpSession (for the tests). */
export function usesFastSrtp(transport: RTCDtlsTransport): boolean {
  return (transport.srtp as unknown) instanceof GcmSrtpSession;
}
