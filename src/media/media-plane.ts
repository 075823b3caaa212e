/**
 * The media plane as the rest of the server sees it: speakers' WebRTC sessions, the stage's audio
 * routing (mutes enforced there), talking detection, and each live space's mix and encoder. Two
 * implementations: `LocalMedia` runs it all on the calling thread; `WorkerMedia` runs a LocalMedia
 * in a worker thread behind a message channel, so media and HTTP never delay each other (the
 * default). The signalling hub and the broadcaster only ever talk to this interface.
 */
import type { Identity, SpaceId } from '../ids.js';
import type { PacketCounts } from '../stage/audio-router.js';
import type { ReceivePaths } from '../stage/fast-receive.js';
import type { RtcNetwork } from '../stage/rtc-network.js';
import type { MixOptions, MixOutput } from './space-mix.js';

/** A speaker's session, numbered by the signalling hub. */
export type SessionId = number;

/** What the media plane must know of a space's stage: who is on it and who is muted. */
export interface StageMemberView {
  identity: Identity;
  muted: boolean;
}

/** What the media plane tells the rest of the server. */
export interface MediaEvents {
  /** A session's receive slot now carries `identity` (or nobody). */
  slot(session: SessionId, mid: string, identity: Identity | null): void;
  /** Someone on a stage started or stopped talking. */
  talking(spaceId: SpaceId, identity: Identity, talking: boolean): void;
  /** The media plane was lost and restarted (WorkerMedia): every session is gone, mixes restart. */
  restarted(reason: string): void;
}

/** A live space's mix, as its broadcast holds it. */
export interface MixHandle {
  /** The ffmpeg process encoding now (tests kill it to prove the restart). */
  readonly encoderPid: number | undefined;
  /** Encoder runs that ended in a crash. */
  readonly crashes: number;
  /** Stops the clock and lets the encoder finish its last fragment; idempotent. */
  close(): Promise<void>;
}

/** WebRTC sessions on this node: open now, the ports they hold, and sessions that could not open. */
export interface RtcCounts {
  sessions: number;
  portsInUse: number;
  /** The port range's size; 0 without a range. */
  portsTotal: number;
  /** Sessions refused, by reason: `ports_exhausted` (every port held) or `bind_failed` (held by another program). */
  failures: { ports_exhausted: number; bind_failed: number };
}

/** How a node's stage media is set up. */
export interface StageMediaOptions {
  /** Where the sessions live on the network: the address they bind and announce, their ports, ICE-TCP. */
  network: RtcNetwork;
  /** Voices forwarded to the other speakers at once: the loudest of those talking. */
  voices: number;
  /** The media worker's receive-coalescing window under load, ms (0: off; never on the main thread). */
  coalesceMs?: number;
}

export interface MediaPlane {
  /** A speaker's session; it takes trickled candidates at once, before its offer is answered. */
  open(session: SessionId, spaceId: SpaceId, identity: Identity): void;
  /** Answers the session's offer (already checked by sdp-policy) and routes its microphone. */
  answer(session: SessionId, offer: string): Promise<string>;
  candidate(session: SessionId, init: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void>;
  /** Ends a session (idempotent). */
  close(session: SessionId): void;
  /** The stage as it is now: audio of anyone not on it, or muted, is dropped. */
  stage(spaceId: SpaceId, members: StageMemberView[]): void;
  /** Who is talking on a space's stage now. */
  talking(spaceId: SpaceId): Identity[];
  /** What became of every microphone packet, across spaces. */
  readonly packets: PacketCounts;
  /** Microphone packets by the receive path that brought them (stage/fast-receive.ts). */
  readonly receivedBy: ReceivePaths;
  /** Whether the media thread coalesces its receives now (media/receive-coalescing.ts). */
  readonly coalescing: boolean;
  /** Sessions, ports and refusals (metrics). */
  readonly rtc: RtcCounts;
  /** Starts a live space's mix; its encoder's output goes to `output`. */
  startMix(spaceId: SpaceId, options: MixOptions, output: MixOutput): MixHandle;
  /** Keeps an encoder running for these settings, so a mix starting costs no process start (encoder-pool.ts). */
  warm(options: MixOptions): void;
  /** Stops everything (server shutdown); mixes are closed cleanly. */
  shutdown(): Promise<void>;
}
