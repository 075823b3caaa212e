/**
 * Proof-of-work coordination: the contract in one process (the embedded default) and on three nodes
 * through a real redis-server; then what only Redis has: a node that stops saying its level stops
 * raising the cluster's, and with Redis away each node still refuses a solution it saw used.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalPowCoordination } from '../../src/audience/pow-coordination.js';
import { RedisPowCoordination } from '../../src/audience/redis-pow-coordination.js';
import { waitReady } from '../../src/cluster/redis-connection.js';
import { useRedis } from '../helpers/redis-nodes.js';
import { runPowContract } from './pow-contract.js';

const redis = useRedis();

async function redisNodes(count: number) {
  const { prefix, connections, disconnect } = await redis.connect(count, 'pow');
  const nodes = connections.map((c, i) => new RedisPowCoordination(c, `node-${i}`, prefix));
  return {
    nodes,
    connections,
    cleanup: async () => {
      for (const n of nodes) await n.close();
      disconnect();
    },
  };
}

runPowContract('local', async () => ({ nodes: [new LocalPowCoordination()], cleanup: async () => {} }));
runPowContract('redis, 3 nodes', () => redisNodes(3));

describe('proof-of-work coordination on Redis', () => {
  test('a node that stops saying its level (it died) stops raising the cluster level within 3 s', async () => {
    const c = await redisNodes(2);
    try {
      await c.nodes[0]!.exchange(4);
      assert.equal((await c.nodes[1]!.exchange(0)).clusterLevel, 4);
      await sleep(3200);
      assert.equal((await c.nodes[1]!.exchange(0)).clusterLevel, 0);
    } finally {
      await c.cleanup();
    }
  });

  test('Redis away: a solution used on a node is still refused there; the state is shared again once it is back', async () => {
    const c = await redisNodes(2);
    try {
      await redis.server.stop();
      try {
        const expires = Math.floor(Date.now() / 1000) + 120;
        assert.equal(await c.nodes[0]!.spend('away-1', expires), true);
        assert.equal(await c.nodes[0]!.spend('away-1', expires), false, 'refused on the node that saw it');
        const { clusterLevel } = await c.nodes[0]!.exchange(2);
        assert.equal(clusterLevel, 2, 'its own level still holds');
      } finally {
        await redis.server.start();
      }
      for (const connection of c.connections) assert.ok(await waitReady(connection), 'reconnected');
      const sig = `after-${Date.now()}`;
      assert.equal(await c.nodes[0]!.spend(sig, Math.floor(Date.now() / 1000) + 120), true);
      assert.equal(await c.nodes[1]!.spend(sig, Math.floor(Date.now() / 1000) + 120), false, 'shared again');
    } finally {
      await c.cleanup();
    }
  });
});
