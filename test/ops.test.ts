/**
 * Operations: liveness, readiness, metrics, OpenAPI, rate limits (429), draining (503), and a
 * graceful exit on SIGTERM of the real CLI process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSpace } from './helpers/fixture.js';
import { spawnServer, startTestServer, type TestServer, tempDir } from './helpers/server.js';

describe('operations', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ reactionLimit: 5 });
  });
  after(() => t.close());

  test('/healthz answers 200 and /readyz answers 200 when the store answers, naming the node and what it runs on', async () => {
    assert.deepEqual((await t.api.get('/healthz')).body, { status: 'ok' });
    const ready = (await t.api.get('/readyz')).body;
    assert.equal(ready.status, 'ready');
    assert.match(ready.node, /^[A-Za-z0-9_.-]+-[0-9a-f]{6}$/, 'a generated node id');
    const implementations = {
      store: 'sqlite',
      recordings: 'dir',
      changeLog: 'local',
      ownership: 'local',
      crowd: 'local',
      rateLimits: 'local',
      proofOfWork: 'local',
    };
    assert.deepEqual(ready.implementations, implementations);
    assert.deepEqual(Object.keys(ready.engines), ['sqlite', 'disk']);
    assert.equal(ready.engines.sqlite.up, true);
    assert.equal(ready.engines.sqlite.shared, false);
    assert.deepEqual(ready.engines.disk.uses, ['dataDir', 'recordings'], 'the data directory has room and the recordings write');
    assert.equal(ready.engines.disk.up, true);
    assert.equal(ready.warnings, undefined);
    const metrics = (await t.api.get('/metrics')).body as string;
    const info = /rostrum_node_info\{([^}]*)\} 1/.exec(metrics)?.[1] ?? '';
    assert.ok(info.includes(`node_id="${ready.node}"`), info);
    for (const [name, kind] of Object.entries(implementations)) {
      assert.ok(info.includes(`${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}="${kind}"`), `${name}="${kind}" in ${info}`);
    }
    assert.match(metrics, /rostrum_engine_up\{engine="sqlite",shared="false"\} 1/);
  });

  test('/metrics serves Prometheus text with request, join and space metrics', async () => {
    const id = await createSpace(t, { live: true });
    await t.api.post(`/api/spaces/${id}/join`);
    const res = await t.api.get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(res.body, /rostrum_listener_joins_total\{way="(lane|route)"\} [1-9]/);
    assert.match(res.body, /rostrum_spaces\{state="live"\} [1-9]/);
    assert.match(res.body, /rostrum_http_request_duration_seconds_bucket\{.*route="\/api\/spaces\/:id\/join"/);
    assert.match(res.body, /rostrum_nodejs_eventloop_lag_seconds/);
  });

  test('/api/openapi.json documents every API route with its schemas', async () => {
    const res = await t.api.get('/api/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.0.3');
    for (const path of [
      '/api/spaces',
      '/api/spaces/{id}/state',
      '/api/spaces/{id}/join',
      '/api/spaces/{id}/participants/{identity}/mute',
    ]) {
      assert.ok(res.body.paths[path], `missing ${path}`);
    }
    assert.ok(res.body.paths['/api/spaces'].post.requestBody, 'create documents its body');
  });

  test('a reaction flood from one token gets 429 rate_limited with Retry-After, and other tokens are unaffected', async () => {
    const id = await createSpace(t, { live: true });
    const flooder = t.token(id, 'flooder', 'listener');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await t.api.post(`/api/spaces/${id}/reactions`, { token: flooder, body: { emoji: '👏' } })).status);
    }
    assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429, 429, 429]);
    const limited = await t.api.post(`/api/spaces/${id}/reactions`, { token: flooder, body: { emoji: '👏' } });
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);

    const other = await t.api.post(`/api/spaces/${id}/reactions`, { token: t.token(id, 'calm', 'listener'), body: { emoji: '👏' } });
    assert.equal(other.status, 202);
    assert.equal((await t.api.get(`/api/spaces/${id}/state`)).body.reactions['👏'], 6);
  });
});

describe('shutdown', () => {
  test('while draining, /readyz answers 503 shutting_down and liveness still answers', async () => {
    const t = await startTestServer({ drainGraceMs: 1500 });
    const closing = t.close();
    const ready = await t.api.get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, 'shutting_down');
    assert.equal((await t.api.get('/healthz')).status, 200);
    assert.equal((await t.api.get('/api/spaces')).status, 200, 'requests are still served during the grace period');
    await closing;
  });

  test('SIGTERM drains and exits 0', async () => {
    const server = await spawnServer(tempDir());
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });
});
