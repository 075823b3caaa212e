/**
 * Crowd: the contract on one node's counters (the embedded default) and on Redis (three nodes on a
 * real redis-server), then what only Redis has: a join costs Redis nothing of its own (batched), and
 * counts survive Redis going away and reconcile when it is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalCrowd } from '../src/audience/crowd.js';
import { RedisCrowd } from '../src/audience/redis-crowd.js';
import { connectRedis, waitReady } from '../src/cluster/redis-connection.js';
import type { SpaceId } from '../src/ids.js';
import { runCrowdContract } from './crowd-contract.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.destroy());

const WINDOW_MS = 2000;
let clusters = 0;

async function redisNodes(count: number) {
  const prefix = `t${process.pid}-${++clusters}:`;
  const connections = Array.from({ length: count }, (_, i) => connectRedis(redis.url, `crowd-${i}`));
  for (const c of connections) await waitReady(c);
  // A flush interval far longer than a test: the tests flush by hand.
  const nodes = connections.map((c) => new RedisCrowd(c, { windowMs: WINDOW_MS, flushMs: 3_600_000, prefix }));
  return {
    nodes,
    windowMs: WINDOW_MS,
    cleanup: async () => {
      for (const n of nodes) await n.close();
      for (const c of connections) c.disconnect();
    },
  };
}

runCrowdContract('local', async () => ({ nodes: [new LocalCrowd(WINDOW_MS)], windowMs: WINDOW_MS, cleanup: async () => {} }));
runCrowdContract('redis', () => redisNodes(3));

describe('Crowd on Redis', () => {
  test('joins and heartbeats are batched: 30,000 sightings on 3 nodes cost at most 0.01 Redis commands each', async () => {
    const c = await redisNodes(3);
    try {
      const space = 'batched' as SpaceId;
      for (let second = 0; second < 5; second++) {
        for (let i = 0; i < 6000; i++) c.nodes[i % 3]!.seen(space, `l-${i}`, Date.now(), second === 0);
        for (const n of c.nodes) await n.flush();
      }
      const commands = c.nodes.reduce((sum, n) => sum + n.stats.commands, 0);
      console.log(`# ${commands} Redis commands for 30,000 sightings: ${(commands / 30_000).toFixed(4)} per sighting`);
      assert.ok(commands / 30_000 <= 0.01, `${commands} commands`);
    } finally {
      await c.cleanup();
    }
  });

  test('Redis away: each node still counts (never below what it showed); what it saw while away is merged when Redis is back', async () => {
    const c = await redisNodes(2);
    try {
      const [a, b] = c.nodes as [RedisCrowd, RedisCrowd];
      const space = 'outage' as SpaceId;
      for (let i = 0; i < 1000; i++) (i % 2 ? a : b).seen(space, `before-${i}`, Date.now(), true);
      for (const n of c.nodes) await n.flush();
      for (const n of c.nodes) await n.flush();
      const shown = a.listeners(space, Date.now());
      assert.ok(shown >= 980, `${shown}`);
      await redis.stop();
      try {
        for (let i = 0; i < 500; i++) a.seen(space, `during-${i}`, Date.now(), true);
        await a.flush();
        assert.ok(a.listeners(space, Date.now()) >= shown, 'not below what it showed');
        assert.ok(b.listeners(space, Date.now()) > 0);
      } finally {
        await redis.start();
      }
      // Redis restarted empty (no persistence): the next sightings and the kept batch bring it back.
      for (const conn of [a, b]) await waitReady((conn as unknown as { redis: Parameters<typeof waitReady>[0] }).redis, 5000);
      for (let i = 0; i < 1000; i++) (i % 2 ? a : b).seen(space, `before-${i}`, Date.now(), false);
      for (const n of c.nodes) await n.flush();
      for (const n of c.nodes) await n.flush();
      const merged = b.listeners(space, Date.now());
      assert.ok(Math.abs(merged - 1500) / 1500 <= 0.03, `node b counts ${merged} after Redis came back (1,500 listening)`);
      assert.equal(a.stats.dropped + b.stats.dropped, 0);
    } finally {
      await c.cleanup();
    }
  });
});
