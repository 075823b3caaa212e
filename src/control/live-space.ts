/**
 * LiveSpace: the in-memory truth of one space, held by the node that owns it. It changes only by
 * applying the same StoreOps that were just committed to the SpaceStore, so memory and disk cannot
 * drift apart. Changes to one space are serialised by its lock.
 */
import type { Identity } from '../ids.js';
import type { StoreOp } from '../store/space-store.js';
import type { Invite, Role, Space, SpaceSnapshot, StageMember, StageRequest, StageRole } from './model.js';

export class LiveSpace {
  space: Space;
  readonly stage = new Map<Identity, StageMember>();
  readonly requests = new Map<Identity, StageRequest>();
  readonly invites = new Map<Identity, Invite>();
  readonly removed = new Set<Identity>();
  /** Identity → when a moderator last moved it to the audience (epoch ms). */
  readonly demotedAt = new Map<Identity, number>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(snapshot: SpaceSnapshot) {
    this.space = snapshot.space;
    for (const m of snapshot.stage) this.stage.set(m.identity, m);
    for (const r of snapshot.requests) this.requests.set(r.identity, r);
    for (const i of snapshot.invites) this.invites.set(i.identity, i);
    for (const r of snapshot.removals) this.removed.add(r.identity);
    for (const d of snapshot.demotions) this.demotedAt.set(d.identity, d.at);
  }

  /** The role an identity holds now: its stage role, or listener. */
  roleOf(identity: Identity): Role {
    return this.stage.get(identity)?.role ?? 'listener';
  }

  count(role: StageRole): number {
    let n = 0;
    for (const m of this.stage.values()) if (m.role === role) n++;
    return n;
  }

  /** The stage in display order: host, co-hosts, speakers; each by the time they joined. */
  stageList(): StageMember[] {
    const rank: Record<StageRole, number> = { host: 0, cohost: 1, speaker: 2 };
    return [...this.stage.values()].sort((a, b) => rank[a.role] - rank[b.role] || a.joinedAt - b.joinedAt);
  }

  /** Runs `fn` after every earlier locked call on this space has finished. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Mirrors a committed StoreOp in memory. */
  apply(op: StoreOp): void {
    switch (op.op) {
      case 'space.update':
        this.space = { ...this.space, ...op.patch };
        return;
      case 'stage.put':
        this.stage.set(op.member.identity, op.member);
        return;
      case 'stage.delete':
        this.stage.delete(op.identity);
        return;
      case 'request.put':
        this.requests.set(op.request.identity, op.request);
        return;
      case 'request.delete':
        this.requests.delete(op.identity);
        return;
      case 'invite.put':
        this.invites.set(op.invite.identity, op.invite);
        return;
      case 'invite.delete':
        this.invites.delete(op.identity);
        return;
      case 'removal.put':
        this.removed.add(op.removal.identity);
        return;
      case 'demotion.put':
        this.demotedAt.set(op.demotion.identity, op.demotion.at);
        return;
      case 'action.append':
        return;
    }
  }
}
