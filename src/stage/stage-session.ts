/**
 * One speaker's WebRTC session, terminated in Node with werift (pure TypeScript; mediasoup cannot be
 * built here and @roamhq/wrtc's native stack is heavier than a forwarding stage needs). The speaker
 * offers one microphone and SLOTS receive-only audios; the server forwards every other speaker's
 * Opus packets into those slots unchanged (an SFU: no decode, no re-encode, no added jitter buffer),
 * so nobody ever hears themself and adding a speaker needs no renegotiation.
 */
import { MediaStreamTrack, type RTCIceCandidateInit, RTCPeerConnection, type RTCRtpSender, type RtpPacket } from 'werift';
import { fail } from '../errors.js';
import type { Identity } from '../ids.js';
import { FastReceive, type ReceivePaths } from './fast-receive.js';
import { MAX_TRICKLED_CANDIDATES } from './protocol.js';
import { AUDIO_LEVEL_URI, audioLevelOf, extensionId, gatheringComplete, pinPort, serverRtcConfig } from './rtc-config.js';
import { announceCandidates, type RtcNetwork } from './rtc-network.js';
import { SlotReports } from './slot-reports.js';
import { SlotSender } from './slot-sender.js';

/** A slot that carried nobody for this long may be given to another speaker, ms. */
const SLOT_IDLE_MS = 2000;

interface Slot {
  mid: string;
  track: MediaStreamTrack;
  sender: RTCRtpSender;
  writer: SlotSender;
  source: Identity | null;
  /** The SSRC of the stream forwarded into the slot last. */
  sourceSsrc: number | null;
  lastAt: number;
}

/** Opus's RTP clock: 48 kHz, so 48 ticks a millisecond. */
const RTP_TICKS_PER_MS = 48;

export interface SessionEvents {
  /** A packet from this speaker's microphone, with its RFC 6464 level (−dBov) when the client sends one. */
  onMicrophone(rtp: RtpPacket, level: number | undefined): void;
  /** A slot now carries `identity` (or nobody). */
  onSlot(mid: string, identity: Identity | null): void;
}

export class StageSession {
  private readonly slots: Slot[] = [];
  private pc: RTCPeerConnection | undefined;
  private readonly reports = new SlotReports(() => this.slots.map((slot) => slot.writer));
  private trickled = 0;
  /** The id of the audio level header extension in the speaker's offer, if it offered one. */
  private levelId: number | undefined;
  private closed = false;

  /** The session exists (and takes trickled candidates) before its offer is answered. */
  constructor(
    readonly identity: Identity,
    private readonly events: SessionEvents,
    private readonly network: RtcNetwork,
    /** Counts each microphone packet by the path that brought it (shared by the plane's sessions). */
    private readonly receivedBy: ReceivePaths,
  ) {}

