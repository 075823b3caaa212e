/**
 * The web app's other paths, in headless Chromium: a speaker whose browser has no usable microphone
 * is told so in plain words (and nothing else breaks), and the operator signs in on the home page,
 * creates a space and lands in its host console; a link to a space that does not exist shows the
 * 404 page with a way home. None of it raises a Content-Security-Policy violation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './helpers/browser.js';
import { watchCsp } from './helpers/csp.js';
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
    const context = await browser.newContext();
    const csp = await watchCsp(context);
    const page = await context.newPage();
    await page.goto(`${t.url}/s/${id}#token=${token}`);
    await page
      .getByRole('alert')
      .filter({ hasText: /microphone is blocked or missing/ })
      .waitFor({ timeout: 15_000 });
    assert.ok(await page.getByRole('heading', { name: 'On stage' }).isVisible(), 'the rest of the page works');
    assert.deepEqual(csp.violations, []);
    await context.close();
  });

  test('the operator signs in on the home page, creates a space and lands in its host console', async () => {
    const context = await browser.newContext();
    const csp = await watchCsp(context);
    const page = await context.newPage();
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
    assert.deepEqual(csp.violations, [], 'the home page and the host console run under the CSP');
    await context.close();
  });

  test('a link to a space that does not exist shows the 404 page, styled, with a way home', async () => {
    const context = await browser.newContext();
    const csp = await watchCsp(context);
    const page = await context.newPage();
    const response = await page.goto(`${t.url}/s/gone-for-good`);
    assert.equal(response?.status(), 404);
    await page.getByRole('heading', { name: 'Nothing here' }).waitFor();
    // The app's script ran and left the server's page as it is; its stylesheet applies.
    await page.waitForLoadState('networkidle');
    assert.ok(await page.getByRole('heading', { name: 'Nothing here' }).isVisible());
    assert.equal(await page.locator('main.error-page').evaluate((el) => (globalThis as any).getComputedStyle(el).textAlign), 'center');
    await page.getByRole('link', { name: /home page/ }).click();
    await page.waitForURL(`${t.url}/`);
    assert.deepEqual(csp.violations, []);
    await context.close();
  });
});
