/**
 * The join lane (src/api/join-lane.ts) over real HTTP: an anonymous, bodyless join to a space the
 * node holds is answered before routing, exactly as the route answers it; every other request goes
 * on to the route; the join limit, the waiting room and trusted proxies behave the same either way.
 * The `way` label of rostrum_listener_joins_total tells which way each join went.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TokenAuthority } from '../src/control/tokens.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function join(t: TestServer, path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${t.url}${path}`, { method: 'POST', ...init });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** Joins by the way they came in, read from /metrics. */
async function joinsByWay(t: TestServer): Promise<{ lane: number; route: number }> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const read = (way: string) => Number(new RegExp(`rostrum_listener_joins_total\\{way="${way}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { lane: read('lane'), route: read('route') };
}

async function rateLimited(t: TestServer): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return Number(/rostrum_rate_limited_total\{limit="join"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** A join's answer without what differs between two joins (token, identity, invite tag). */
function shape(answer: Answer) {
  const { token, identity, inviteTag, ...rest } = answer.body;
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.match(identity, /^anon-[\w-]{16}$/);
  assert.match(inviteTag, /^[\w-]{22}$/);
  return {
    status: answer.status,
    contentType: answer.headers.get('content-type'),
    cacheControl: answer.headers.get('cache-control'),
    length: Number(answer.headers.get('content-length')) - token.length - identity.length,
    body: { ...rest, expiresAt: typeof rest.expiresAt },
  };
}

describe('join lane', () => {
  let t: TestServer;
  let id: string;
  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('an anonymous join with no body is answered by the lane with what the route answers', async () => {
    const before = await joinsByWay(t);
    const lane = await join(t, `/api/spaces/${id}/join`);
    const afterLane = await joinsByWay(t);
    const route = await join(t, `/api/spaces/${id}/join`, { body: '{}', headers: { 'content-type': 'application/json' } });
    const afterRoute = await joinsByWay(t);
    assert.deepEqual(afterLane, { lane: before.lane + 1, route: before.route }, 'the bodyless join went by the lane');
    assert.deepEqual(afterRoute, { lane: afterLane.lane, route: afterLane.route + 1 }, 'the join with a body went by the route');
    assert.equal(lane.status, 200);
    assert.deepEqual(shape(lane), shape(route));
    assert.equal(lane.body.space.id, id);
    const claims = new TokenAuthority([t.server.credentials], 0).verify(lane.body.token);
    assert.equal(claims.sub, lane.body.identity);
    assert.equal(claims.space, id);
    assert.equal(claims.role, 'listener');
    assert.equal(claims.exp * 1000, Date.parse(lane.body.expiresAt));
  });

  test('a title in any script is sent whole: the length the lane announces is the body in bytes', async () => {
    const titled = await createSpace(t, { live: true, title: 'Café ☕ 日本語 🎙️' });
    const before = await joinsByWay(t);
    const response = await fetch(`${t.url}/api/spaces/${titled}/join`, { method: 'POST' });
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(Number(response.headers.get('content-length')), bytes.length);
    assert.equal(JSON.parse(bytes.toString('utf8')).space.title, 'Café ☕ 日本語 🎙️');
    assert.equal((await joinsByWay(t)).lane, before.lane + 1);
  });

  test('every other request goes on to the route, which answers it as before', async () => {
    const before = await joinsByWay(t);
    const query = await join(t, `/api/spaces/${id}/join?x=1`);
    const slash = await join(t, `/api/spaces/${id}/join/`);
    const named = await join(t, `/api/spaces/${id}/join`, { headers: { authorization: `Bearer ${t.token(id, 'ann', 'listener')}` } });
    const text = await join(t, `/api/spaces/${id}/join`, { headers: { 'content-type': 'text/plain' } });
    const unknown = await join(t, '/api/spaces/nosuchspace1/join');
    const malformed = await join(t, '/api/spaces/bad%20id/join');
    assert.equal(query.status, 200);
    assert.equal(slash.status, 200);
    assert.equal(named.status, 200);
    assert.equal(named.body.identity, 'ann', 'a token carries its identity over (the route reads it)');
    assert.deepEqual([text.status, text.body.error.code], [415, 'unsupported_media_type']);
    assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'space_not_found']);
    assert.deepEqual([malformed.status, malformed.body.error.code], [400, 'invalid_id']);
    assert.deepEqual(await joinsByWay(t), { lane: before.lane, route: before.route + 3 });
  });

  test('a space that has ended is answered by the route: no join', async () => {
    const ended = await createSpace(t, { live: true });
    assert.equal((await join(t, `/api/spaces/${ended}/join`)).status, 200);
    assert.equal((await t.api.post(`/api/spaces/${ended}/end`, { token: t.operator })).status, 200);
    const late = await join(t, `/api/spaces/${ended}/join`);
    assert.deepEqual([late.status, late.body.error.code], [409, 'space_ended']);
  });
});

describe('join lane and limits', () => {
  test('lane and route joins count against one join limit; a refusal is the coded 429, counted once', async () => {
    const t = await startTestServer({ joinLimit: 3 });
    try {
      const id = await createSpace(t, { live: true });
      const path = `/api/spaces/${id}/join`;
      assert.equal((await join(t, path)).status, 200, 'lane');
      assert.equal((await join(t, path)).status, 200, 'lane');
      assert.equal((await join(t, path, { body: '{}', headers: { 'content-type': 'application/json' } })).status, 200, 'route');
      const refused = await join(t, path);
      assert.deepEqual([refused.status, refused.body.error.code], [429, 'rate_limited']);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(await rateLimited(t), 1, 'one refusal, one count');
      assert.deepEqual(await joinsByWay(t), { lane: 2, route: 1 });
    } finally {
      await t.close();
    }
  });

  test('behind a trusted proxy the lane counts each forwarded address on its own', async () => {
    const t = await startTestServer({ joinLimit: 2, trustProxy: ['127.0.0.1'] });
    try {
      const id = await createSpace(t, { live: true });
      const from = (address: string) => join(t, `/api/spaces/${id}/join`, { headers: { 'x-forwarded-for': address } });
      assert.equal((await from('10.0.0.1')).status, 200);
      assert.equal((await from('10.0.0.1')).status, 200);
      assert.equal((await from('10.0.0.1')).status, 429);
      assert.equal((await from('10.0.0.2')).status, 200, 'another listener behind the same edge');
      assert.equal((await joinsByWay(t)).lane, 3);
    } finally {
      await t.close();
    }
  });

  test('with a waiting room, a bodyless join beyond the admission rate gets its place in line from the lane', async () => {
    const t = await startTestServer({ admissionRate: 1 });
    try {
      const id = await createSpace(t, { live: true });
      const path = `/api/spaces/${id}/join`;
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await join(t, path));
      const queued = answers.find((a) => a.status === 202);
      assert.ok(queued, `no join was queued: ${answers.map((a) => a.status).join(', ')}`);
      assert.equal(queued.body.queued, true);
      assert.equal(typeof queued.body.ticket, 'string');
      assert.equal(queued.headers.get('retry-after'), String(queued.body.retryAfterSeconds));
      assert.equal(queued.headers.get('cache-control'), 'no-store');
      const back = await join(t, path, {
        body: JSON.stringify({ ticket: queued.body.ticket }),
        headers: { 'content-type': 'application/json' },
      });
      assert.ok([200, 202].includes(back.status), `the ticket is taken back by the route: ${back.status}`);
    } finally {
      await t.close();
    }
  });
});
