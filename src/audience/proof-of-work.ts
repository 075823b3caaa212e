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
 * - Several nodes (pow-coordination.ts): a solution admits one join in the whole cluster, the
 *   operator's switch set on one node is followed by all within a second, and in auto mode every
 *   node asks for the highest level any node's pressure called for.
 */
import { createChallenge, randomInt, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { Challenge, Payload } from 'altcha-lib/types';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';
import { LocalPowCoordination, type PowCoordination, type PowSetting } from './pow-coordination.js';

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
export class ProofOfWork {
  private mode: PowMode;
  /** This node's own level (its auto mode's, or the operator's). */
  private level: number;
  /** The highest level any node asks for (auto mode), as last heard. */
  private clusterLevel = 0;
  /** The operator's setting made here, not yet shared; and the newest one applied. */
  private unshared: PowSetting | undefined;
  private settingAt = 0;
  private eventsThisSecond = 0;
  private pressuredFor = 0;
  private calmFor = 0;

  constructor(
    private readonly secrets: { signature: string; key: string },
    private readonly options: PowOptions,
    private readonly now: () => number = Date.now,
    private readonly coordination: PowCoordination = new LocalPowCoordination(now),
  ) {
    this.mode = options.mode;
    this.level = options.mode === 'on' ? 1 : 0;
  }

  /** The level joins are asked for now: in auto mode, the highest of this node's and the cluster's. */
  private get effectiveLevel(): number {
    return this.mode === 'auto' ? Math.max(this.level, this.clusterLevel) : this.level;
  }

  get required(): boolean {
    return this.effectiveLevel > 0;
  }

  status(): PowStatus {
    return { mode: this.mode, required: this.required, level: this.effectiveLevel, difficulty: this.difficulty() };
  }

  /** The operator's switch: `on` at a level (default 1), `off`, or back to `auto`; every node follows it. */
  set(mode: PowMode, level?: number): PowStatus {
    this.apply(mode, level);
    this.settingAt = Math.max(this.now(), this.settingAt + 1);
    this.unshared = { mode, level: this.level, at: this.settingAt };
    if (mode !== 'auto') this.clusterLevel = 0;
    return this.status();
  }

  private apply(mode: PowMode, level?: number): void {
    this.mode = mode;
    this.level = mode === 'off' ? 0 : mode === 'on' ? Math.max(1, Math.min(MAX_LEVEL, level ?? 1)) : this.level;
    this.pressuredFor = 0;
    this.calmFor = 0;
  }

  /**
   * Once a second, after tick(): shares this node's level and the operator's setting made here, and
   * follows a newer setting made on another node and the cluster's highest level.
   */
  async share(): Promise<void> {
    const unshared = this.unshared;
    this.unshared = undefined;
    const { setting, clusterLevel } = await this.coordination.exchange(this.mode === 'auto' ? this.level : 0, unshared);
    if (setting && setting.at > this.settingAt) {
      this.settingAt = setting.at;
      this.apply(setting.mode, setting.level);
    }
    this.clusterLevel = clusterLevel;
  }

  /** A sign of pressure on the join path: a join shed, refused by the address limit, or unsolved. */
  notePressure(): void {
    this.eventsThisSecond++;
  }

  private difficulty(): number {
    const level = this.effectiveLevel;
    return level === 0 ? 0 : this.options.baseDifficulty * 4 ** (level - 1);
  }

  /** Call once a second (the server's timer): auto mode follows the pressure. */
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
    const expiresAt = challenge.parameters.expiresAt ?? Math.floor(this.now() / 1000) + CHALLENGE_TTL_S;
    if (!(await this.coordination.spend(challenge.signature, expiresAt))) throw fail('pow_used');
  }

  async close(): Promise<void> {
    await this.coordination.close();
  }
}
