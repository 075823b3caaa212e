/**
 * Ownership: the contract on the embedded default (one node owns everything) and on Redis (three
 * nodes on a real redis-server and one store), then what only leases have: take-over from a node
 * that stopped or died, a paused owner that wakes up refused by its epoch, two nodes racing for one
 * space, and Redis going away and coming back empty.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalOwnership } from '../../src/cluster/local-ownership.js';
import { rank } from '../../src/cluster/ownership.js';
import { connectRedis } from '../../src/cluster/redis-connection.js';
import { RedisOwnership, type RedisOwnershipOptions } from '../../src/cluster/redis-ownership.js';
import { RostrumError } from '../../src/errors.js';
import type { SpaceId } from '../../src/ids.js';
import { SqliteSpaceStore } from '../../src/store/sqlite/sqlite-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';
import { addSpace, runOwnershipContract } from './ownership-contract.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.destroy());

let clusters = 0;
async function redisCluster(count: number, options: RedisOwnershipOptions = {}) {
  const store = new SqliteSpaceStore(path.join(tempDir('rostrum-own-'), 'rostrum.db'));
  const prefix = `t${process.pid}-${++clusters}:`; // each cluster its own keys on the one server
  const connections = Array.from({ length: count }, (_, i) => connectRedis(redis.url, `own-${i}`));
  const nodes = connections.map(
    (c, i) => new RedisOwnership({ id: `node-${i}`, url: `http://10.0.0.${i + 1}:8080` }, c, store, { prefix, ...options }),
  );
  for (const n of nodes) await n.start();
  // The first renewal of each registered it; one more round and every node sees every other.
  for (const n of nodes) await n.renewNow();
  return {
    nodes,
    store,
    cleanup: async () => {
      for (const n of nodes) await n.close();
      for (const c of connections) c.disconnect();
      await store.close();
    },
  };
}

runOwnershipContract('local', async () => {
  const store = new SqliteSpaceStore(path.join(tempDir('rostrum-own-'), 'rostrum.db'));
  const node = new LocalOwnership({ id: 'solo', url: 'http://127.0.0.1:8080' }, async (id) => (await store.loadSpace(id)) !== undefined);
  await node.start();
  return { nodes: [node], store, cleanup: () => store.close() };
});

runOwnershipContract('redis', () => redisCluster(3));

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const started = Date.now();
  while (!(await ok())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - started;
}

describe('Ownership on Redis leases', () => {
  const fast = { leaseMs: 800, renewMs: 200, scanMs: 200 };

  test('a space nobody holds goes to the first node of its ranking, whichever node is asked; a forwarded request is taken where it lands', async () => {
    const c = await redisCluster(3);
    try {
      const id = await addSpace(c.store, 'ranked');
      const first = rank(id, ['node-0', 'node-1', 'node-2'])[0]!;
      const other = c.nodes.find((n) => n.node.id !== first)!;
      assert.equal((await other.ownerOf(id)).id, first, 'named, not taken');
      assert.equal(other.owns(id), false);
      assert.equal(await c.store.owner(id), undefined, 'nobody claimed it yet');
      const forwarded = await addSpace(c.store, 'forwarded');
      assert.equal((await other.ownerOf(forwarded, { forwarded: true })).id, other.node.id);
      assert.equal(other.owns(forwarded), true);
    } finally {
      await c.cleanup();
    }
  });

  test('two nodes racing to take one space: one claims it (one epoch raised), the other names it', async () => {
    const c = await redisCluster(2);
    try {
      for (let i = 0; i < 10; i++) {
        const id = await addSpace(c.store, `race-${i}`);
        const acquired: string[] = [];
        for (const n of c.nodes) n.onAcquired((s) => s === id && acquired.push(n.node.id));
        const answers = await Promise.all(c.nodes.map((n) => n.ownerOf(id, { forwarded: true })));
        assert.equal(answers[0]!.id, answers[1]!.id);
        assert.deepEqual(acquired, [answers[0]!.id]);
        assert.deepEqual(await c.store.owner(id), { node: answers[0]!.id, epoch: 1 });
      }
    } finally {
      await c.cleanup();
    }
  });

  for (const handOver of [true, false]) {
    test(`an owner that ${handOver ? 'stops cleanly hands its live spaces over' : 'dies (its leases lapse) loses its live spaces'} to the next node, with a higher epoch`, async () => {
      const c = await redisCluster(3, fast);
      try {
        const ids = await Promise.all(['h-1', 'h-2', 'h-3', 'h-4', 'h-5', 'h-6'].map((id) => addSpace(c.store, id)));
        const owner = c.nodes[0]!;
        for (const id of ids) await owner.ownerOf(id, { forwarded: true });
        assert.equal(owner.owned().length, ids.length);
        await owner.close({ handOver });
        const rest = c.nodes.slice(1);
        const took = await until('every space has a new owner', () => ids.every((id) => rest.some((n) => n.owns(id))));
        for (const id of ids) {
          const holder = rest.find((n) => n.owns(id))!;
          assert.equal(holder.node.id, rank(id, ['node-1', 'node-2'])[0], 'the next in its ranking');
          assert.deepEqual(holder.fence(id), { node: holder.node.id, epoch: 2 });
        }
        console.log(
          `# ${handOver ? 'handed over' : 'taken over after the leases lapsed'} in ${took} ms (lease ${fast.leaseMs} ms, scan every ${fast.scanMs} ms)`,
        );
      } finally {
        await c.cleanup();
      }
    });
  }

  test('a paused owner that wakes up past its lease is refused by its epoch, and lets the space go at its next renewal', async () => {
    // node-0 renews only when told (a stopped process); node-1 runs normally.
    const store = new SqliteSpaceStore(path.join(tempDir('rostrum-own-'), 'rostrum.db'));
    const prefix = `paused${process.pid}:`;
    const ca = connectRedis(redis.url, 'paused-a');
    const cb = connectRedis(redis.url, 'paused-b');
    const a = new RedisOwnership({ id: 'node-a', url: 'http://a' }, ca, store, {
      prefix,
      leaseMs: 800,
      renewMs: 3_600_000,
      scanMs: 3_600_000,
    });
    const b = new RedisOwnership({ id: 'node-b', url: 'http://b' }, cb, store, { prefix, ...fast });
    try {
      await a.start();
      await b.start();
      const id = await addSpace(store, 'paused');
      await a.ownerOf(id, { forwarded: true });
      const stale = a.fence(id)!;
      const released: SpaceId[] = [];
      a.onReleased((s) => released.push(s));
      await until('node-b takes the space once node-a’s lease lapsed', () => b.owns(id));
      assert.equal(a.owns(id), true, 'node-a has not noticed yet');
      await assert.rejects(
        store.commit(id, [{ op: 'space.update', patch: { title: 'from the past' } }], stale),
        (err: unknown) => err instanceof RostrumError && err.code === 'stale_owner',
      );
      await store.commit(id, [{ op: 'space.update', patch: { title: 'from the owner' } }], b.fence(id));
      await a.renewNow();
      assert.equal(a.owns(id), false);
      assert.deepEqual(released, [id]);
      assert.equal((await store.loadSpace(id))?.space.title, 'from the owner');
      assert.equal((await a.ownerOf(id)).id, 'node-b');
    } finally {
      await a.close();
      await b.close();
      ca.disconnect();
      cb.disconnect();
      await store.close();
    }
  });

  test('Redis away: owners keep their spaces, a space not held is cluster_unavailable; Redis back empty: owners re-assert and nobody takes them', async () => {
    const c = await redisCluster(2, fast);
    try {
      const [a, b] = c.nodes as [RedisOwnership, RedisOwnership];
      const mine = await addSpace(c.store, 'kept');
      const unheld = await addSpace(c.store, 'unheld');
      await a.ownerOf(mine, { forwarded: true });
      await c.store.commit(unheld, [{ op: 'space.update', patch: { state: 'ended' } }]);
      await redis.stop();
      try {
        await new Promise((resolve) => setTimeout(resolve, 3 * fast.leaseMs));
        assert.equal(a.owns(mine), true, 'kept through the outage');
        assert.equal(b.owns(mine), false);
        await assert.rejects(b.ownerOf(unheld), (err: unknown) => err instanceof RostrumError && err.code === 'cluster_unavailable');
        assert.equal((await a.ownerOf(mine)).id, 'node-0', 'its owner still answers');
      } finally {
        await redis.start();
      }
      await new Promise((resolve) => setTimeout(resolve, 4 * fast.leaseMs));
      assert.equal(a.owns(mine), true);
      assert.equal(b.owns(mine), false);
      assert.equal((await b.ownerOf(mine)).id, 'node-0', 'the lease is back in Redis');
      assert.deepEqual(await c.store.owner(mine), a.fence(mine), 'never claimed again');
    } finally {
      await c.cleanup();
    }
  });
});
