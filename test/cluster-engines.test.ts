/**
 * A node on the scaled-out engines (ROSTRUM_DATABASE_URL, ROSTRUM_REDIS_URL), against a real
 * PostgreSQL and a real redis-server started here: /readyz and /metrics name what it runs on and
 * whether each engine answers; what it writes outlives it (another node on the same database reads
 * it); and an engine going away is reported but never makes the node unready — a shared engine
 * failing every node's readiness at once would take the whole cluster out of the pool.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSpace } from './helpers/fixture.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SHARED = { apiKey: 'RKclustertest01', apiSecret: 'c2hhcmVkLXNlY3JldC1mb3ItZXZlcnktbm9kZS0wMTIzNDU2Nzg5' };

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a node on PostgreSQL and Redis', () => {
  let postgres: TestPostgres;
  let redis: TestRedis;
  let databaseUrl: string;
  let node: TestServer;
  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    databaseUrl = await postgres.database();
    node = await startTestServer({ ...SHARED, databaseUrl, redisUrl: redis.url, nodeId: 'node-a' });
  });
  after(async () => {
    await node?.close();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  test('/readyz and /metrics name the node, its implementations and each engine, up', async () => {
    const ready = await node.api.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.node, 'node-a');
    const implementations = {
      store: 'postgres',
      recordings: 'postgres',
      changeLog: 'redis',
      ownership: 'redis',
      crowd: 'redis',
      rateLimits: 'redis',
      proofOfWork: 'redis',
    };
    assert.deepEqual(ready.body.implementations, implementations);
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(ready.body.engines as Record<string, { up: boolean; shared: boolean }>).map(([k, v]) => [k, [v.up, v.shared]]),
      ),
      { postgres: [true, true], disk: [true, false], redis: [true, true] },
    );
    assert.doesNotMatch(JSON.stringify(ready.body), /127\.0\.0\.1|postgres:\/\//, 'no address in a public answer');
    const metrics = (await node.api.get('/metrics')).body as string;
    const info = /rostrum_node_info\{([^}]*)\} 1/.exec(metrics)?.[1] ?? '';
    assert.match(info, /node_id="node-a"/);
    for (const [name, kind] of Object.entries(implementations)) {
      assert.ok(info.includes(`${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}="${kind}"`), `${name}="${kind}" in ${info}`);
    }
    assert.match(metrics, /rostrum_engine_up\{engine="postgres",shared="true"\} 1/);
    assert.match(metrics, /rostrum_engine_up\{engine="redis",shared="true"\} 1/);
  });

  test('a space written through one node is read by another node on the same database', async () => {
    const id = await createSpace(node, { live: false, title: 'Kept in PostgreSQL' });
    const other = await startTestServer({ ...SHARED, databaseUrl, redisUrl: redis.url, nodeId: 'node-b' });
    try {
      const read = await other.api.get(`/api/spaces/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.title, 'Kept in PostgreSQL');
    } finally {
      await other.close();
    }
  });

  test('Redis away: the node stays ready and says redis is down (readyz, metrics); back without a restart', async () => {
    await redis.stop();
    try {
      const down = await until(
        'readyz with Redis stopped',
        async () => (await node.api.get('/readyz')).body,
        (b) => b.engines?.redis?.up === false,
      );
      assert.equal(down.status, 'ready');
      assert.equal(down.engines.postgres.up, true);
      assert.match((await node.api.get('/metrics')).body as string, /rostrum_engine_up\{engine="redis",shared="true"\} 0/);
      // Durable writes do not need Redis.
      await createSpace(node, { live: false, title: 'While Redis is away' });
    } finally {
      await redis.start();
    }
    await until(
      'readyz with Redis back',
      async () => (await node.api.get('/readyz')).body,
      (b) => b.engines?.redis?.up === true,
    );
  });

  test('PostgreSQL away: the node stays ready and says so; a durable write fails fast with 503 store_unavailable; back without a restart', async () => {
    const live = await createSpace(node, { live: true, title: 'On air' });
    await postgres.stop();
    try {
      const down = await until(
        'readyz with PostgreSQL stopped',
        async () => (await node.api.get('/readyz')).body,
        (b) => b.engines?.postgres?.up === false,
      );
      assert.equal(down.status, 'ready');
      const started = Date.now();
      const refused = await node.api.post('/api/spaces', {
        token: node.operator,
        body: { title: 'Not now', host: { identity: 'h', name: 'H' } },
      });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'store_unavailable');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.ok(Date.now() - started < 6000, `answered in ${Date.now() - started} ms`);
      // The live space's listeners need no database.
      const joined = await node.api.post(`/api/spaces/${live}/join`);
      assert.equal(joined.status, 200, JSON.stringify(joined.body));
      assert.equal((await node.api.get(`/api/spaces/${live}/state`)).status, 200);
    } finally {
      await postgres.start();
    }
    await until(
      'readyz with PostgreSQL back',
      async () => (await node.api.get('/readyz')).body,
      (b) => b.engines?.postgres?.up === true,
    );
    const after = await node.api.post('/api/spaces', { token: node.operator, body: { title: 'Now', host: { identity: 'h', name: 'H' } } });
    assert.equal(after.status, 201, JSON.stringify(after.body));
  });

  test('several nodes on Redis refuse to start without a shared API key and secret', async () => {
    await assert.rejects(startTestServer({ databaseUrl, redisUrl: redis.url }), /ROSTRUM_API_KEY and ROSTRUM_API_SECRET/);
  });
});
