/**
 * The stage signalling protocol: JSON messages over the `/rtc` WebSocket. Client messages are
 * validated against these schemas; server messages are typed here. Errors use the same codes as
 * the HTTP API (`{"type":"error","error":{"code","message"}}`).
 */
import { type Static, Type } from 'typebox';
import type { StageMember } from '../control/model.js';
import type { ErrorCode } from '../errors.js';
import { SPACE_ID_PATTERN } from '../ids.js';
import type { IceServer } from './turn-credentials.js';

/** Largest message either side may send, bytes (ws closes with 1009 beyond it). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Largest SDP offer accepted, characters. */
export const MAX_SDP_BYTES = 16 * 1024;
/** Receive slots a speaker offers: everyone else who can be on stage (13 − 1). */
export const SLOTS = 12;
/** Longest trickled ICE candidate line accepted, characters. */
export const MAX_CANDIDATE_BYTES = 512;
/** Trickled candidates accepted per offer (the offer's own count toward the SDP cap instead). */
export const MAX_TRICKLED_CANDIDATES = 20;
/** A connection must authenticate within this long, ms. */
export const AUTH_DEADLINE_MS = 5000;

const closed = { additionalProperties: false } as const;

export const ClientMessage = Type.Union([
  Type.Object(
    {
      type: Type.Literal('auth'),
      token: Type.String({ minLength: 1, maxLength: 4096 }),
      /** Needed only with an operator token, which is for no one space. */
      space: Type.Optional(Type.String({ pattern: SPACE_ID_PATTERN })),
    },
    closed,
  ),
  Type.Object({ type: Type.Literal('ping'), t: Type.Number() }, closed),
  /** Publish: an SDP offer with one sendonly audio (the microphone) and up to SLOTS recvonly audios. */
  Type.Object({ type: Type.Literal('offer'), sdp: Type.String({ minLength: 1, maxLength: MAX_SDP_BYTES }) }, closed),
  /**
   * Trickle ICE: one of the speaker's candidates for the current offer, sent after the offer as it is
   * gathered (RFC 8838); `candidate: null` (or an empty string) ends gathering.
   */
  Type.Object(
    {
      type: Type.Literal('candidate'),
      candidate: Type.Union([Type.String({ maxLength: MAX_CANDIDATE_BYTES }), Type.Null()]),
      sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
      sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: SLOTS }), Type.Null()])),
      usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    },
    closed,
  ),
]);
export type ClientMessage = Static<typeof ClientMessage>;

export type PublicMember = Pick<StageMember, 'identity' | 'name' | 'role' | 'muted'>;

export type ServerMessage =
  /**
   * After `auth`. `iceServers` are the STUN/TURN servers to gather with (RTCIceServer), TURN with a
   * credential minted for this connection that works until `iceServersExpireAt` (ISO-8601).
   */
  | {
      type: 'welcome';
      identity: string;
      role: string;
      spaceId: string;
      stage: PublicMember[];
      iceServers: IceServer[];
      iceServersExpireAt?: string;
    }
  | { type: 'stage'; stage: PublicMember[] }
  | { type: 'muted'; identity: string; by: string }
  | { type: 'unmuted'; identity: string }
  | { type: 'talking'; identity: string; talking: boolean }
  | { type: 'request'; identity: string; name: string }
  | { type: 'request_resolved'; identity: string; outcome: string }
  | { type: 'moved_to_audience'; identity: string; by: string }
  | { type: 'removed'; identity: string; by: string }
  | { type: 'ended' }
  | { type: 'pong'; t: number; serverTime: number }
  | { type: 'answer'; sdp: string }
  /** Which slot (receive transceiver, by mid) now carries whose voice; null when it fell silent. */
  | { type: 'slot'; mid: string; identity: string | null }
  | { type: 'error'; error: { code: ErrorCode; message: string } };

/** WebSocket close codes we use (RFC 6455 §7.4). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
} as const;
