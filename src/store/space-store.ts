/**
 * SpaceStore: the durable record of spaces and of every stage and moderation change. A write is
 * durable when its promise resolves. Implementations: sqlite/ (embedded default); PostgreSQL later.
 * test/store/space-store-contract.ts is the suite every implementation must pass.
 */

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
import type { Identity, SpaceId } from '../ids.js';

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
    | 'updatedAt'
    | 'peakListeners'
    | 'totalListeners'
    | 'reactions'
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
  | { op: 'action.append'; action: ActionRecord };

export interface SpaceQuery {
  states?: readonly SpaceState[];
  hostIdentity?: Identity;
  /** Most rows to return; newest first. */
  limit: number;
}

export interface SpaceStore {
  /** What this implementation is, for logs and /readyz. */
  readonly kind: string;
  /** Creates the space with its host on stage; rejects if the id exists. */
  createSpace(space: Space, host: StageMember): Promise<void>;
  /** The whole live truth of one space, or undefined. */
  loadSpace(id: SpaceId): Promise<SpaceSnapshot | undefined>;
  listSpaces(query: SpaceQuery): Promise<Space[]>;
  /** Applies every op or none; throws space_not_found for an unknown space. */
  commit(id: SpaceId, ops: readonly StoreOp[]): Promise<void>;
  /** The moderation log, oldest first. */
  listActions(id: SpaceId, limit: number): Promise<ActionRecord[]>;
  /** Registers a reminder; false when it was already there. */
  addReminder(id: SpaceId, identity: Identity, at: number): Promise<boolean>;
  removeReminder(id: SpaceId, identity: Identity): Promise<boolean>;
  countReminders(id: SpaceId): Promise<number>;
  /** Resolves when the store answers; for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
