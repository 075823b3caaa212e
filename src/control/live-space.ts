/**
 * LiveSpace: the in-memory truth of one space, held by the node that owns it. It changes only by
 * applying the same StoreOps that were just committed to the SpaceStore, so memory and disk cannot
 * drift apart. Changes to one space are serialised by its lock.
 */
import type { Identity } from '../ids.js';
import type { StoreOp } from '../store/space-store.js';
import type { Invite, Role, Space, SpaceSnapshot, StageMember, StageRequest, StageRole } from './model.js';

export class LiveSpace {
  // Mutable only here, through apply(); everyone else sees read-only views.
  private current: Space;
  private readonly members = new Map<Identity, StageMember>();
  private readonly pendingRequests = new Map<Identity, StageRequest>();
  private readonly pendingInvites = new Map<Identity, Invite>();
  private readonly removals = new Set<Identity>();
  private readonly demotions = new Map<Identity, number>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(snapshot: SpaceSnapshot) {
    this.current = snapshot.space;
    this.load(snapshot);
  }

  /** Takes the store's snapshot as the truth again (a node that takes a space over refreshes its copy). */
  reset(snapshot: SpaceSnapshot): void {
    this.current = snapshot.space;
    this.members.clear();
    this.pendingRequests.clear();
    this.pendingInvites.clear();
    this.removals.clear();
    this.demotions.clear();
    this.load(snapshot);
  }

  private load(snapshot: SpaceSnapshot): void {
    for (const m of snapshot.stage) this.members.set(m.identity, m);
    for (const r of snapshot.requests) this.pendingRequests.set(r.identity, r);
    for (const i of snapshot.invites) this.pendingInvites.set(i.identity, i);
    for (const r of snapshot.removals) this.removals.add(r.identity);
    for (const d of snapshot.demotions) this.demotions.set(d.identity, d.at);
  }

  get space(): Space {
    return this.current;
  }

  get stage(): ReadonlyMap<Identity, StageMember> {
    return this.members;
  }

  get requests(): ReadonlyMap<Identity, StageRequest> {
    return this.pendingRequests;
  }

  get invites(): ReadonlyMap<Identity, Invite> {
    return this.pendingInvites;
  }

  get removed(): ReadonlySet<Identity> {
    return this.removals;
  }

  /** Identity → when a moderator last moved it to the audience or dismissed it as co-host (epoch ms). */
  get demotedAt(): ReadonlyMap<Identity, number> {
    return this.demotions;
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
        this.current = { ...this.current, ...op.patch };
        return;
      case 'stage.put':
        this.members.set(op.member.identity, op.member);
        return;
      case 'stage.delete':
        this.members.delete(op.identity);
        return;
      case 'request.put':
        this.pendingRequests.set(op.request.identity, op.request);
        return;
      case 'request.delete':
        this.pendingRequests.delete(op.identity);
        return;
      case 'invite.put':
        this.pendingInvites.set(op.invite.identity, op.invite);
        return;
      case 'invite.delete':
        this.pendingInvites.delete(op.identity);
        return;
      case 'removal.put':
        this.removals.add(op.removal.identity);
        return;
      case 'demotion.put':
        this.demotions.set(op.demotion.identity, op.demotion.at);
        return;
      case 'action.append':
        return;
    }
  }
}
