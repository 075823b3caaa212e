/**
 * The audience a host can act on (issue 26): listeners whose token carries a name (minted by the
 * operator's backend) are listed to the host and co-hosts, newest first and paged, and can be invited
 * to speak from the list in the host console; anonymous listeners are counted, not listed; a name is
 * gone a window after its last heartbeat.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WINDOW_S = 3;

describe('the audience list', { timeout: 120_000 }, () => {
  let t: TestServer;
  let id: string;
  let hostUrl: string;
  let browser: Browser | undefined;
  const list = (token: string, query = '') => t.api.get(`/api/spaces/${id}/audience${query}`, { token });

  before(async () => {
    t = await startTestServer({ listenerWindowSeconds: WINDOW_S });
    const created = await t.api.post('/api/spaces', {
      token: t.operator,
      body: { title: 'Who is here', host: { identity: 'h', name: 'Hana' }, startNow: true },
    });
    id = created.body.id;
    hostUrl = created.body.hostUrl;
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token: t.token(id, 'c', 'cohost') })).status, 200);
    for (const [identity, name] of [
      ['ana', 'Ana'],
      ['bo', 'Bo'],
      ['cy', 'Cy <b>'],
    ]) {
      const joined = await t.api.post(`/api/spaces/${id}/join`, { token: t.token(id, identity!, 'listener', { name }) });
      assert.equal(joined.status, 200, JSON.stringify(joined.body));
      await sleep(5);
    }
    for (let i = 0; i < 2; i++) assert.equal((await t.api.post(`/api/spaces/${id}/join`)).status, 200);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('named listeners newest first, a page at a time; anonymous ones counted, not listed', async () => {
    const host = t.token(id, 'h', 'host');
    const all = await list(host);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.listening, 5);
    assert.deepEqual(
      all.body.listeners.map((l: { identity: string; name: string }) => [l.identity, l.name]),
      [
        ['cy', 'Cy <b>'],
        ['bo', 'Bo'],
        ['ana', 'Ana'],
      ],
    );
    assert.equal(all.body.next, null);
    const first = await list(t.token(id, 'c', 'cohost'), '?limit=2');
    assert.deepEqual(
      first.body.listeners.map((l: { identity: string }) => l.identity),
      ['cy', 'bo'],
    );
    const second = await list(host, `?limit=2&after=${encodeURIComponent(first.body.next)}`);
    assert.deepEqual(
      second.body.listeners.map((l: { identity: string }) => l.identity),
      ['ana'],
    );
    assert.equal(second.body.next, null);
    assert.equal((await list(t.token(id, 'ana', 'listener'))).status, 403);
    assert.equal((await t.api.get(`/api/spaces/${id}/audience`)).status, 401);
    assert.equal((await list(host, '?limit=0')).status, 400);
  });

  test('invited from the list in the host console', async () => {
    browser = await launchBrowser({ noMicrophone: true });
    const page = await (await browser.newContext()).newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(hostUrl);
    const audience = page.getByRole('list', { name: 'Audience' });
    await audience.getByText('Cy <b>').waitFor();
    assert.equal(await audience.getByRole('listitem').count(), 3);
    await audience.getByRole('button', { name: 'Invite Ana to speak' }).click();
    await page.getByRole('status').filter({ hasText: 'Invited Ana.' }).waitFor();
    const tag = (await t.api.get(`/api/spaces/${id}/invite-tag`, { token: t.token(id, 'ana', 'listener') })).body.inviteTag;
    assert.ok((await t.api.get(`/api/spaces/${id}/state`)).body.invited.includes(tag), 'Ana is invited');
  });

  test('a name is gone a window after its last heartbeat; a heartbeat keeps it', async () => {
    const listener = t.token(id, 'bo', 'listener', { name: 'Bo' });
    const heartbeats = setInterval(() => void t.api.post(`/api/spaces/${id}/heartbeat`, { token: listener }), 500);
    try {
      await sleep(WINDOW_S * 1000 + 1000);
      const left = await list(t.token(id, 'h', 'host'));
      assert.deepEqual(
        left.body.listeners.map((l: { identity: string }) => l.identity),
        ['bo'],
      );
    } finally {
      clearInterval(heartbeats);
    }
  });
});
