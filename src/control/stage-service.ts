/**
 * Stage and moderation: requests to speak, invitations, seats taken with a speaker token, mute and
 * unmute, move to audience, removal, co-hosts. Every rule comes from permissions.ts; every change is
 * one atomic commit with its moderation-log entry, then one or more typed events.
 */
import { fail } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import type { StoreOp } from '../store/space-store.js';
import { type Actor, roleIn } from './actor.js';
import type { AnyEvent, CommandRunner } from './commands.js';
import type { LiveSpace } from './live-space.js';
import { LIMITS, type StageMember, type StageRequest, type StageRole } from './model.js';
import { type Action, type ActorRole, authorize } from './permissions.js';

type Outcome<T> = { ops: StoreOp[]; events: AnyEvent[]; result: T };

export class StageService {
  /**
   * `clockSkewMs`: how far ahead of this server's clock a token's issuer may be (tokens.ts accepts
   * an `iat` up to that far in the future), so a token counts as issued after a demotion only if
   * its `iat` is later than the demotion by more than that.
   */
  constructor(
    private readonly runner: CommandRunner,
    private readonly clockSkewMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs one stage command: first who is asking (right space, not removed), then the space's state
   * (not ended; live where needed), then the command's own decision; `action` is logged.
   */
  private command<T>(
    id: SpaceId,
    actor: Actor,
    action: Action | 'stage.take_seat',
    target: Identity,
    decide: (live: LiveSpace, now: number, role: ActorRole) => Outcome<T>,
    opts: { needsLive?: boolean } = {},
  ): Promise<T> {
    return this.runner.run(id, (live) => {
      const role = roleIn(live, actor);
      if (live.space.state === 'ended') throw fail('space_ended');
      if (opts.needsLive && live.space.state !== 'live') throw fail('space_not_live');
      const now = this.now();
      const outcome = decide(live, now, role);
      if (outcome.ops.length === 0) return outcome;
      outcome.ops.push({ op: 'action.append', action: { at: now, actor: actor.identity, action, target } });
      return outcome;
    });
  }

  private member(live: LiveSpace, identity: Identity): StageMember {
    const m = live.stage.get(identity);
    if (!m) throw fail('participant_not_found');
    return m;
  }

  private seat(live: LiveSpace, member: StageMember): Outcome<StageMember> {
    if (member.role === 'speaker' && live.count('speaker') >= LIMITS.speaker) throw fail('stage_full');
    if (member.role === 'cohost' && live.count('cohost') >= LIMITS.cohost) throw fail('cohost_limit');
    return { ops: [{ op: 'stage.put', member }], events: [], result: member };
  }

  private stageChanged(live: LiveSpace, ops: StoreOp[]): AnyEvent {
    const preview = new Map(live.stage);
    for (const op of ops) {
      if (op.op === 'stage.put') preview.set(op.member.identity, op.member);
      if (op.op === 'stage.delete') preview.delete(op.identity);
    }
    return ['stage.changed', { spaceId: live.space.id, stage: [...preview.values()] }];
  }

  listRequests(id: SpaceId, actor: Actor): Promise<StageRequest[]> {
    return this.runner.run(id, (live) => {
      authorize('requests.view', roleIn(live, actor));
      return { ops: [], events: [], result: [...live.requests.values()] };
    });
  }

  requestToSpeak(id: SpaceId, actor: Actor): Promise<StageRequest> {
    return this.command(
      id,
      actor,
      'request.create',
      actor.identity,
      (live, now, role) => {
        authorize('request.create', role, { role: live.roleOf(actor.identity), self: true });
        const existing = live.requests.get(actor.identity);
        if (existing) return { ops: [], events: [], result: existing };
        if (live.requests.size >= LIMITS.requests) throw fail('request_queue_full');
        const request = { identity: actor.identity, name: actor.name, requestedAt: now };
        return {
          ops: [{ op: 'request.put', request }],
          events: [['request.created', { spaceId: id, identity: actor.identity, name: actor.name }]],
          result: request,
        };
      },
      { needsLive: true },
    );
  }

  cancelRequest(id: SpaceId, actor: Actor): Promise<void> {
    return this.command(id, actor, 'request.cancel', actor.identity, (live, _now, role) => {
      authorize('request.cancel', role, { role: live.roleOf(actor.identity), self: true });
      if (!live.requests.has(actor.identity)) throw fail('request_not_found');
      return {
        ops: [{ op: 'request.delete', identity: actor.identity }],
        events: [['request.resolved', { spaceId: id, identity: actor.identity, outcome: 'cancelled' }]],
        result: undefined,
      };
    });
  }

  resolveRequest(id: SpaceId, actor: Actor, target: Identity, approve: boolean): Promise<StageMember | null> {
    const action = approve ? 'request.approve' : 'request.decline';
    return this.command(
      id,
      actor,
      action,
      target,
      (live, now, role) => {
        authorize(action, role, { role: live.roleOf(target), self: target === actor.identity });
        const request = live.requests.get(target);
        if (!request) throw fail('request_not_found');
        const ops: StoreOp[] = [{ op: 'request.delete', identity: target }];
        const events: AnyEvent[] = [['request.resolved', { spaceId: id, identity: target, outcome: approve ? 'approved' : 'declined' }]];
        if (!approve) return { ops, events, result: null };
        const seat = this.seat(live, { identity: target, name: request.name, role: 'speaker', muted: true, joinedAt: now });
        ops.push(...seat.ops, { op: 'invite.delete', identity: target });
        events.push(this.stageChanged(live, ops));
        return { ops, events, result: seat.result };
      },
      { needsLive: approve },
    );
  }

  invite(id: SpaceId, actor: Actor, target: Identity): Promise<void> {
    return this.command(
      id,
      actor,
      'invite.create',
      target,
      (live, now, role) => {
        if (live.removed.has(target)) throw fail('invalid_target', 'That identity was removed from the space.');
        authorize('invite.create', role, { role: live.roleOf(target), self: target === actor.identity });
        return {
          ops: [{ op: 'invite.put', invite: { identity: target, invitedBy: actor.identity, invitedAt: now } }],
          events: [['invite.created', { spaceId: id, identity: target, by: actor.identity }]],
          result: undefined,
        };
      },
      { needsLive: true },
    );
  }

  respondToInvite(id: SpaceId, actor: Actor, accept: boolean): Promise<StageMember | null> {
    return this.command(id, actor, 'invite.respond', actor.identity, (live, now, role) => {
      authorize('invite.respond', role, { role: live.roleOf(actor.identity), self: true });
      const invite = live.invites.get(actor.identity);
      if (!invite) throw fail('invite_not_found');
      // A move to the audience after the invitation outranks it.
      if ((live.demotedAt.get(actor.identity) ?? -1) >= invite.invitedAt) throw fail('invite_not_found', 'The invitation was withdrawn.');
      const ops: StoreOp[] = [{ op: 'invite.delete', identity: actor.identity }];
      const events: AnyEvent[] = [
        ['invite.resolved', { spaceId: id, identity: actor.identity, outcome: accept ? 'accepted' : 'declined' }],
      ];
      if (!accept) return { ops, events, result: null };
      if (live.space.state !== 'live') throw fail('space_not_live');
      const seat = this.seat(live, { identity: actor.identity, name: actor.name, role: 'speaker', muted: true, joinedAt: now });
      ops.push(...seat.ops, { op: 'request.delete', identity: actor.identity });
      events.push(this.stageChanged(live, ops));
      return { ops, events, result: seat.result };
    });
  }

  /**
   * A token minted with role speaker or cohost takes its seat without approval (bots, guests the
   * operator booked). Idempotent for a reconnecting member. A moderator's move to the audience
   * outranks every token issued before it.
   */
  takeSeat(id: SpaceId, actor: Actor): Promise<StageMember> {
    return this.command(id, actor, 'stage.take_seat', actor.identity, (live, now) => {
      const current = live.stage.get(actor.identity);
      if (current) return { ops: [], events: [], result: current };
      const granted = actor.claims.role;
      if (granted !== 'speaker' && granted !== 'cohost') {
        throw fail('permission_denied', 'This token does not grant a stage seat; request to speak instead.');
      }
      const demoted = live.demotedAt.get(actor.identity);
      if (demoted !== undefined && actor.claims.iat * 1000 <= demoted + this.clockSkewMs) {
        throw fail(
          'permission_denied',
          `A moderator moved this identity to the audience; a token issued before then (or within the ${Math.round(this.clockSkewMs / 1000)} s allowed for clocks that differ) cannot seat it: it needs a new invitation.`,
        );
      }
      const seat = this.seat(live, { identity: actor.identity, name: actor.name, role: granted as StageRole, muted: true, joinedAt: now });
      const ops: StoreOp[] = [...seat.ops, ...this.clearPending(actor.identity)];
      return { ops, events: [this.stageChanged(live, ops)], result: seat.result };
    });
  }

  leave(id: SpaceId, actor: Actor): Promise<void> {
    return this.command(id, actor, 'stage.leave', actor.identity, (live, _now, role) => {
      if (role === 'host') throw fail('host_cannot_leave');
      if (role === 'listener' || role === 'operator') throw fail('not_on_stage');
      authorize('stage.leave', role, { role, self: true });
      const ops: StoreOp[] = [{ op: 'stage.delete', identity: actor.identity }, ...this.clearPending(actor.identity)];
      return { ops, events: [this.stageChanged(live, ops)], result: undefined };
    });
  }

  setMuted(id: SpaceId, actor: Actor, target: Identity, muted: boolean): Promise<StageMember> {
    const action = muted ? 'participant.mute' : 'participant.unmute';
    return this.command(id, actor, action, target, (live, _now, role) => {
      const member = this.member(live, target);
      authorize(action, role, { role: member.role, self: target === actor.identity });
      if (member.muted === muted) return { ops: [], events: [], result: member };
      const next = { ...member, muted };
      const ops: StoreOp[] = [{ op: 'stage.put', member: next }];
      const event: AnyEvent = muted
        ? ['participant.muted', { spaceId: id, identity: target, by: actor.identity }]
        : ['participant.unmuted', { spaceId: id, identity: target }];
      return { ops, events: [event, this.stageChanged(live, ops)], result: next };
    });
  }

  moveToAudience(id: SpaceId, actor: Actor, target: Identity): Promise<void> {
    return this.command(id, actor, 'participant.move_to_audience', target, (live, now, role) => {
      const member = this.member(live, target);
      authorize('participant.move_to_audience', role, { role: member.role, self: target === actor.identity });
      const ops: StoreOp[] = [
        { op: 'stage.delete', identity: target },
        { op: 'demotion.put', demotion: { identity: target, at: now } },
        ...this.clearPending(target),
      ];
      const events: AnyEvent[] = [
        ['participant.moved_to_audience', { spaceId: id, identity: target, by: actor.identity }],
        this.stageChanged(live, ops),
      ];
      return { ops, events, result: undefined };
    });
  }

  remove(id: SpaceId, actor: Actor, target: Identity): Promise<void> {
    return this.command(id, actor, 'participant.remove', target, (live, now, role) => {
      authorize('participant.remove', role, { role: live.roleOf(target), self: target === actor.identity });
      if (live.removed.has(target)) return { ops: [], events: [], result: undefined };
      const ops: StoreOp[] = [
        { op: 'removal.put', removal: { identity: target, removedBy: actor.identity, removedAt: now } },
        { op: 'stage.delete', identity: target },
        ...this.clearPending(target),
      ];
      const events: AnyEvent[] = [['participant.removed', { spaceId: id, identity: target, by: actor.identity }]];
      if (live.stage.has(target)) events.push(this.stageChanged(live, ops));
      return { ops, events, result: undefined };
    });
  }

  setCohost(id: SpaceId, actor: Actor, target: Identity, appoint: boolean): Promise<StageMember> {
    const action = appoint ? 'cohost.appoint' : 'cohost.dismiss';
    return this.command(id, actor, action, target, (live, now, role) => {
      const member = live.stage.get(target);
      authorize(action, role, { role: member?.role ?? 'listener', self: target === actor.identity });
      if (!member) throw fail('participant_not_found');
      const next: StageMember = { ...member, role: appoint ? 'cohost' : 'speaker' };
      if (appoint && live.count('cohost') >= LIMITS.cohost) throw fail('cohost_limit');
      if (!appoint && live.count('speaker') >= LIMITS.speaker) throw fail('stage_full');
      const ops: StoreOp[] = [{ op: 'stage.put', member: next }];
      // A dismissed co-host's old co-host token must not make them co-host again.
      if (!appoint) ops.push({ op: 'demotion.put', demotion: { identity: target, at: now } });
      return { ops, events: [this.stageChanged(live, ops)], result: next };
    });
  }

  /** Ops that drop an identity's pending request and invitation. */
  private clearPending(identity: Identity): StoreOp[] {
    return [
      { op: 'request.delete', identity },
      { op: 'invite.delete', identity },
    ];
  }
}
