/**
 * The proof of work's shared state in Redis: a used solution is a key set only if absent
 * (`SET … NX EXAT` its challenge's expiry) — a join with a solution is already asynchronous and
 * costs its sender a solve, so one command each is affordable; the operator's setting is a hash
 * (replaced only by a newer one);
 * each node's own level is a field of another hash with the time it lapses (a node that died stops
 * counting after 3 s), all read and written in one pipeline a second.
 *
 * Redis away: solutions are remembered in this process (a solution could then be spent once on each
 * node until Redis is back, at most for its challenge's two minutes), and each node follows its own
 * auto mode and the last setting it saw.
 */
import type { Redis } from 'ioredis';
import { type PowCoordination, type PowSetting, UsedSolutions } from './pow-coordination.js';

/** A node's level counts this long after it last said it, ms. */
const LEVEL_FOR_MS = 3000;

/** KEYS: the setting's hash; ARGV: mode, level, at. Replaces the setting only with a newer one. */
const SET_IF_NEWER = `
local at = redis.call('HGET', KEYS[1], 'at')
if at and tonumber(at) > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'level', ARGV[2], 'at', ARGV[3])
return 1`;

export class RedisPowCoordination implements PowCoordination {
  readonly kind = 'redis';
  private readonly fallback = new UsedSolutions();
  private lastSetting: PowSetting | undefined;
  /** Commands sent (the bench and the tests read it). */
  commands = 0;

  constructor(
    private readonly redis: Redis,
    private readonly node: string,
    private readonly prefix = 'rostrum:pow:',
  ) {}

  async spend(signature: string, expiresAtS: number): Promise<boolean> {
    try {
      this.commands++;
      const set = await this.redis.set(`${this.prefix}used:${signature}`, '1', 'EXAT', Math.max(1, Math.ceil(expiresAtS)), 'NX');
      return set === 'OK';
    } catch {
      this.fallback.sweep(Date.now() / 1000);
      return this.fallback.spend(signature, expiresAtS);
    }
  }

  async exchange(ownLevel: number, setting?: PowSetting): Promise<{ setting: PowSetting | undefined; clusterLevel: number }> {
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    if (setting) pipeline.eval(SET_IF_NEWER, 1, `${this.prefix}setting`, setting.mode, setting.level, setting.at);
    pipeline.hset(`${this.prefix}levels`, this.node, `${ownLevel}|${now + LEVEL_FOR_MS}`);
    pipeline.hgetall(`${this.prefix}levels`);
    pipeline.hgetall(`${this.prefix}setting`);
    let results: Array<[Error | null, unknown]> | null;
    try {
      this.commands += setting ? 4 : 3;
      results = await pipeline.exec();
    } catch {
      results = null;
    }
    if (!results || results.some(([err]) => err)) {
      if (setting && (!this.lastSetting || setting.at >= this.lastSetting.at)) this.lastSetting = setting;
      return { setting: this.lastSetting, clusterLevel: ownLevel };
    }
    const levels = results.at(-2)![1] as Record<string, string>;
    let clusterLevel = ownLevel;
    const lapsed: string[] = [];
    for (const [node, value] of Object.entries(levels)) {
      const [level, until] = value.split('|').map(Number);
      if ((until ?? 0) < now) lapsed.push(node);
      else clusterLevel = Math.max(clusterLevel, level ?? 0);
    }
    if (lapsed.length > 0) void this.redis.hdel(`${this.prefix}levels`, ...lapsed).catch(() => undefined);
    const raw = results.at(-1)![1] as Record<string, string>;
    if (raw.mode === 'off' || raw.mode === 'on' || raw.mode === 'auto') {
      this.lastSetting = { mode: raw.mode, level: Number(raw.level) || 0, at: Number(raw.at) || 0 };
    }
    return { setting: this.lastSetting, clusterLevel };
  }

  async close(): Promise<void> {
    await this.redis.hdel(`${this.prefix}levels`, this.node).catch(() => undefined);
  }
}
