/**
 * The join path's proof of work under attack (DESIGN's sixth defence): a self-hosted ALTCHA
 * challenge (altcha-lib, SHA-256) that a joiner must solve before its join counts. No third-party
 * service: challenges are made and verified here, signed with a key derived from the API secret.
 *
 * - A challenge is bound to its space, expires after two minutes, and admits one join: a verified
 *   solution's signature is remembered until the challenge would have expired (replay refused).
 * - Deterministic mode: the server picks the answer (a counter) and signs the key it yields, so
 *   checking a solution is two HMACs, not a search; the joiner searches counters from 0 upwards.
 *   Difficulty is the largest counter: expected work is about three quarters of it.
 * - `auto` mode switches itself on under sustained pressure (joins shed, refused by the per-address
 *   limit, or arriving without a solution) and raises the difficulty while pressure lasts; after a
 *   calm minute it steps down a level, and off after the last. `on` keeps it at the operator's level.
 */
import { createChallenge, randomInt, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { Challenge, Payload } from 'altcha-lib/types';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';

export type PowMode = 'off' | 'auto' | 'on';

export interface PowStatus {
  mode: PowMode;
  /** Whether joins need a solution now. */
  required: boolean;
  /** 0 = off; each level multiplies the work by four. */
  level: number;
  /** The largest counter a challenge may hide at this level (0 when off). */
  difficulty: number;
}

export interface PowOptions {
  mode: PowMode;
  /** Largest counter at level 1. */
  baseDifficulty: number;
  /** Pressure events in a second that make it a pressured second (auto mode). */
  pressurePerSecond?: number;
}

export const MAX_LEVEL = 5;
const CHALLENGE_TTL_S = 120;
/** Seconds of pressure before auto mode switches on, and then per further level. */
const ON_AFTER_S = 3;
const LEVEL_UP_EVERY_S = 10;
/** Calm seconds per level stepped down. */
const LEVEL_DOWN_EVERY_S = 60;
/** Used solutions remembered at most (each cost its sender a solve); beyond it joins are shed. */
const MAX_REMEMBERED = 2_000_000;

export class ProofOfWork {
  private mode: PowMode;
  private level: number;
  private readonly used = new Map<string, number>();
  private eventsThisSecond = 0;
  private pressuredFor = 0;
  private calmFor = 0;

  constructor(
    private readonly secrets: { signature: string; key: string },
    private readonly options: PowOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.mode = options.mode;
    this.level = options.mode === 'on' ? 1 : 0;
  }

  get required(): boolean {
    return this.level > 0;
  }

  status(): PowStatus {
    return { mode: this.mode, required: this.required, level: this.level, difficulty: this.difficulty() };
  }

  /** The operator's switch: `on` at a level (default 1), `off`, or back to `auto`. */
  set(mode: PowMode, level?: number): PowStatus {
    this.mode = mode;
    this.level = mode === 'off' ? 0 : mode === 'on' ? Math.max(1, Math.min(MAX_LEVEL, level ?? 1)) : this.level;
    this.pressuredFor = 0;
    this.calmFor = 0;
    return this.status();
  }

  /** A sign of pressure on the join path: a join shed, refused by the address limit, or unsolved. */
  notePressure(): void {
    this.eventsThisSecond++;
  }

  private difficulty(): number {
    return this.level === 0 ? 0 : this.options.baseDifficulty * 4 ** (this.level - 1);
  }

  /** Call once a second (the server's timer): auto mode follows the pressure; used solutions past their expiry are forgotten. */
  tick(): void {
    const pressured = this.eventsThisSecond >= (this.options.pressurePerSecond ?? 20);
    this.eventsThisSecond = 0;
    if (pressured) {
      this.pressuredFor++;
      this.calmFor = 0;
    } else {
      this.calmFor++;
      this.pressuredFor = 0;
    }
    if (this.mode === 'auto') {
      if (pressured && this.level === 0 && this.pressuredFor >= ON_AFTER_S) this.level = 1;
      else if (pressured && this.level > 0 && this.pressuredFor % LEVEL_UP_EVERY_S === 0) this.level = Math.min(MAX_LEVEL, this.level + 1);
      else if (!pressured && this.level > 0 && this.calmFor % LEVEL_DOWN_EVERY_S === 0) this.level--;
    }
    const nowS = this.now() / 1000;
    for (const [signature, expiresAt] of this.used) {
      // Kept in the order they were used, which is nearly expiry order (every challenge lives as
      // long): one not yet expired stops the sweep, so an entry goes at most one lifetime late.
      if (expiresAt >= nowS) break;
      this.used.delete(signature);
    }
  }

  /** A fresh challenge for a joiner of this space, at the current difficulty (level 1 when off). */
  async challenge(space: SpaceId): Promise<Challenge & { signature: string }> {
    const max = this.difficulty() || this.options.baseDifficulty;
    const challenge = await createChallenge({
      algorithm: 'SHA-256',
      cost: 1,
      counter: randomInt(max, Math.ceil(max / 2)),
      deriveKey,
      data: { space },
      expiresAt: Math.floor(this.now() / 1000) + CHALLENGE_TTL_S,
      hmacSignatureSecret: this.secrets.signature,
      hmacKeySignatureSecret: this.secrets.key,
    });
    const { signature } = challenge;
    if (signature === undefined) throw new Error('altcha-lib returned an unsigned challenge');
    return { ...challenge, signature };
  }

  /**
   * Checks a join's solution (base64 of the ALTCHA payload: the challenge and the solution) and
   * spends it. Throws a coded error for a malformed, forged, expired, wrong-space or used one.
   */
  async verify(space: SpaceId, encoded: string): Promise<void> {
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Payload;
    } catch {
      throw fail('pow_invalid', 'The proof of work is not base64 of a JSON ALTCHA payload.');
    }
    const challenge = payload?.challenge;
    if (typeof challenge?.signature !== 'string' || typeof challenge.parameters !== 'object' || challenge.parameters === null) {
      throw fail('pow_invalid', 'The proof of work has no signed challenge.');
    }
    const result = await verifySolution({
      challenge,
      solution: payload.solution,
      deriveKey,
      hmacSignatureSecret: this.secrets.signature,
      hmacKeySignatureSecret: this.secrets.key,
    }).catch(() => ({ verified: false, expired: false }));
    if (result.expired) throw fail('pow_expired');
    if (!result.verified) throw fail('pow_invalid');
    if (challenge.parameters.data?.space !== space) throw fail('pow_invalid', 'The proof of work was for another space.');
    if (this.used.has(challenge.signature)) throw fail('pow_used');
    if (this.used.size >= MAX_REMEMBERED) throw fail('overloaded', 'Too many joins to remember; retry after Retry-After.', 5);
    this.used.set(challenge.signature, challenge.parameters.expiresAt ?? Math.floor(this.now() / 1000) + CHALLENGE_TTL_S);
  }
}
