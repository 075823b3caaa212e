/**
 * Actor: who is asking, from a verified token, and the role that gives them in one space.
 */
import { fail } from '../errors.js';
import type { Identity } from '../ids.js';
import type { LiveSpace } from './live-space.js';
import type { ActorRole } from './permissions.js';
import type { TokenClaims } from './tokens.js';

export interface Actor {
  identity: Identity;
  name: string;
  operator: boolean;
  claims: TokenClaims;
}

export function actorFromClaims(claims: TokenClaims): Actor {
  return { identity: claims.sub, name: claims.name ?? claims.sub, operator: claims.operator === true, claims };
}

/**
 * The actor's role in this space. Checks, in order: the token is for this space, and the identity
 * has not been removed from it. An operator token acts with the host's powers in every space.
 */
export function roleIn(live: LiveSpace, actor: Actor): ActorRole {
  if (actor.operator) return 'operator';
  if (actor.claims.space !== live.space.id) throw fail('token_wrong_space');
  if (live.removed.has(actor.identity)) throw fail('identity_removed');
  const role = live.roleOf(actor.identity);
  // Host powers need a host token: a listener token for the host's identity (say, one re-minted by
  // join) must not carry them.
  if (role === 'host' && actor.claims.role !== 'host') {
    throw fail('permission_denied', "This identity hosts the space; act as host with the host's token.");
  }
  return role;
}
