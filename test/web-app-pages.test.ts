/**
 * The web app's other paths, in headless Chromium: a speaker whose browser has no usable microphone
 * is told so in plain words (and nothing else breaks), and the operator signs in on the home page,
 * creates a space and lands in its host console.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './helpers/browser.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('the web app: no microphone, and the operator’s home page', () => {
  let t: TestServer;
  let browser: Browser;
  before(async () => {
    t = await startTestServer();
    browser = await launchBrowser({ noMicrophone: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('a speaker without a usable microphone gets a clear message', async () => {
    const id = await createSpace(t, { live: true });
    const token = t.token(id, 'mic-less', 'speaker', { name: 'Mic Less' });
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    const page = await browser.newPage();
    await page.goto(`${t.url}/s/${id}#token=${token}`);
    await page
      .getByRole('alert')
      .filter({ hasText: /microphone is blocked or missing/ })
      .waitFor({ timeout: 15_000 });
    assert.ok(await page.getByRole('heading', { name: 'On stage' }).isVisible(), 'the rest of the page works');
    await page.close();
  });

  test('the operator signs in on the home page, creates a space and lands in its host console', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    await page.getByText('New space (operator)').click();
    await page.getByLabel('Operator token').fill(t.operator);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Title').fill('Made in the browser');
    await page.getByLabel('Host name').fill('Olu Operator');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Made in the browser' }).waitFor({ timeout: 10_000 });
    await page.getByRole('region', { name: 'Host console' }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Go live' }).isVisible(), 'the host can go live');
    const spaces = (await t.api.get('/api/spaces?state=scheduled')).body.spaces as Array<{ title: string; host: { name: string } }>;
    assert.ok(spaces.some((s) => s.title === 'Made in the browser' && s.host.name === 'Olu Operator'));
    await page.close();
  });
});
