/**
 * The client side of the join path's proof of work, for Node clients (the load tester's simulated
 * listeners, the tests): solve an ALTCHA challenge from GET /api/spaces/:id/challenge with
 * altcha-lib's own solver and encode the payload a join sends as `pow`. The web app does the same
 * with the WebCrypto flavour of the hash (web/app/src/pow.ts).
 */
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { Challenge } from 'altcha-lib/types';

/** Solves the challenge; the join body's `pow` (base64 of JSON {challenge, solution}). */
export async function solvePow(challenge: Challenge, timeoutMs = 60_000): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey, timeout: timeoutMs });
  if (!solution) throw new Error(`no solution within ${timeoutMs} ms`);
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
}
