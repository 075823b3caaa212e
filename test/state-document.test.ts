/**
 * The space state document: what it shows, that a shared cache may hold it for a second (ETag, 304),
 * that it changes when the stage does, and that nothing private is in it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stageFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('state document', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('it shows title, state, times, the stage with roles and mutes, listeners, reactions and the playlist', async () => {
    const fx = await stageFixture(t, { live: true });
    await t.api.post(`/api/spaces/${fx.id}/reactions`, { token: fx.tokens.listener, body: { emoji: '❤️' } });

    const doc = (await t.api.get(`/api/spaces/${fx.id}/state`)).body;

    assert.equal(doc.title, 'Fixture');
    assert.equal(doc.state, 'live');
    assert.ok(Date.parse(doc.startedAt) > 0);
    assert.deepEqual(
      doc.stage.map((m: { identity: string; role: string; muted: boolean; talking: boolean }) => [m.identity, m.role, m.muted, m.talking]),
      [
        ['h', 'host', false, false],
        ['c', 'cohost', true, false],
        ['s', 'speaker', true, false],
        ['s2', 'speaker', true, false],
      ],
    );
    assert.equal(typeof doc.listeners, 'number');
    assert.deepEqual(doc.reactions['❤️'], 1);
    assert.equal(doc.playlistUrl, `${t.url}/hls/${fx.id}/index.m3u8`);
  });

  test('it is cacheable for one second by a shared cache and answers 304 to a matching ETag', async () => {
    const fx = await stageFixture(t, { live: true });
    const first = await t.api.get(`/api/spaces/${fx.id}/state`);
    assert.equal(first.headers.get('cache-control'), 'public, max-age=1');
    const etag = first.headers.get('etag');
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);

    const revalidated = await t.api.get(`/api/spaces/${fx.id}/state`, { headers: { 'if-none-match': etag! } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body, '');
    assert.equal(revalidated.headers.get('etag'), etag);

    const other = await t.api.get(`/api/spaces/${fx.id}/state`, { headers: { 'if-none-match': '"stale"' } });
    assert.equal(other.status, 200);
  });

  test('an unchanged space keeps its ETag across rebuilds, and a mute changes it at once', async () => {
    const fx = await stageFixture(t, { live: true });
    const etag = (await t.api.get(`/api/spaces/${fx.id}/state`)).headers.get('etag');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await t.api.get(`/api/spaces/${fx.id}/state`)).headers.get('etag'), etag, 'same content, same ETag');

    await t.api.post(`/api/spaces/${fx.id}/participants/h/mute`, { token: fx.tokens.cohost });
    const after = await t.api.get(`/api/spaces/${fx.id}/state`, { headers: { 'if-none-match': etag! } });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.get('etag'), etag);
    assert.equal(after.body.stage[0].muted, true);
  });

  test('it never holds tokens, the request queue or who asked to speak', async () => {
    const fx = await stageFixture(t, { live: true });
    const res = await t.api.get(`/api/spaces/${fx.id}/state`);
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes('eyJ'), 'no token');
    assert.ok(!text.includes('"l2"'), 'l2 asked to speak; the public document must not say so');
    assert.ok(!/request/i.test(text));
  });
});

describe('pages', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('the share link serves a page with the title escaped, and the home page lists live spaces', async () => {
    const created = await t.api.post('/api/spaces', {
      token: t.operator,
      body: { title: '<script>alert(1)</script> & friends', startNow: true },
    });
    const share = await t.api.get(`/s/${created.body.id}`);
    assert.equal(share.status, 200);
    assert.match(share.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(share.body.includes('&#60;script&#62;alert(1)&#60;/script&#62; &#38; friends'));
    assert.ok(!share.body.includes('<script>alert(1)'));

    const home = await t.api.get('/');
    assert.ok(home.body.includes(`/s/${created.body.id}`));
  });

  test('the share link of an unknown space is a coded 404', async () => {
    const res = await t.api.get('/s/NoSuchSpace');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'space_not_found');
  });
});
