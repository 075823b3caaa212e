/**
 * Stage rules that a single permission check cannot show: limits under concurrency, moderation that
 * outranks older tokens and invitations, tokens that cannot be stretched, and the limits on durable
 * writes a crowd could make.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSpace, stageFixture, stageOf } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('stage rules', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('the stage never holds more than 10 speakers and 2 co-hosts, even when seats are taken concurrently', async () => {
    const id = await createSpace(t, { live: true });
    const listeners = Array.from({ length: 8 }, (_, i) => t.token(id, `asker${i}`, 'listener'));
    await Promise.all(listeners.map((token) => t.api.post(`/api/spaces/${id}/requests`, { token })));

    const results = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => t.api.post(`/api/spaces/${id}/stage`, { token: t.token(id, `sp${i}`, 'speaker') })),
      ...Array.from({ length: 4 }, (_, i) => t.api.post(`/api/spaces/${id}/stage`, { token: t.token(id, `co${i}`, 'cohost') })),
      ...Array.from({ length: 8 }, (_, i) => t.api.post(`/api/spaces/${id}/participants/asker${i}/approve`, { token: t.operator })),
    ]);

    const stage = Object.values(await stageOf(t, id));
    assert.equal(stage.filter((m) => m.role === 'speaker').length, 10);
    assert.equal(stage.filter((m) => m.role === 'cohost').length, 2);
    assert.equal(stage.filter((m) => m.role === 'host').length, 1);
    const codes = results.filter((r) => r.status !== 200).map((r) => r.body.error.code);
    assert.equal(codes.filter((c) => c === 'stage_full').length, 10);
    assert.equal(codes.filter((c) => c === 'cohost_limit').length, 2);
    const appoint = await t.api.post(`/api/spaces/${id}/participants/sp0/appoint-cohost`, { token: t.operator });
    assert.equal(appoint.body.error.code, 'cohost_limit');
  });

  test('a dismissed co-host cannot make themself co-host again with the old token', async () => {
    const fx = await stageFixture(t, { live: true });
    await t.api.post(`/api/spaces/${fx.id}/participants/c/dismiss-cohost`, { token: fx.tokens.host });
    await t.api.call('DELETE', `/api/spaces/${fx.id}/stage`, { token: fx.tokens.cohost });

    const back = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: fx.tokens.cohost });
    assert.equal(back.status, 403);
    assert.equal((await stageOf(t, fx.id)).c, undefined);
  });

  test('a move to the audience withdraws an invitation made before it', async () => {
    const fx = await stageFixture(t, { live: true });
    await t.api.post(`/api/spaces/${fx.id}/participants/l/invite`, { token: fx.tokens.host });
    const listener = fx.tokens.listener;
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/invite/accept`, { token: listener })).status, 200);
    await t.api.post(`/api/spaces/${fx.id}/participants/l/invite`, { token: fx.tokens.host }).catch(() => undefined);
    await t.api.post(`/api/spaces/${fx.id}/participants/l/move-to-audience`, { token: fx.tokens.host });

    const again = await t.api.post(`/api/spaces/${fx.id}/invite/accept`, { token: listener });
    assert.equal(again.body.error.code, 'invite_not_found');
    assert.equal((await stageOf(t, fx.id)).l, undefined);
  });

  test('taking a seat or leaving the stage drops a pending invitation and request', async () => {
    const fx = await stageFixture(t, { live: true });
    const guest = t.token(fx.id, 'guest', 'speaker');
    await t.api.post(`/api/spaces/${fx.id}/participants/guest/invite`, { token: fx.tokens.host });
    await t.api.post(`/api/spaces/${fx.id}/stage`, { token: guest });
    await t.api.call('DELETE', `/api/spaces/${fx.id}/stage`, { token: guest });

    assert.equal((await t.api.post(`/api/spaces/${fx.id}/invite/accept`, { token: guest })).body.error.code, 'invite_not_found');
  });

  test('a join with a short-lived token cannot outlive it', async () => {
    const id = await createSpace(t, { live: true });
    const short = t.token(id, 'visitor', 'listener', { ttlSeconds: 60 });
    const joined = await t.api.post(`/api/spaces/${id}/join`, { token: short });
    assert.equal(joined.body.identity, 'visitor');
    assert.ok(Date.parse(joined.body.expiresAt) <= Date.now() + 61_000, joined.body.expiresAt);
  });

  test("a listener token for the host's identity carries no host powers", async () => {
    const fx = await stageFixture(t, { live: true });
    const joined = await t.api.post(`/api/spaces/${fx.id}/join`, { token: fx.tokens.host });
    const end = await t.api.post(`/api/spaces/${fx.id}/end`, { token: joined.body.token });
    assert.equal(end.status, 403);
    const mute = await t.api.post(`/api/spaces/${fx.id}/participants/s/mute`, { token: joined.body.token });
    assert.equal(mute.status, 403);
    assert.equal((await t.api.get(`/api/spaces/${fx.id}`)).body.state, 'live');
  });

  test('a token for another space is refused as such even where the space has ended', async () => {
    const ended = await createSpace(t, { live: true });
    await t.api.post(`/api/spaces/${ended}/end`, { token: t.operator });
    const other = await createSpace(t, { live: true });
    const res = await t.api.post(`/api/spaces/${ended}/requests`, { token: t.token(other, 'x', 'listener') });
    assert.equal(res.body.error.code, 'token_wrong_space');
  });

  test('the request-to-speak queue holds at most 500', async () => {
    const id = await createSpace(t, { live: true });
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          t.api.post(`/api/spaces/${id}/requests`, { token: t.token(id, `q${batch}-${i}`, 'listener') }),
        ),
      );
    }
    const full = await t.api.post(`/api/spaces/${id}/requests`, { token: t.token(id, 'one-too-many', 'listener') });
    assert.equal(full.status, 409);
    assert.equal(full.body.error.code, 'request_queue_full');
    assert.equal((await t.api.get(`/api/spaces/${id}/requests`, { token: t.operator })).body.requests.length, 500);
  });
});

describe('per-address limits on durable writes', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ requestLimit: 3 });
  });
  after(() => t.close());

  test('requests to speak and reminder sign-ups from one address are each limited per minute', async () => {
    const live = await createSpace(t, { live: true });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await t.api.post(`/api/spaces/${live}/requests`, { token: t.token(live, `a${i}`, 'listener') })).status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);

    const scheduled = await createSpace(t, { live: false });
    const reminders: number[] = [];
    for (let i = 0; i < 4; i++) {
      reminders.push(
        (await t.api.call('PUT', `/api/spaces/${scheduled}/reminder`, { token: t.token(scheduled, `fan${i}`, 'listener') })).status,
      );
    }
    assert.deepEqual(reminders, [200, 200, 200, 429]);
  });
});

describe('per-address limits behind a trusted edge', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ requestLimit: 2, trustProxy: ['127.0.0.1'] });
  });
  after(() => t.close());

  test('the address an edge forwards is the one limited, not the edge itself', async () => {
    const live = await createSpace(t, { live: true });
    const ask = (i: number, from: string) =>
      fetch(`${t.url}/api/spaces/${live}/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.token(live, `x${i}`, 'listener')}`, 'x-forwarded-for': from },
      }).then((r) => r.status);
    const first = [await ask(0, '203.0.113.1'), await ask(1, '203.0.113.1'), await ask(2, '203.0.113.1')];
    assert.deepEqual(first, [200, 200, 429], 'one listener behind the edge is limited');
    assert.equal(await ask(3, '203.0.113.2'), 200, 'another listener behind the same edge is not');
  });
});
