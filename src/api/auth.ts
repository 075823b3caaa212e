/**
 * Bearer tokens on requests: `Authorization: Bearer <jwt>`. Every privileged request goes through
 * `actorOf`, which verifies the token on the spot (signature, expiry, claims).
 */
import type { FastifyRequest } from 'fastify';
import { type Actor, actorFromClaims } from '../control/actor.js';
import type { TokenAuthority, TokenClaims } from '../control/tokens.js';
import { fail } from '../errors.js';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer +([^ ]+) *$/i.exec(header);
  if (!match?.[1]) throw fail('token_invalid', 'The Authorization header must be "Bearer <token>".');
  return match[1];
}

export function optionalClaims(request: FastifyRequest, tokens: TokenAuthority): TokenClaims | undefined {
  const token = bearer(request);
  return token === undefined ? undefined : tokens.verify(token);
}

export function claimsOf(request: FastifyRequest, tokens: TokenAuthority): TokenClaims {
  const claims = optionalClaims(request, tokens);
  if (!claims) throw fail('token_missing');
  return claims;
}

export function actorOf(request: FastifyRequest, tokens: TokenAuthority): Actor {
  return actorFromClaims(claimsOf(request, tokens));
}

export function operatorOf(request: FastifyRequest, tokens: TokenAuthority): Actor {
  const actor = actorOf(request, tokens);
  if (!actor.operator) throw fail('permission_denied', 'This endpoint needs an operator token.');
  return actor;
}
