/**
 * Per-address and per-token rate limits on every write: joins per address, heartbeats per token,
 * any other write per token, all writes per address; each refusal a coded 429 with Retry-After,
 * counted in the metrics. Addresses come from X-Forwarded-For through a trusted "edge" (this test),
 * so one test process can be many listeners.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RateCounter } from '../../src/api/rate-counter.js';
import { createToken } from '../../src/control/tokens.js';
import { createSpace } from '../helpers/fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('rate limits on writes', () => {
  let t: TestServer;
  let id: string;
  const send = async (method: string, path: string, from: string, token?: string, body?: unknown) => {
    const response = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        'x-forwarded-for': from,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    t = await startTestServer({
      trustProxy: ['127.0.0.1'],
      joinLimit: 5,
      heartbeatLimit: 3,
      writeLimit: 4,
      addressWriteLimit: 6,
    });
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('joins are limited per address: the sixth in 10 s is refused, another address still joins', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await send('POST', `/api/spaces/${id}/join`, '198.51.100.1')).status);
    const refused = await send('POST', `/api/spaces/${id}/join`, '198.51.100.1');
    const other = await send('POST', `/api/spaces/${id}/join`, '198.51.100.2');

    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    assert.ok(Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 10, `Retry-After ${refused.retryAfter}`);
    assert.equal(other.status, 200);
  });

  test('heartbeats are limited per token: a fourth in a minute is refused, another token is not', async () => {
    const first = (await send('POST', `/api/spaces/${id}/join`, '198.51.100.10')).body.token as string;
    const second = (await send('POST', `/api/spaces/${id}/join`, '198.51.100.11')).body.token as string;

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send('POST', `/api/spaces/${id}/heartbeat`, '198.51.100.10', first)).status);
    const other = await send('POST', `/api/spaces/${id}/heartbeat`, '198.51.100.10', second);

    assert.deepEqual(statuses, [204, 204, 204, 429]);
    assert.equal(other.status, 204);
  });

  test('writes with no limit of their own are limited per token', async () => {
    const host = t.token(id, 'h', 'host');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await send('PATCH', `/api/spaces/${id}`, `198.51.100.${20 + i}`, host, { title: `Renamed ${i}` })).status);
    }
    const operator = await send('PATCH', `/api/spaces/${id}`, '198.51.100.30', t.operator, { title: 'By the operator' });

    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    assert.equal(operator.status, 200, 'another token is not limited');
  });

  test('all writes from one address are limited together, whatever the tokens', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 7; i++) tokens.push((await send('POST', `/api/spaces/${id}/join`, `198.51.100.${40 + i}`)).body.token);

    const statuses: number[] = [];
    for (const token of tokens) statuses.push((await send('POST', `/api/spaces/${id}/heartbeat`, '198.51.100.99', token)).status);

    assert.deepEqual(statuses, [204, 204, 204, 204, 204, 204, 429]);
  });

  test('forged tokens each spend a bucket but the address limit still bounds them', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await send('POST', `/api/spaces/${id}/heartbeat`, '198.51.100.77', `forged.x.${String(i).padStart(43, 'x')}`)).status);
    }

    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429]);
  });

  test('reads are never rate-limited', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) statuses.add((await send('GET', `/api/spaces/${id}/state`, '198.51.100.1')).status);

    assert.deepEqual([...statuses], [200]);
  });

  test('refusals are counted by limit in the metrics', async () => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();

    for (const limit of ['join', 'heartbeat', 'write', 'addressWrite']) {
      const line = metrics.split('\n').find((l) => l.startsWith(`rostrum_rate_limited_total{limit="${limit}"}`));
      assert.ok(line && Number(line.split(' ')[1]) >= 1, `${limit}: ${line}`);
    }
  });
});

describe('spaces per operator', () => {
  test('an operator creates at most ROSTRUM_SPACE_CREATE_LIMIT spaces an hour; another operator is not held back, and a forged token spends nothing', async () => {
    const t = await startTestServer({ spaceCreateLimit: 3 });
    try {
      const create = (token: string) => t.api.post('/api/spaces', { token, body: { title: 'Capped', host: { identity: 'h' } } });
      const forged = `${t.operator.slice(0, -43)}${'A'.repeat(43)}`;
      assert.equal((await create(forged)).status, 401);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await create(t.operator)).status);
      assert.deepEqual(statuses, [201, 201, 201, 429, 429], 'the forged token spent none of the three');
      const refused = await create(t.operator);
      assert.equal(refused.body.error.code, 'rate_limited');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      const second = createToken({ ...t.server.credentials, identity: 'another-backend', operator: true });
      assert.equal((await create(second)).status, 201, 'another operator identity has its own count');
    } finally {
      await t.close();
    }
  });
});

describe('RateCounter', () => {
  test('counts per key in fixed windows, says how long until a refused key may come back, and forgets the keys whose windows began first beyond its bound', () => {
    const counter = new RateCounter(2, 10_000, 3);
    assert.equal(counter.hit('a', 0), 0);
    assert.equal(counter.hit('a', 1_000), 0);
    assert.equal(counter.hit('a', 4_000), 6_000, 'the third in the window is refused until it ends');
    assert.equal(counter.hit('b', 4_000), 0, 'another key has its own window');
    assert.equal(counter.hit('a', 10_000), 0, 'a new window');
    assert.equal(counter.hit('a', 10_000), 0);
    for (const key of ['c', 'd', 'e']) counter.hit(key, 10_000);
    assert.equal(counter.size, 3, 'no more keys than the bound');
    assert.equal(counter.hit('a', 10_001), 0, 'a (its window began before c, d and e) was forgotten, and starts afresh');
  });

  test('forgets windows that are over as new keys come, long before its bound: a stream of one-off keys stays small', () => {
    const counter = new RateCounter(5, 1_000, 100_000);
    // 10,000 listeners' tokens, 50 a second, each seen once: about a window's worth (50) are in use at any time.
    for (let i = 0; i < 10_000; i++) counter.hit(`token-${i}`, i * 20);
    assert.ok(counter.size <= 60, `keys remembered: ${counter.size}`);
  });
});
