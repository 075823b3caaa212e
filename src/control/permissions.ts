/**
 * Who may do what in a space, as one table. The server checks every stage and moderation action
 * against it; test/permissions.test.ts drives every role × action through the HTTP API.
 *
 * `by` says which acting roles may take the action and, for actions aimed at another person, on which
 * target roles. `self` says which roles may take it on themselves. `operator` is the API-key holder
 * (the CLI, the operator's backend): it has the host's powers, never more — it cannot unmute anyone.
 */
import { fail } from '../errors.js';
import type { Role } from './model.js';

export type ActorRole = Role | 'operator';

export const ACTIONS = [
  'space.start',
  'space.end',
  'space.update',
  'cohost.appoint',
  'cohost.dismiss',
  'requests.view',
  'log.view',
  'request.create',
  'request.cancel',
  'request.approve',
  'request.decline',
  'invite.create',
  'invite.respond',
  'participant.mute',
  'participant.unmute',
  'participant.move_to_audience',
  'participant.remove',
  'stage.leave',
  'reaction.send',
  'reminder.register',
  'link.pin',
  'analytics.view',
  'audience.view',
  'replay.edit',
] as const;
export type Action = (typeof ACTIONS)[number];

interface Rule {
  /** Acting role → true (no target) or the target roles it may act on. */
  by?: Partial<Record<ActorRole, true | readonly Role[]>>;
  /** Roles that may take this action on themselves. */
  self?: readonly Role[];
}

const MODERATORS = { host: true, cohost: true, operator: true } as const;
const HOST_ONLY = { host: true, operator: true } as const;
const ON_STAGE: readonly Role[] = ['host', 'cohost', 'speaker'];
const EVERYONE: readonly Role[] = ['host', 'cohost', 'speaker', 'listener'];

export const PERMISSIONS: Record<Action, Rule> = {
  'space.start': { by: HOST_ONLY },
  'space.end': { by: HOST_ONLY },
  'space.update': { by: HOST_ONLY },
  'cohost.appoint': { by: { host: ['speaker'], operator: ['speaker'] } },
  'cohost.dismiss': { by: { host: ['cohost'], operator: ['cohost'] } },
  'requests.view': { by: MODERATORS },
  'log.view': { by: MODERATORS },
  'link.pin': { by: MODERATORS },
  'analytics.view': { by: MODERATORS },
  'audience.view': { by: MODERATORS },
  // Trimming the replay, deleting the recording: the host's (or the operator's), as ending the space is.
  'replay.edit': { by: HOST_ONLY },
  'request.create': { self: ['listener'] },
  'request.cancel': { self: ['listener'] },
  'request.approve': { by: { host: ['listener'], cohost: ['listener'], operator: ['listener'] } },
  'request.decline': { by: { host: ['listener'], cohost: ['listener'], operator: ['listener'] } },
  'invite.create': { by: { host: ['listener'], cohost: ['listener'], operator: ['listener'] } },
  'invite.respond': { self: ['listener'] },
  // Hosts and co-hosts may mute anyone on stage; everyone on stage may mute themself.
  'participant.mute': { by: { host: ON_STAGE, cohost: ON_STAGE, operator: ON_STAGE }, self: ON_STAGE },
  // Unmuting is only ever done by the person themself.
  'participant.unmute': { self: ON_STAGE },
  'participant.move_to_audience': {
    by: { host: ['cohost', 'speaker'], cohost: ['speaker'], operator: ['cohost', 'speaker'] },
  },
  'participant.remove': {
    by: {
      host: ['cohost', 'speaker', 'listener'],
      cohost: ['speaker', 'listener'],
      operator: ['cohost', 'speaker', 'listener'],
    },
  },
  'stage.leave': { self: ['cohost', 'speaker'] },
  'reaction.send': { self: EVERYONE },
  'reminder.register': { self: EVERYONE },
};

/** True when `actor` may take `action` (on `target`, who is the actor when `self`). */
export function isAllowed(action: Action, actor: ActorRole, target?: { role: Role; self: boolean }): boolean {
  const rule = PERMISSIONS[action];
  if (target?.self && actor !== 'operator' && rule.self?.includes(actor)) return true;
  const grant = rule.by?.[actor];
  if (grant === undefined) return false;
  if (grant === true) return true;
  if (!target || target.self) return false;
  return grant.includes(target.role);
}

/** Throws the coded 403 when the action is not allowed. */
export function authorize(action: Action, actor: ActorRole, target?: { role: Role; self: boolean }): void {
  if (isAllowed(action, actor, target)) return;
  if (action === 'participant.unmute') throw fail('unmute_others_forbidden');
  throw fail('permission_denied', `A ${actor} may not ${describe(action)}${target && !target.self ? ` a ${target.role}` : ''}.`);
}

function describe(action: Action): string {
  return action.replace('.', ' ').replace(/_/g, ' ');
}