  /**
   * Answers the speaker's offer (already checked by sdp-policy) on `port` (one of the network's port
   * range; undefined: any). Resolves once our own ICE gathering is done, so the answer carries the
   * server's candidates (host candidates: known at once), as the network announces them. Throws
   * `rtc_unavailable` when no candidate could be gathered (the port could not be bound).
   */
  async answer(offer: string, port?: number): Promise<string> {
    if (this.closed || this.pc) throw fail('not_on_stage', 'This session was closed, or answered already.');
    const pc = new RTCPeerConnection(serverRtcConfig(this.network));
    if (port !== undefined) pinPort(pc, port);
    this.pc = pc;
    this.receive(pc);
    this.levelId = extensionId(offer, AUDIO_LEVEL_URI);
    // ICE-lite needs none of the speaker's candidates: its checks come to us. Stripping them means
    // werift never pairs with, resolves (mDNS) or otherwise touches an address the speaker named.
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: withoutCandidates(offer) });
    } catch (err) {
      // werift could not take the offer (the policy passes what it cannot know werift refuses): the
      // speaker's input, answered as such — never an internal_error (test/fuzz.test.ts found one).
      throw fail('validation_failed', `The offer cannot be used: ${(err as Error).message}`);
    }
    // The speaker's receive-only sections are our send-only slots; its microphone stays recvonly here.
    const mic = micMid(offer);
    for (const transport of pc.dtlsTransports) {
      // The DTLS server picks the SRTP profile. As the client, werift gets whatever the speaker's
      // browser prefers (Chromium picks AES-CM with HMAC-SHA1); as the server it picks AES-GCM
      // first, which the stage seals and opens on its fast path (werift-fast-paths.ts).
      if (transport.role === 'auto') transport.role = 'server';
    }
    for (const transceiver of pc.getTransceivers()) {
      if (transceiver.mid === mic) continue;
      transceiver.setDirection('sendonly');
      const track = new MediaStreamTrack({ kind: 'audio' });
      await transceiver.sender.replaceTrack(track);
      const mid = transceiver.mid ?? String(this.slots.length);
      const sender = transceiver.sender;
      this.slots.push({ mid, track, sender, writer: new SlotSender(sender, track), source: null, sourceSsrc: null, lastAt: 0 });
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    const local = pc.localDescription?.sdp ?? '';
    if (!/^a=candidate:\S+ \d+ udp /im.test(local)) {
      throw fail('rtc_unavailable', `No WebRTC port could be opened${port === undefined ? '' : ` (port ${port} is taken)`}; retry.`, 1);
    }
    this.reports.start();
    return announceCandidates(local, this.network);
  }

  /** The microphone's packets come through werift until its stream is established, then on the fast path. */
  private receive(pc: RTCPeerConnection): void {
    const fast = new FastReceive(pc);
    pc.onTrack.subscribe((track) => {
      const microphone = (rtp: RtpPacket) => {
        if (!this.closed) this.events.onMicrophone(rtp, audioLevelOf(rtp.header.extensions, this.levelId));
      };
      track.onReceiveRtp.subscribe((rtp) => {
        this.receivedBy.werift++;
        microphone(rtp);
      });
      fast.deliver(track, (rtp) => {
        this.receivedBy.fast++;
        microphone(rtp);
      });
    });
  }

  /**
   * A trickled candidate from the speaker (already checked by sdp-policy): counted against the cap,
   * then dropped — an ICE-lite server learns the speaker's address from its checks, never from what
   * it names (see answer()). An empty candidate marks the end of gathering.
   */
  async addCandidate(init: RTCIceCandidateInit): Promise<void> {
    if (this.closed) return;
    if (init.candidate && ++this.trickled > MAX_TRICKLED_CANDIDATES) {
      throw fail('validation_failed', `At most ${MAX_TRICKLED_CANDIDATES} trickled candidates per offer.`);
    }
  }

  get connectionState(): string {
    return this.pc?.connectionState ?? 'new';
  }

  /**
   * Forwards one packet of `source` into its slot (assigning one if needed). `resumed` says the
   * router held back the source's packets just before (silence or a mute): that pause is not loss.
   */
  forward(source: Identity, rtp: RtpPacket, now: number, resumed = false): void {
    if (this.closed) return;
    let slot = this.slots.find((s) => s.source === source);
    if (!slot) {
      slot = this.slots.find((s) => s.source === null) ?? this.slots.find((s) => now - s.lastAt > SLOT_IDLE_MS);
      if (!slot) return;
      slot.source = source;
      this.events.onSlot(slot.mid, source);
    }
    const h = rtp.header;
    if (resumed || slot.sourceSsrc !== h.ssrc) {
      // A new stream in this slot (another speaker, the same one reconnected, or back from a pause):
      // continue the slot's numbering after its last packet and its clock by the time since, so the
      // receiver's jitter buffer sees one stream with a pause (as with DTX), not loss or a jump back.
      const elapsed = slot.lastAt ? Math.round((now - slot.lastAt) * RTP_TICKS_PER_MS) : 0;
      slot.sender.replaceRTP({ sequenceNumber: (h.sequenceNumber - 1) & 0xffff, timestamp: (h.timestamp - elapsed) >>> 0 });
      slot.sourceSsrc = h.ssrc;
    }
    slot.lastAt = now;
    slot.writer.send({ marker: h.marker, sequenceNumber: h.sequenceNumber, timestamp: h.timestamp, payload: rtp.payload }, now);
  }

  /** Frees the slot a departed speaker held. */
  release(source: Identity): void {
    const slot = this.slots.find((s) => s.source === source);
    if (!slot) return;
    slot.source = null;
    slot.sourceSsrc = null;
    this.events.onSlot(slot.mid, null);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reports.stop();
    for (const slot of this.slots) slot.track.stop();
    await this.pc?.close();
  }
}

/** The offer without its ICE candidate lines (and end-of-candidates marks). */
function withoutCandidates(sdp: string): string {
  return sdp.replace(/^a=(candidate:|end-of-candidates).*\r?\n/gm, '');
}

/** The mid of the offer's sending section (its microphone). */
function micMid(offer: string): string | undefined {
  for (const section of offer.split(/\r?\n(?=m=)/).slice(1)) {
    if (/^a=(sendonly|sendrecv)\s*$/m.test(section)) return /^a=mid:(\S+)/m.exec(section)?.[1];
  }
  return undefined;
}
