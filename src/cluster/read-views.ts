/**
 * The change log's two ends on a node.
 *
 * `ChangeFeed` (the owner's end): after each commit, what was committed and published goes on the
 * change log with the owner's epoch and a sequence number per space, and so do the changes that are
 * not durable but that other nodes show (who is talking, a recording made).
 *
 * `ReadViews` (every other node's end): each entry about a space this node does not run is applied to
 * its copy of that space (if it holds one; otherwise the next use loads it from the store) and its
 * events are published on this node's bus, so its state documents, join checks and pages are
 * current within a moment of the owner's. A copy that may have missed an entry — a gap in a space's
 * sequence, or the log away for a while — is reloaded from the store (kept as it is while the store
 * is away). Every live space has a copy on every node, so its listeners are answered anywhere even
 * while the store is away.
 */
import type { Bus, Disposer } from '../bus/bus.js';
import type { ChangeLog } from '../bus/change-log.js';
import type { AnyEvent } from '../control/commands.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { SpaceId } from '../ids.js';
import type { StoreOp } from '../store/space-store.js';
import type { Ownership } from './ownership.js';

export class ChangeFeed {
  private readonly seq = new Map<string, number>();

  constructor(
    private readonly log: ChangeLog,
    private readonly ownership: Ownership,
  ) {}

  /** Puts one change of a space this node runs on the log. */
  share(spaceId: SpaceId, ops: StoreOp[], events: AnyEvent[]): void {
    if (ops.length === 0 && events.length === 0) return;
    const epoch = this.ownership.fence(spaceId)?.epoch ?? 0;
    const key = `${spaceId}|${epoch}`;
    const seq = (this.seq.get(key) ?? 0) + 1;
    this.seq.set(key, seq);
    this.log.append({ spaceId, node: this.ownership.node.id, epoch, seq, ops, events });
  }

  /** Forgets a space's numbering (it ended, or moved to another node). */
  forget(spaceId: SpaceId): void {
    for (const key of this.seq.keys()) if (key.startsWith(`${spaceId}|`)) this.seq.delete(key);
  }
}

export class ReadViews {
  /** The last sequence number seen per space, with the node and epoch it came from. */
  private readonly last = new Map<SpaceId, { from: string; seq: number }>();
  private readonly talkingNow = new Map<SpaceId, Set<string>>();
  private readonly dispose: Disposer;
  /** Copies reloaded for a possible gap (metrics). */
  reloads = 0;

  constructor(
    log: ChangeLog,
    private readonly registry: SpaceRegistry,
    private readonly bus: Bus,
    private readonly ownership: Ownership,
  ) {
    this.dispose = log.follow(
      (entry) => {
        const id = entry.spaceId;
        if (this.ownership.owns(id)) return; // this node runs it now: its own truth wins
        const from = `${entry.node}|${entry.epoch}`;
        const last = this.last.get(id);
        const live = this.registry.peek(id);
        if (live && last && last.from === from && entry.seq !== last.seq + 1) {
          this.drop(id); // missed one: reload on next use
        } else if (live) {
          for (const op of entry.ops) live.apply(op);
        }
        this.last.set(id, { from, seq: entry.seq });
        for (const [name, payload] of entry.events) {
          if (name === 'space.live' && !live) void this.registry.find(id).catch(() => undefined);
          if (name === 'participant.talking') this.noteTalking(payload as { spaceId: SpaceId; identity: string; talking: boolean });
          if (name === 'space.ended') this.talkingNow.delete(id);
          this.bus.publish(name, payload as never);
        }
      },
      () => {
        // The log was away: any copy of another node's space may be behind.
        for (const live of [...this.registry.all()]) if (!this.ownership.owns(live.space.id)) this.drop(live.space.id);
        this.talkingNow.clear();
      },
    );
  }

  /** Who is talking on a space another node runs, as its owner last said. */
  talking(id: SpaceId): string[] {
    return [...(this.talkingNow.get(id) ?? [])];
  }

  private noteTalking({ spaceId, identity, talking }: { spaceId: SpaceId; identity: string; talking: boolean }): void {
    let set = this.talkingNow.get(spaceId);
    if (!set) {
      set = new Set();
      this.talkingNow.set(spaceId, set);
    }
    if (talking) set.add(identity);
    else set.delete(identity);
  }

  /** Reloads a copy that may have missed a change; keeps it as it is when the store does not answer. */
  private drop(id: SpaceId): void {
    this.reloads++;
    this.last.delete(id);
    void this.registry.refresh(id).catch(() => undefined);
  }

  /**
   * Holds a copy of every live space (at start, and each space that goes live), so that this node
   * answers their listeners — joins, heartbeats, the state document — even while the store is away.
   */
  async preload(list: () => Promise<SpaceId[]>): Promise<void> {
    for (const id of await list()) await this.registry.find(id).catch(() => undefined);
  }

  close(): void {
    this.dispose();
  }
}
