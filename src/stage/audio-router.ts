/**
 * The stage's audio routing for one space: every speaker's microphone packets go to every other
 * speaker's session, and nowhere while the speaker is muted — the server drops them, whatever the
 * client does, so a mute takes effect within one packet (20 ms). When more speakers talk at once
 * than LoudestVoices keeps, only the loudest are forwarded (the mix still gets every voice and
 * picks its own loudest).
 */
import type { RtpPacket } from 'werift';
import type { Identity } from '../ids.js';
import { LoudestVoices } from './loudest-voices.js';
import type { StageSession } from './stage-session.js';
import { TalkingDetector } from './talking-detector.js';

/**
 * Microphone packets by outcome: forwarded, dropped for a mute (or a speaker off stage), held back
 * as silence, or held back from the other speakers because louder voices were talking (quieter).
 */
export interface PacketCounts {
  forwarded: number;
  muted: number;
  silent: number;
  quieter: number;
}

/** Where a space's stage audio goes besides the other speakers: its mix (the broadcast). */
export interface MediaSink {
  /** A microphone packet that was let through (not muted, not held-back silence), with its RFC 6464 level if it had one. */
  audio(identity: Identity, seq: number, payload: Buffer, level: number | undefined): void;
  /** A speaker's session ended. */
  left(identity: Identity): void;
}

/** A stage member as the router needs it (undefined: not on stage). */
export type MemberLookup = (identity: Identity) => { muted: boolean } | undefined;

/** Packets at or below −70 dBov are silence (speech sits around −20 to −40; the floor is 127). */
const SILENT_DBOV = 70;
/** Silence still forwarded after the last sound, so word endings and short pauses pass intact, ms. */
const HANGOVER_MS = 500;

export class AudioRouter {
  private readonly sessions = new Map<Identity, StageSession>();
  private readonly detector: TalkingDetector;
  private readonly loudest: LoudestVoices;
  /** Since when each speaker's packets have said silence. */
  private readonly quietSince = new Map<Identity, number>();
  /** Speakers whose last packets were held back (muted or silent): their next one resumes a pause. */
  private readonly held = new Set<Identity>();

  constructor(
    /** Who is on stage and muted, as the control plane last said. */
    private readonly member: MemberLookup,
    /** Shared by every space's router: what became of each microphone packet. */
    private readonly counts: PacketCounts,
    onTalking: (identity: Identity, talking: boolean) => void,
    /** Voices forwarded at once (the loudest). */
    voices: number,
    private readonly sink?: MediaSink,
  ) {
    this.detector = new TalkingDetector(onTalking);
    this.loudest = new LoudestVoices(voices);
  }

  /** Who is talking now (only audio that is forwarded counts: a muted speaker is never talking). */
  talking(): Identity[] {
    return this.detector.talking();
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: StageSession): void {
    this.sessions.set(session.identity, session);
  }

  /** Removes a speaker's session (if it is this one) and frees its slots elsewhere. */
  remove(session: StageSession): void {
    if (this.sessions.get(session.identity) !== session) return;
    this.sessions.delete(session.identity);
    this.detector.forget(session.identity);
    this.loudest.forget(session.identity);
    this.quietSince.delete(session.identity);
    this.held.delete(session.identity);
    this.sink?.left(session.identity);
    for (const other of this.sessions.values()) other.release(session.identity);
  }

  /**
   * Routes one microphone packet. `level` is its RFC 6464 level (−dBov) when the client sends one:
   * then the talking indicator needs no decoding, and a speaker silent for longer than HANGOVER_MS
   * is not forwarded at all until it makes a sound (the receivers see a pause, as with DTX).
   */
  publish(source: Identity, rtp: RtpPacket, level?: number): void {
    const member = this.member(source);
    if (!member || member.muted) {
      this.counts.muted++;
      this.hold(source);
      return;
    }
    const now = Date.now();
    if (level === undefined) this.detector.push(source, rtp.payload, now);
    else this.detector.pushLevel(source, level, now);
    if (level !== undefined && level >= SILENT_DBOV) {
      const quietSince = this.quietSince.get(source) ?? now;
      this.quietSince.set(source, quietSince);
      if (now - quietSince > HANGOVER_MS) {
        this.counts.silent++;
        this.hold(source);
        return;
      }
    } else {
      this.quietSince.delete(source);
    }
    this.sink?.audio(source, rtp.header.sequenceNumber, rtp.payload, level);
    // Ranked by level; a packet without one cannot be ranked without decoding, and is forwarded.
    if (level !== undefined && !this.loudest.admit(source, level, now)) {
      this.counts.quieter++;
      this.held.add(source);
      return;
    }
    this.counts.forwarded++;
    const resumed = this.held.delete(source);
    for (const [identity, session] of this.sessions) {
      if (identity !== source) session.forward(source, rtp, now, resumed);
    }
  }

  /** The source's packets stop reaching the others; the next one forwarded resumes a pause. */
  private hold(source: Identity): void {
    this.held.add(source);
    this.loudest.release(source);
  }

  close(): void {
    this.detector.close();
  }
}
