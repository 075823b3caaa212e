/**
 * The browser's side of the join path's proof of work: when joins need one (`pow_required`, the
 * server is under attack), fetch a challenge, solve it with altcha-lib and the WebCrypto SHA-256
 * (needs a secure context: https, or localhost), and hand back the payload the join sends as `pow`.
 * At the normal level this is well under a second on a laptop; the page says what it is doing.
 */
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/web/sha';
import type { Challenge } from 'altcha-lib/types';
import { api } from './api.js';

export async function provePresence(spaceId: string): Promise<string> {
  const { challenge } = await api<{ challenge: Challenge }>('GET', `/api/spaces/${spaceId}/challenge`);
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 120_000 });
  if (!solution) throw new Error('The check took too long; reload to try again.');
  return btoa(JSON.stringify({ challenge, solution }));
}
