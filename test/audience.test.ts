/**
 * The audience plane stays stateless: a crowd of joins, heartbeats and reactions never writes to the
 * database (a second SQLite connection sees no commit), while a reminder — asked for — is durable.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import Database from 'better-sqlite3';
import { JoinResponse } from '../src/api/schemas.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('audience plane', () => {
  let t: TestServer;
  let db: Database.Database;
  const commits = () => db.pragma('data_version', { simple: true }) as number;

  before(async () => {
    // No periodic tally write may land inside the measured window; and 200 joins at once from this
    // same process must not be shed as overload (that is the lanes' subject, not this file's).
    t = await startTestServer({ reactionLimit: 1000, tallyIntervalMs: 3_600_000, maxEventLoopDelayMs: 1000 });
    db = new Database(path.join(t.dataDir, 'rostrum.db'), { readonly: true });
  });
  after(async () => {
    db.close();
    await t.close();
  });

  test('200 joins, heartbeats and reactions write nothing to the database', async () => {
    const id = await createSpace(t, { live: true });
    const before_ = commits();

    const joins = await Promise.all(Array.from({ length: 200 }, () => t.api.post(`/api/spaces/${id}/join`)));
    for (const j of joins) assert.equal(j.status, 200);
    await Promise.all(joins.map((j) => t.api.post(`/api/spaces/${id}/heartbeat`, { token: j.body.token })));
    await Promise.all(
      joins.slice(0, 50).map((j) => t.api.post(`/api/spaces/${id}/reactions`, { token: j.body.token, body: { emoji: '👏' } })),
    );

    assert.equal(commits(), before_, 'a listener action committed to the database');
    assert.equal(new Set(joins.map((j) => j.body.identity)).size, 200, 'every join is a distinct listener');
  });

  test('the join response matches its published schema exactly, in the lobby and live', async () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile({ ...JoinResponse, additionalProperties: false });
    const id = await createSpace(t, { live: false, title: 'Quotes " and \\ backslashes <b>' });
    for (const state of ['scheduled', 'live']) {
      if (state === 'live') await t.api.post(`/api/spaces/${id}/start`, { token: t.operator });
      const res = await t.api.post(`/api/spaces/${id}/join`);
      assert.equal(res.status, 200);
      assert.ok(validate(res.body), JSON.stringify(validate.errors));
      assert.equal(res.body.space.title, 'Quotes " and \\ backslashes <b>');
      assert.equal(res.body.space.state, state);
      assert.equal(res.body.urls.playlist, state === 'live' ? `${t.url}/hls/${id}/index.m3u8` : null);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(Date.parse(res.body.expiresAt) > Date.now());
    }
  });

  test('a reminder for a scheduled space is durable and counted once per identity', async () => {
    const id = await createSpace(t, { live: false });
    const before_ = commits();
    const token = t.token(id, 'fan', 'listener');
    assert.deepEqual((await t.api.call('PUT', `/api/spaces/${id}/reminder`, { token })).body, { registered: true, reminders: 1 });
    assert.deepEqual((await t.api.call('PUT', `/api/spaces/${id}/reminder`, { token })).body, { registered: true, reminders: 1 });
    assert.ok(commits() > before_);
    assert.deepEqual((await t.api.call('DELETE', `/api/spaces/${id}/reminder`, { token })).body, { registered: false, reminders: 0 });
  });

  test('the operator reads who asked to be reminded, oldest first, a page at a time; nobody else may', async () => {
    const id = await createSpace(t, { live: false });
    for (const fan of ['ana', 'ben', 'cy']) {
      assert.equal((await t.api.call('PUT', `/api/spaces/${id}/reminder`, { token: t.token(id, fan, 'listener') })).status, 200);
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = await t.api.get(`/api/spaces/${id}/reminders`, { token: t.operator });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.count, 3);
    assert.deepEqual(
      all.body.reminders.map((r: { identity: string }) => r.identity),
      ['ana', 'ben', 'cy'],
    );
    assert.ok(all.body.reminders.every((r: { at: string }) => !Number.isNaN(Date.parse(r.at))));
    const page = await t.api.get(`/api/spaces/${id}/reminders?limit=1&after=1`, { token: t.operator });
    assert.deepEqual(
      page.body.reminders.map((r: { identity: string }) => r.identity),
      ['ben'],
    );
    assert.equal(page.body.count, 3);
    const host = await t.api.get(`/api/spaces/${id}/reminders`, { token: t.token(id, 'host', 'host') });
    assert.equal(host.status, 403);
    const anonymous = await t.api.get(`/api/spaces/${id}/reminders`);
    assert.equal(anonymous.status, 401);
  });

  test('a reminder for a live space is refused with space_not_scheduled', async () => {
    const id = await createSpace(t, { live: true });
    const res = await t.api.call('PUT', `/api/spaces/${id}/reminder`, { token: t.token(id, 'fan', 'listener') });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'space_not_scheduled');
  });

  test('reactions are refused before the space is live', async () => {
    const id = await createSpace(t, { live: false });
    const res = await t.api.post(`/api/spaces/${id}/reactions`, { token: t.token(id, 'fan', 'listener'), body: { emoji: '🔥' } });
    assert.equal(res.body.error.code, 'space_not_live');
  });
});
