/**
 * One speaker's WebRTC session, terminated in Node with werift (pure TypeScript; mediasoup cannot be
 * built here and @roamhq/wrtc's native stack is heavier than a forwarding stage needs). The speaker
 * offers one microphone and SLOTS receive-only audios; the server forwards every other speaker's
 * Opus packets into those slots unchanged (an SFU: no decode, no re-encode, no added jitter buffer),
 * so nobody ever hears themself and adding a speaker needs no renegotiation.
 */
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';
import type { Identity } from '../ids.js';
import { rtcConfig } from './rtc-config.js';

/** A slot that carried nobody for this long may be given to another speaker, ms. */
const SLOT_IDLE_MS = 2000;

interface Slot {
  mid: string;
  track: MediaStreamTrack;
  source: Identity | null;
  lastAt: number;
}

export interface SessionEvents {
  /** A packet from this speaker's microphone. */
  onMicrophone(rtp: RtpPacket): void;
  /** A slot now carries `identity` (or nobody). */
  onSlot(mid: string, identity: Identity | null): void;
}

function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') resolve();
    });
  });
}

export class StageSession {
  private readonly slots: Slot[] = [];
  private closed = false;

  private constructor(
    readonly identity: Identity,
    private readonly pc: RTCPeerConnection,
    private readonly events: SessionEvents,
  ) {}

  /** Answers a speaker's offer (already checked by sdp-policy). Resolves once ICE gathering is done. */
  static async answer(
    identity: Identity,
    offer: string,
    events: SessionEvents,
    loopbackOnly: boolean,
  ): Promise<{ session: StageSession; sdp: string }> {
    const pc = new RTCPeerConnection(rtcConfig(loopbackOnly));
    const session = new StageSession(identity, pc, events);
    try {
      pc.onTrack.subscribe((track) => {
        track.onReceiveRtp.subscribe((rtp) => {
          if (!session.closed) events.onMicrophone(rtp);
        });
      });
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      // The speaker's receive-only sections are our send-only slots; its microphone stays recvonly here.
      const mic = micMid(offer);
      for (const transceiver of pc.getTransceivers()) {
        if (transceiver.mid === mic) continue;
        transceiver.setDirection('sendonly');
        const track = new MediaStreamTrack({ kind: 'audio' });
        await transceiver.sender.replaceTrack(track);
        session.slots.push({ mid: transceiver.mid ?? String(session.slots.length), track, source: null, lastAt: 0 });
      }
      await pc.setLocalDescription(await pc.createAnswer());
      await waitForGathering(pc);
      return { session, sdp: pc.localDescription?.sdp ?? '' };
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /** Forwards one packet of `source` into its slot (assigning one if needed). */
  forward(source: Identity, rtp: RtpPacket, now: number): void {
    if (this.closed) return;
    let slot = this.slots.find((s) => s.source === source);
    if (!slot) {
      slot = this.slots.find((s) => s.source === null) ?? this.slots.find((s) => now - s.lastAt > SLOT_IDLE_MS);
      if (!slot) return;
      slot.source = source;
      this.events.onSlot(slot.mid, source);
    }
    slot.lastAt = now;
    // The sender rewrites SSRC, payload type and offsets in place: every receiver gets its own copy.
    const h = rtp.header;
    const header = new RtpHeader({
      payloadType: h.payloadType,
      sequenceNumber: h.sequenceNumber,
      timestamp: h.timestamp,
      ssrc: h.ssrc,
      marker: h.marker,
    });
    slot.track.writeRtp(new RtpPacket(header, rtp.payload));
  }

  /** Frees the slot a departed speaker held. */
  release(source: Identity): void {
    const slot = this.slots.find((s) => s.source === source);
    if (!slot) return;
    slot.source = null;
    this.events.onSlot(slot.mid, null);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const slot of this.slots) slot.track.stop();
    await this.pc.close();
  }
}

/** The mid of the offer's sending section (its microphone). */
function micMid(offer: string): string | undefined {
  for (const section of offer.split(/\r?\n(?=m=)/).slice(1)) {
    if (/^a=(sendonly|sendrecv)\s*$/m.test(section)) return /^a=mid:(\S+)/m.exec(section)?.[1];
  }
  return undefined;
}
