/**
 * A space's life over real HTTP: scheduled → live → ended, early and late starts, no restart,
 * the lobby join, and what an ended space refuses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSpace, stageFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('space lifecycle', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('a space created with a start time is scheduled, keeps its time, and has share links', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const created = await t.api.post('/api/spaces', { token: t.operator, body: { title: 'Town hall', scheduledStart: at } });

    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'scheduled');
    assert.equal(created.body.scheduledStart, at);
    assert.equal(created.body.recording, true, 'recording is on by default');
    assert.equal(created.body.listenUrl, `${t.url}/s/${created.body.id}`);
    assert.match(created.body.hostUrl, new RegExp(`^${t.url}/s/${created.body.id}#token=ey`));
    assert.equal(created.body.startedAt, null);
  });

  test('the host goes live early, before the scheduled time, and then ends the space', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const created = await t.api.post('/api/spaces', { token: t.operator, body: { title: 'Early', scheduledStart: at, recording: false } });
    const host = created.body.hostToken as string;

    const started = await t.api.post(`/api/spaces/${created.body.id}/start`, { token: host });
    assert.equal(started.status, 200);
    assert.equal(started.body.state, 'live');
    assert.ok(Date.parse(started.body.startedAt) < Date.parse(at));
    assert.equal(started.body.recording, false);

    const ended = await t.api.post(`/api/spaces/${created.body.id}/end`, { token: host });
    assert.equal(ended.status, 200);
    assert.equal(ended.body.state, 'ended');
    assert.ok(Date.parse(ended.body.endedAt) >= Date.parse(ended.body.startedAt));
  });

  test('the host goes live late, after the scheduled time', async () => {
    const past = new Date(Date.now() - 600_000).toISOString();
    const created = await t.api.post('/api/spaces', { token: t.operator, body: { title: 'Late', scheduledStart: past } });

    const started = await t.api.post(`/api/spaces/${created.body.id}/start`, { token: created.body.hostToken });

    assert.equal(started.body.state, 'live');
    assert.ok(Date.parse(started.body.startedAt) > Date.parse(past));
  });

  test('starting a live space is refused with space_already_live', async () => {
    const id = await createSpace(t, { live: true });
    const again = await t.api.post(`/api/spaces/${id}/start`, { token: t.operator });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'space_already_live');
  });

  test('an ended space cannot be restarted, ended again, renamed or joined', async () => {
    const id = await createSpace(t, { live: true });
    await t.api.post(`/api/spaces/${id}/end`, { token: t.operator });

    for (const [method, path, body] of [
      ['POST', `/api/spaces/${id}/start`, undefined],
      ['POST', `/api/spaces/${id}/end`, undefined],
      ['PATCH', `/api/spaces/${id}`, { title: 'Again' }],
      ['POST', `/api/spaces/${id}/join`, undefined],
    ] as const) {
      const refused = await t.api.call(method, path, { token: t.operator, body });
      assert.equal(refused.status, 409, `${method} ${path}`);
      assert.equal(refused.body.error.code, 'space_ended', `${method} ${path}`);
    }
    assert.equal((await t.api.get(`/api/spaces/${id}`)).body.state, 'ended');
  });

  test('ending a scheduled space cancels it', async () => {
    const id = await createSpace(t, { live: false });
    const ended = await t.api.post(`/api/spaces/${id}/end`, { token: t.operator });
    assert.equal(ended.body.state, 'ended');
    assert.equal(ended.body.startedAt, null);
  });

  test('ending a space clears its request queue and refuses stage actions', async () => {
    const fx = await stageFixture(t, { live: true });
    await t.api.post(`/api/spaces/${fx.id}/end`, { token: fx.tokens.host });

    const queue = await t.api.get(`/api/spaces/${fx.id}/requests`, { token: fx.tokens.host });
    assert.deepEqual(queue.body.requests, []);
    const mute = await t.api.post(`/api/spaces/${fx.id}/participants/s/mute`, { token: fx.tokens.host });
    assert.equal(mute.body.error.code, 'space_ended');
  });

  test('the start time can change while scheduled, not once live', async () => {
    const id = await createSpace(t, { live: false });
    const later = new Date(Date.now() + 7200_000).toISOString();
    const moved = await t.api.call('PATCH', `/api/spaces/${id}`, { token: t.operator, body: { scheduledStart: later } });
    assert.equal(moved.body.scheduledStart, later);

    await t.api.post(`/api/spaces/${id}/start`, { token: t.operator });
    const refused = await t.api.call('PATCH', `/api/spaces/${id}`, { token: t.operator, body: { scheduledStart: later } });
    assert.equal(refused.body.error.code, 'space_not_scheduled');
  });

  test('the host can turn recording off and on while live', async () => {
    const id = await createSpace(t, { live: true });
    const host = t.token(id, 'h', 'host');
    const off = await t.api.call('PATCH', `/api/spaces/${id}`, { token: host, body: { recording: false } });
    assert.equal(off.body.recording, false);
    const doc = await t.api.get(`/api/spaces/${id}/state`);
    assert.equal(doc.body.recording, false);
  });

  test('a listener joins a scheduled space in the lobby, and gets the playlist once it is live', async () => {
    const id = await createSpace(t, { live: false });
    const lobby = await t.api.post(`/api/spaces/${id}/join`);
    assert.equal(lobby.status, 200);
    assert.equal(lobby.body.space.state, 'scheduled');
    assert.equal(lobby.body.urls.playlist, null);
    assert.equal((await t.api.get(`/api/spaces/${id}/state`)).body.playlistUrl, undefined);

    await t.api.post(`/api/spaces/${id}/start`, { token: t.operator });
    const doc = await t.api.get(`/api/spaces/${id}/state`);
    assert.equal(doc.body.state, 'live');
    assert.equal(doc.body.playlistUrl, `${t.url}/hls/${id}/index.m3u8`);
    const live = await t.api.post(`/api/spaces/${id}/join`);
    assert.equal(live.body.urls.playlist, doc.body.playlistUrl);
  });

  test('listing filters by state, newest first', async () => {
    const scheduled = await createSpace(t, { live: false, title: 'listed-scheduled' });
    const live = await createSpace(t, { live: true, title: 'listed-live' });

    const lives = await t.api.get('/api/spaces?state=live&limit=500');
    assert.ok(lives.body.spaces.some((s: { id: string }) => s.id === live));
    assert.ok(lives.body.spaces.every((s: { state: string }) => s.state === 'live'));
    const all = await t.api.get('/api/spaces?limit=500');
    const ids = all.body.spaces.map((s: { id: string }) => s.id);
    assert.ok(ids.indexOf(live) < ids.indexOf(scheduled), 'newest first');
  });

  test('a heartbeat keeps a listener counted and the state document shows the count', async () => {
    const id = await createSpace(t, { live: true });
    const joins = await Promise.all([1, 2, 3].map(() => t.api.post(`/api/spaces/${id}/join`)));
    for (const j of joins) {
      const beat = await t.api.post(`/api/spaces/${id}/heartbeat`, { token: j.body.token });
      assert.equal(beat.status, 204);
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await t.api.get(`/api/spaces/${id}/state`)).body.listeners, 3);
  });
});
