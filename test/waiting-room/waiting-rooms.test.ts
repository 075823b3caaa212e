/**
 * The waiting room's contract on one node (the embedded default) and on three nodes sharing their
 * lines through a real redis-server; then what only sharing has: a ticket whose node is gone is let
 * in when it comes back, and a newcomer costs Redis nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RedisLineSharing } from '../../src/audience/redis-line-sharing.js';
import { WaitingRoom } from '../../src/audience/waiting-room.js';
import type { SpaceId } from '../../src/ids.js';
import { useRedis } from '../helpers/redis-nodes.js';
import { KEY, runWaitingRoomContract } from './waiting-room-contract.js';

const redis = useRedis();

async function redisNodes(count: number) {
  const { prefix, connections, disconnect } = await redis.connect(count, 'wr');
  // No timer: the tests share by hand.
  const sharings = connections.map((c, i) => new RedisLineSharing(c, `node-${i}`, prefix, 0));
  const dead = new Set<string>();
  return {
    dead,
    sharings,
    rooms: (rate: number) =>
      sharings.map(
        (sharing, i) =>
          new WaitingRoom(KEY, {
            rate,
            capacity: 0,
            listeners: () => 0,
            cluster: { node: `node-${i}`, rateShare: () => 1 / count, sharing, alive: (node: string) => !dead.has(node) },
          }),
      ),
    sync: async () => {
      for (const s of sharings) await s.sync();
    },
    cleanup: async () => {
      for (const s of sharings) await s.close();
      disconnect();
    },
  };
}

runWaitingRoomContract('one node', async () => ({
  rooms: (rate) => [new WaitingRoom(KEY, { rate, capacity: 0, listeners: () => 0 })],
  sync: async () => {},
  cleanup: async () => {},
}));
runWaitingRoomContract('redis, 3 nodes', () => redisNodes(3));

describe('waiting rooms sharing their lines through Redis', () => {
  test('newcomers cost Redis nothing; a ticket is not let in before its line was shared, and is once its node is gone', async () => {
    const c = await redisNodes(2);
    try {
      const [a, b] = c.rooms(2);
      const space = 'gone-node' as SpaceId;
      let queued = a!.arrive(space);
      for (let i = 0; i < 200 && queued.admit; i++) queued = a!.arrive(space);
      assert.equal(queued.admit, false);
      for (let i = 0; i < 500; i++) a!.arrive(space);
      assert.equal(c.sharings[0]!.commands, 0, 'no Redis command for 500 newcomers');
      if (queued.admit) return;
      const unheard = await b!.comeBack(space, queued.grant.ticket);
      assert.equal(unheard.admit, false, 'back on another node before its line was ever shared: not let in');
      await c.sync();
      const before = await b!.comeBack(space, queued.grant.ticket);
      assert.equal(before.admit, false, 'while its node lives, its line decides');
      // Node a dies (its registration lapses: it is no longer among the live nodes).
      await c.sharings[0]!.close();
      c.dead.add('node-0');
      const back = await b!.comeBack(space, queued.grant.ticket);
      assert.equal(back.admit, true);
    } finally {
      await c.cleanup();
    }
  });
});
