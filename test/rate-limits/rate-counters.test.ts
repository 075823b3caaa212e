/**
 * Rate counters: the contract on one node's counter (the embedded default) and on counters shared
 * by three nodes through a real redis-server; then what only sharing has: a listener's occasional
 * request costs Redis nothing, and with Redis away each node still limits alone, adding what it
 * counted meanwhile when Redis is back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateCounter } from '../../src/api/rate-counter.js';
import { RedisRateSync } from '../../src/api/shared-rate-counter.js';
import { waitReady } from '../../src/cluster/redis-connection.js';
import { useRedis } from '../helpers/redis-nodes.js';
import { type RateNodes, runRateCounterContract } from './rate-counter-contract.js';

const redis = useRedis();

async function redisNodes(count: number) {
  const { prefix, connections, disconnect } = await redis.connect(count, 'rl');
  // No timer: the tests share by hand.
  const syncs = connections.map((c) => new RedisRateSync(c, () => count, prefix, 0));
  return {
    syncs,
    prefix,
    connections,
    counters: (max: number, windowMs: number, capacity: number) => syncs.map((s) => s.factory('limit', max, windowMs, capacity)),
    sync: async () => {
      for (const s of syncs) await s.sync();
    },
    cleanup: async () => {
      for (const s of syncs) s.close();
      disconnect();
    },
  } satisfies RateNodes & Record<string, unknown>;
}

runRateCounterContract('local', async () => ({
  counters: (max, windowMs, capacity) => [new RateCounter(max, windowMs, capacity)],
  sync: async () => {},
  cleanup: async () => {},
}));
runRateCounterContract('redis, 3 nodes', () => redisNodes(3));

describe('rate counters shared through Redis', () => {
  test('10,000 listeners joining once each through 3 nodes cost Redis nothing; an address hammering is shared', async () => {
    const c = await redisNodes(3);
    try {
      const counters = c.counters(100, 10_000, 100_000);
      for (let i = 0; i < 10_000; i++) counters[i % 3]!.hit(`10.0.${i >> 8}.${i & 255}`, Date.now());
      await c.sync();
      const keys = c.syncs.reduce((n, s) => n + s.stats.keys, 0);
      assert.equal(keys, 0, 'no key was shared');
      for (let i = 0; i < 60; i++) counters[i % 3]!.hit('203.0.113.9', Date.now());
      await c.sync();
      assert.equal(
        c.syncs.reduce((n, s) => n + s.stats.keys, 0),
        3,
        'the hammering address, once per node',
      );
    } finally {
      await c.cleanup();
    }
  });

  test('Redis away: each node limits alone; what it counted meanwhile is added when Redis is back', async () => {
    const c = await redisNodes(3);
    try {
      const counters = c.counters(20, 60_000, 1000);
      const key = 'away';
      for (const counter of counters) for (let i = 0; i < 4; i++) counter.hit(key, Date.now());
      await c.sync();
      await redis.server.stop();
      let allowedAway = 0;
      try {
        for (let i = 0; i < 30; i++) if (counters[0]!.hit(key, Date.now()) === 0) allowedAway++;
        await c.sync(); // fails: kept for later
        assert.ok(allowedAway <= 20 - 4, `node 0 alone still limits: ${allowedAway} allowed`);
      } finally {
        await redis.server.start();
      }
      for (const conn of c.connections) await waitReady(conn);
      await c.sync();
      // This Redis keeps nothing on disk: what was counted before went with it; node 0's 30 are added.
      const stored = Number(await c.connections[0]!.get(`${c.prefix}limit:${key}`));
      assert.equal(stored, 30, 'what node 0 counted while Redis was away');
      counters[1]!.hit(key, Date.now());
      await c.sync();
      assert.ok(counters[1]!.hit(key, Date.now()) > 0, 'and the other nodes learn it');
    } finally {
      await c.cleanup();
    }
  });
});
