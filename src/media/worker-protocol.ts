/**
 * The messages between the main thread (WorkerMedia) and the media worker (media-worker.ts): one
 * tagged union each way. Requests that answer carry a `req` number; the worker replies to each.
 */
import type { Identity, SpaceId } from '../ids.js';
import type { PacketCounts } from '../stage/audio-router.js';
import type { ReceivePaths } from '../stage/fast-receive.js';
import type { RtcCounts, SessionId, StageMemberView } from './media-plane.js';
import type { MixOptions } from './space-mix.js';

export type ToWorker =
  | { t: 'open'; session: SessionId; spaceId: SpaceId; identity: Identity }
  | { t: 'answer'; req: number; session: SessionId; offer: string }
  | { t: 'candidate'; req: number; session: SessionId; init: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } }
  | { t: 'close'; session: SessionId }
  | { t: 'stage'; spaceId: SpaceId; members: StageMemberView[] }
  | { t: 'mix.start'; spaceId: SpaceId; options: MixOptions }
  | { t: 'mix.close'; req: number; spaceId: SpaceId }
  | { t: 'mix.warm'; options: MixOptions }
  | { t: 'shutdown'; req: number };

export type FromWorker =
  | { t: 'reply'; req: number; ok: true; value?: string }
  | { t: 'reply'; req: number; ok: false; code?: string; message: string }
  | { t: 'slot'; session: SessionId; mid: string; identity: Identity | null }
  | { t: 'talking'; spaceId: SpaceId; identity: Identity; talking: boolean }
  | { t: 'counts'; packets: PacketCounts; receivedBy: ReceivePaths; coalescing: boolean; rtc: RtcCounts }
  | { t: 'mix.run'; spaceId: SpaceId; init: Uint8Array; startedAt: number; pid: number | undefined; crashes: number }
  | { t: 'mix.fragment'; spaceId: SpaceId; moof: Uint8Array; mdat: Uint8Array }
  | { t: 'mix.jump'; spaceId: SpaceId; atSample: number; jumpMs: number }
  | { t: 'mix.ended'; spaceId: SpaceId; reason: string | undefined; pid: number | undefined; crashes: number };
