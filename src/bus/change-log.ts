/**
 * ChangeLog: every committed change of a space, in order, for the nodes that do not own it. The owner
 * appends what it committed (the store ops) and what it published (the events) after each commit;
 * every other node follows the log and mirrors the changes into its read view of the space (a
 * LiveSpace that only ever applies ops) and publishes the events on its own bus, so its sockets, state
 * documents and join checks are current within a moment of the owner's.
 *
 * Implementations: local-change-log.ts (in process: the embedded default, where the only node owns
 * everything, and nodes in one process for tests), redis-change-log.ts (a Redis Stream). One contract
 * suite runs against both (test/change-log-contract.ts).
 */
import type { AnyEvent } from '../control/commands.js';
import type { SpaceId } from '../ids.js';
import type { StoreOp } from '../store/space-store.js';
import type { Disposer } from './bus.js';

export interface ChangeEntry {
  spaceId: SpaceId;
  /** The node that made the change, and the epoch it owned the space with (0 with no fencing). */
  node: string;
  epoch: number;
  /** Counts the owner's entries for this space and epoch from 1: a follower that sees a gap missed one. */
  seq: number;
  /** What was committed (empty for a change that is not durable, such as who is talking). */
  ops: StoreOp[];
  events: AnyEvent[];
}

export interface ChangeLog {
  readonly kind: string;
  /** Appends one change; entries of one node keep their order. Never throws or waits on the engine. */
  append(entry: ChangeEntry): void;
  /** Every entry other nodes append from now on, in order; `onGap` when some may have been missed (an engine outage). */
  follow(handler: (entry: ChangeEntry) => void, onGap?: () => void): Disposer;
  /** Entries that could not be appended (the engine away): other nodes' views of them are reloaded after the gap. */
  readonly dropped: number;
  /** Whether the engine answers now (readiness, metrics). */
  healthy(): boolean;
  close(): Promise<void>;
}
