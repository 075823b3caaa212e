/**
 * The stage's audio routing for one space: every speaker's microphone packets go to every other
 * speaker's session, and nowhere while the speaker is muted — the server drops them, whatever the
 * client does, so a mute takes effect within one packet (20 ms).
 */
import type { RtpPacket } from 'werift';
import type { LiveSpace } from '../control/live-space.js';
import type { Identity } from '../ids.js';
import type { StageSession } from './stage-session.js';
import { TalkingDetector } from './talking-detector.js';

export class AudioRouter {
  private readonly sessions = new Map<Identity, StageSession>();
  private readonly detector: TalkingDetector;
  /** Packets dropped because their speaker was muted or off stage (for metrics and tests). */
  dropped = 0;

  constructor(
    private readonly live: () => LiveSpace | undefined,
    onTalking: (identity: Identity, talking: boolean) => void,
  ) {
    this.detector = new TalkingDetector(onTalking);
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
    for (const other of this.sessions.values()) other.release(session.identity);
  }

  publish(source: Identity, rtp: RtpPacket): void {
    const member = this.live()?.stage.get(source);
    if (!member || member.muted) {
      this.dropped++;
      return;
    }
    const now = Date.now();
    this.detector.push(source, rtp.payload, now);
    for (const [identity, session] of this.sessions) {
      if (identity !== source) session.forward(source, rtp, now);
    }
  }

  close(): void {
    this.detector.close();
  }
}
