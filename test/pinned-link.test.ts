/**
 * The pinned link (issue 26): the host or a co-host pins one http(s) link with a title; every
 * listener's page shows it — as text, never markup — from the state document; the replay keeps it.
 * Pinned from the host console in Chromium, seen on a listener's page in another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const HOSTILE_TITLE = 'Read <img src=x onerror="window.pwned=1"> & $& more';

describe('a pinned link', { timeout: 120_000 }, () => {
  let t: TestServer;
  let id: string;
  let hostUrl: string;
  let browser: Browser;
  const state = async () => (await t.api.get(`/api/spaces/${id}/state`)).body;
  const pin = (token: string, body: unknown) => t.api.call('PUT', `/api/spaces/${id}/pinned-link`, { token, body });

  before(async () => {
    t = await startTestServer();
    const created = await t.api.post('/api/spaces', {
      token: t.operator,
      body: { title: 'Pinned', host: { identity: 'h', name: 'Hana' }, startNow: true },
    });
    id = created.body.id;
    hostUrl = created.body.hostUrl;
    const cohost = t.token(id, 'c', 'cohost');
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token: cohost })).status, 200);
    browser = await launchBrowser({ noMicrophone: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('pinned by the host, replaced by a co-host, in the state document and the moderation log; listeners may not', async () => {
    const host = t.token(id, 'h', 'host');
    assert.equal((await pin(host, { url: 'https://example.com/first', title: 'First' })).status, 200);
    assert.equal((await state()).pinnedLink.url, 'https://example.com/first');
    const replaced = await pin(t.token(id, 'c', 'cohost'), { url: 'https://example.com/a?b=1&c=2#d', title: HOSTILE_TITLE });
    assert.equal(replaced.status, 200);
    assert.deepEqual(replaced.body.pinnedLink.title, HOSTILE_TITLE, 'kept as the text it is');
    const doc = await state();
    assert.equal(doc.pinnedLink.url, 'https://example.com/a?b=1&c=2#d');
    assert.equal(doc.pinnedLink.title, HOSTILE_TITLE);
    const log = (await t.api.get(`/api/spaces/${id}/actions`, { token: host })).body.actions;
    assert.deepEqual(
      log.filter((a: { action: string }) => a.action === 'link.pin').map((a: { actor: string }) => a.actor),
      ['h', 'c'],
    );
    const listener = await pin(t.token(id, 'l', 'listener'), { url: 'https://evil.example/', title: 'Mine' });
    assert.equal(listener.status, 403);
    assert.equal((await state()).pinnedLink.url, 'https://example.com/a?b=1&c=2#d', 'unchanged');
  });

  test('only http and https links, with a title of visible text', async () => {
    const host = t.token(id, 'h', 'host');
    for (const url of [
      'javascript:alert(1)',
      'data:text/html,<b>x</b>',
      'ftp://example.com/x',
      '/relative',
      'https://',
      'not a url',
      `https://x.com/${'a'.repeat(2100)}`,
    ]) {
      const refused = await pin(host, { url, title: 'Bad' });
      assert.equal(refused.status, 400, url);
      assert.equal(refused.body.error.code, 'validation_failed', url);
    }
    for (const title of ['', '   ', 'line\nbreak', 'x'.repeat(101)]) {
      assert.equal((await pin(host, { url: 'https://example.com/', title })).status, 400, JSON.stringify(title));
    }
    assert.equal((await pin(host, { url: 'https://example.com/', title: 'ok', extra: 1 })).body.error.code, 'unknown_field');
    assert.equal((await state()).pinnedLink.title, HOSTILE_TITLE, 'nothing refused changed it');
  });

  test('pinned from the host console, shown on a listener’s page as text, not markup', async () => {
    const hostPage = await (await browser.newContext()).newPage();
    await hostPage.goto(hostUrl);
    const form = hostPage.getByRole('form', { name: 'Pin a link' });
    await form.getByLabel('Pin a link').fill('https://example.org/notes');
    await form.getByLabel('Title').fill(HOSTILE_TITLE);
    await form.getByRole('button', { name: 'Pin', exact: true }).click();
    await hostPage.getByRole('status').filter({ hasText: 'Pinned.' }).waitFor();
    assert.equal((await state()).pinnedLink.url, 'https://example.org/notes');

    const listenerPage = await (await browser.newContext()).newPage();
    await listenerPage.goto(`${t.url}/s/${id}`);
    const link = listenerPage.getByRole('complementary', { name: 'Pinned link' }).getByRole('link');
    await link.waitFor();
    assert.equal(await link.textContent(), HOSTILE_TITLE);
    assert.equal(await link.getAttribute('href'), 'https://example.org/notes');
    assert.match((await link.getAttribute('rel')) ?? '', /noopener/);
    assert.equal(
      await listenerPage.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned),
      undefined,
      'the title ran nothing',
    );
    assert.equal(await listenerPage.locator('.pinned img').count(), 0);
  });

  test('the replay keeps it; an ended space cannot be changed', async () => {
    const host = t.token(id, 'h', 'host');
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    const doc = await state();
    assert.equal(doc.state, 'ended');
    assert.equal(doc.pinnedLink.url, 'https://example.org/notes');
    assert.equal((await t.api.get(`/api/spaces/${id}`)).body.pinnedLink.url, 'https://example.org/notes');
    const refused = await pin(host, { url: 'https://example.com/late', title: 'Late' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'space_ended');
    const unpin = await t.api.call('DELETE', `/api/spaces/${id}/pinned-link`, { token: host });
    assert.equal(unpin.status, 409);
  });
});
