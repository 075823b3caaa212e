/**
 * The control plane's vocabulary: a space, who is on its stage, who asked to speak, who was invited,
 * who was removed. Times are epoch milliseconds inside the server and ISO-8601 at the API boundary.
 */

import type { ReplayTrim } from '../broadcast/replay-trim.js';
import type { Identity, SpaceId } from '../ids.js';

export const SPACE_STATES = ['scheduled', 'live', 'ended'] as const;
export type SpaceState = (typeof SPACE_STATES)[number];

export const STAGE_ROLES = ['host', 'cohost', 'speaker'] as const;
export type StageRole = (typeof STAGE_ROLES)[number];
export const ROLES = ['host', 'cohost', 'speaker', 'listener'] as const;
export type Role = (typeof ROLES)[number];

/** Stage limits from DESIGN.md: one host, up to two co-hosts, up to ten speakers (13 on stage). */
export const LIMITS = { host: 1, cohost: 2, speaker: 10, /** pending requests to speak */ requests: 500 } as const;

/** The fixed reaction set. Anything else is refused. */
export const REACTIONS = ['👏', '❤️', '😂', '🔥', '💯', '🙏', '😮', '👍'] as const;
export type Reaction = (typeof REACTIONS)[number];

export interface Space {
  id: SpaceId;
  title: string;
  hostIdentity: Identity;
  hostName: string;
  state: SpaceState;
  /** When the host said it would start; null for an unscheduled space. */
  scheduledStart: number | null;
  startedAt: number | null;
  endedAt: number | null;
  /** On by default: the broadcast is kept as the replay when the space ends. */
  recording: boolean;
  /** Goes live by itself at `scheduledStart` (auto-start.ts); off by default: the host presses Go live. */
  autoStart: boolean;
  createdAt: number;
  updatedAt: number;
  /** Highest concurrent listener count seen; kept with the space. */
  peakListeners: number;
  /** Estimated distinct listeners over the whole space. */
  totalListeners: number;
  /** Reaction totals by emoji, kept with the space (written with the listener tallies). */
  reactions: Record<string, number>;
  /** The one link the host or a co-host pinned for listeners (kept with the replay), or null. */
  pinnedLink: PinnedLink | null;
  /** Where the host cut the replay's start and end (broadcast/replay-trim.ts), or null: the whole recording. */
  replayTrim: ReplayTrim | null;
}

export interface PinnedLink {
  /** http or https only. */
  url: string;
  title: string;
  pinnedBy: Identity;
  pinnedAt: number;
}

export interface StageMember {
  identity: Identity;
  name: string;
  role: StageRole;
  muted: boolean;
  joinedAt: number;
}

export interface StageRequest {
  identity: Identity;
  name: string;
  requestedAt: number;
}

export interface Invite {
  identity: Identity;
  invitedBy: Identity;
  invitedAt: number;
}

export interface Removal {
  identity: Identity;
  removedBy: Identity;
  removedAt: number;
}

/** A moved-to-audience identity: a token issued before `at` no longer gives it a seat. */
export interface Demotion {
  identity: Identity;
  at: number;
}

/** One entry of the durable moderation log. */
export interface ActionRecord {
  at: number;
  actor: Identity;
  action: string;
  target: Identity | null;
}

/** Everything the node that owns a space holds in memory as its live truth. */
export interface SpaceSnapshot {
  space: Space;
  stage: StageMember[];
  requests: StageRequest[];
  invites: Invite[];
  removals: Removal[];
  demotions: Demotion[];
}
