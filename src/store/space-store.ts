/**
 * SpaceStore: the durable record of spaces and of every stage and moderation change. A write is
 * durable when its promise resolves. Implementations: sqlite/ (embedded default), postgres/ (scaled
 * out). test/store/space-store-contract.ts is the suite every implementation must pass.
 *
 * Fencing: when several nodes run, one owns each space and is its only writer. Taking a space
 * (`claim`) raises its epoch; every commit of the owner carries its fence, and the store refuses a
 * commit whose epoch is older than the space's (`stale_owner`) — so an owner that was paused past its
 * lease can never overwrite what its successor wrote (Kleppmann, "How to do distributed locking").
 */

import type { HostFeed } from '../control/host-feed.js';
import type {
  ActionRecord,
  Demotion,
  Invite,
  Removal,
  Space,
  SpaceSnapshot,
  SpaceState,
  StageMember,
  StageRequest,
} from '../control/model.js';
import { fail, type RostrumError } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import type { OutboxEvent } from '../webhooks/events.js';
import type { WebhookStore } from '../webhooks/webhook-store.js';

/** The fields of a space that change after creation. */
export type SpacePatch = Partial<
  Pick<
    Space,
    | 'title'
    | 'state'
    | 'scheduledStart'
    | 'startedAt'
    | 'endedAt'
    | 'recording'
    | 'autoStart'
    | 'updatedAt'
    | 'peakListeners'
    | 'totalListeners'
    | 'reactions'
    | 'pinnedLink'
    | 'replayTrim'
  >
>;

/** One change inside an atomic commit. */
export type StoreOp =
  | { op: 'space.update'; patch: SpacePatch }
  | { op: 'stage.put'; member: StageMember }
  | { op: 'stage.delete'; identity: Identity }
  | { op: 'request.put'; request: StageRequest }
  | { op: 'request.delete'; identity: Identity }
  | { op: 'invite.put'; invite: Invite }
  | { op: 'invite.delete'; identity: Identity }
  | { op: 'removal.put'; removal: Removal }
  | { op: 'demotion.put'; demotion: Demotion }
  | { op: 'action.append'; action: ActionRecord }
  /** The audience at a tally (analytics: listeners now, reaction totals so far). */
  | { op: 'tally.append'; tally: TallyPoint }
  /** A webhook event into the outbox (webhooks/webhook-store.ts), with the change that caused it. */
  | { op: 'event.append'; event: OutboxEvent };

/** One tally of a live space's audience. */
export interface TallyPoint {
  at: number;
  listeners: number;
  reactions: Record<string, number>;
}

/** The writer of a commit: the owning node and the epoch it claimed the space with. */
export interface Fence {
  node: string;
  epoch: number;
}

export interface SpaceQuery {
  states?: readonly SpaceState[];
  hostIdentity?: Identity;
  /** Most rows to return; newest first. */
  limit: number;
}

export interface SpaceStore {
  /** What this implementation is, for logs and /readyz. */
  readonly kind: string;
  /** Creates the space with its host on stage, and its webhook events; rejects if the id exists. */
  createSpace(space: Space, host: StageMember, events?: readonly OutboxEvent[]): Promise<void>;
  /** The webhook endpoints and the outbox, in the same database. */
  readonly webhooks: WebhookStore;
  /** The whole live truth of one space, or undefined. */
  loadSpace(id: SpaceId): Promise<SpaceSnapshot | undefined>;
  listSpaces(query: SpaceQuery): Promise<Space[]>;
  /**
   * Applies every op or none; throws space_not_found for an unknown space, and stale_owner when
   * `fence` is older than the space's epoch (another node claimed it since).
   */
  commit(id: SpaceId, ops: readonly StoreOp[], fence?: Fence): Promise<void>;
  /** Makes `node` the space's owner with a new, higher epoch, which it returns; space_not_found if unknown. */
  claim(id: SpaceId, node: string): Promise<number>;
  /** Who owns the space by the store's record (the last claim), if anyone. */
  owner(id: SpaceId): Promise<Fence | undefined>;
  /** The moderation log, oldest first. */
  listActions(id: SpaceId, limit: number): Promise<ActionRecord[]>;
  /** Registers a reminder; false when it was already there. */
  addReminder(id: SpaceId, identity: Identity, at: number): Promise<boolean>;
  removeReminder(id: SpaceId, identity: Identity): Promise<boolean>;
  countReminders(id: SpaceId): Promise<number>;
  /** Who asked to be reminded, in the order they asked (oldest first), at most `limit` after the `after`-th. */
  listReminders(id: SpaceId, limit: number, after?: number): Promise<Array<{ identity: Identity; at: number }>>;
  /** The space's tally points, oldest first (analytics). */
  listTallies(id: SpaceId): Promise<TallyPoint[]>;
  /** Adds to the replay's plays and downloads (counted on every node, added up here). */
  addReplayCounts(id: SpaceId, plays: number, downloads: number): Promise<void>;
  replayCounts(id: SpaceId): Promise<{ plays: number; downloads: number }>;
  /** A host's podcast settings, if any were set. */
  getHostFeed(host: Identity): Promise<HostFeed | undefined>;
  /** Replaces a host's podcast settings. */
  putHostFeed(host: Identity, settings: HostFeed, at: number): Promise<void>;
  /** Resolves when the store answers; for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The refusal of a commit fenced with an epoch older than the space's. */
export function staleOwner(id: SpaceId, fence: Fence, current: number): RostrumError {
  return fail(
    'stale_owner',
    `Node ${fence.node} wrote to space ${id} with epoch ${fence.epoch}; it has been claimed since (epoch ${current}).`,
    1,
  );
}
