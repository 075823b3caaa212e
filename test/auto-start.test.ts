/**
 * Auto-start: a space created with autoStart goes live by itself at its scheduled start — within a
 * second, logged as done by `auto-start` — also when its node was stopped and started again in
 * between, and a listener waiting on its page (Chromium) hears it without a click; it needs a start time; the host can switch it on and off while the space is scheduled;
 * and the scheduled space is a calendar event (RFC 5545) that an independent parser (ical.js) reads,
 * updated when its time moves.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import ICAL from 'ical.js';
import type { Browser } from 'playwright-core';
import { createToken } from '../src/control/tokens.js';
import { launchBrowser } from './helpers/browser.js';
import { Api } from './helpers/http.js';
import { freePort, spawnServer, startTestServer, type TestServer, tempDir } from './helpers/server.js';

/** Polls a space's state document until it is live; the time it went live by its own account, and when that was seen. */
async function wentLive(api: Api, id: string, timeoutMs: number): Promise<{ startedAt: number; seenAt: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = (await api.get(`/api/spaces/${id}/state`)).body as { state: string; startedAt: string | null };
    if (state.state === 'live') return { startedAt: Date.parse(state.startedAt!), seenAt: Date.now() };
    await sleep(50);
  }
  throw new Error(`space ${id} did not go live within ${timeoutMs} ms`);
}

/**
 * A listener waiting on the space's share page from now on, who never clicks: resolves with the time
 * its audio element was playing the broadcast (its clock past half a second).
 */
async function lobbyListener(browser: Browser, pageUrl: string, timeoutMs: number): Promise<number> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(pageUrl);
  await page.locator('#listen[data-state="waiting"]').waitFor({ timeout: 10_000 });
  await page.waitForFunction(
    () => {
      const audio = (globalThis as any).document.getElementById('player');
      return audio && !audio.paused && audio.currentTime > 0.5;
    },
    undefined,
    { timeout: timeoutMs, polling: 50 },
  );
  return Date.now();
}

describe('auto-start', () => {
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

  const create = (body: Record<string, unknown>) =>
    t.api.post('/api/spaces', { token: t.operator, body: { title: 'On its own', host: { identity: 'h', name: 'Hana' }, ...body } });

  test('a space scheduled 5 s ahead goes live by itself within a second of its time', async () => {
    const at = Date.now() + 5000;
    const created = await create({ scheduledStart: new Date(at).toISOString(), autoStart: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.autoStart, true);
    assert.equal((await t.api.get(`/api/spaces/${created.body.id}/state`)).body.autoStart, true, 'the lobby can say so');
    const heard = lobbyListener(browser, `${t.url}/s/${created.body.id}`, 15_000);
    const { startedAt, seenAt } = await wentLive(t.api, created.body.id, 10_000);
    assert.ok(startedAt >= at - 1000 && startedAt <= at + 1000, `went live ${startedAt - at} ms from its time`);
    console.log(`# went live ${startedAt - at} ms after its time (seen ${seenAt - at} ms after)`);
    console.log(`# the listener waiting on its page, no click: playing ${(await heard) - at} ms after its time`);
    const log = await t.api.get(`/api/spaces/${created.body.id}/actions`, { token: t.operator });
    assert.ok(
      log.body.actions.some((a: { actor: string; action: string }) => a.actor === 'auto-start' && a.action === 'space.start'),
      JSON.stringify(log.body),
    );
  });

  test('without a start time it cannot start by itself: a coded 400, on create and on update', async () => {
    const refused = await create({ autoStart: true });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'auto_start_needs_time');
    const plain = await create({});
    const host = t.token(plain.body.id, 'h', 'host');
    const patched = await t.api.call('PATCH', `/api/spaces/${plain.body.id}`, { token: host, body: { autoStart: true } });
    assert.equal(patched.status, 400);
    assert.equal(patched.body.error.code, 'auto_start_needs_time');
  });

  test('the host switches it off and on while the space is scheduled: off, it waits for Go live', async () => {
    const at = Date.now() + 1500;
    const created = await create({ scheduledStart: new Date(at).toISOString(), autoStart: true });
    const host = t.token(created.body.id, 'h', 'host');
    const off = await t.api.call('PATCH', `/api/spaces/${created.body.id}`, { token: host, body: { autoStart: false } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.autoStart, false);
    await sleep(at - Date.now() + 1500);
    assert.equal((await t.api.get(`/api/spaces/${created.body.id}/state`)).body.state, 'scheduled', 'still waiting for the host');
    const later = Date.now() + 1500;
    const on = await t.api.call('PATCH', `/api/spaces/${created.body.id}`, {
      token: host,
      body: { autoStart: true, scheduledStart: new Date(later).toISOString() },
    });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    const { startedAt } = await wentLive(t.api, created.body.id, 5000);
    assert.ok(Math.abs(startedAt - later) <= 1000, `went live ${startedAt - later} ms from its new time`);
    const live = await t.api.call('PATCH', `/api/spaces/${created.body.id}`, { token: host, body: { autoStart: false } });
    assert.equal(live.status, 409, 'a live space has nothing left to start');
  });

  test('the calendar event: read by ical.js, updated when the time moves; none for a space without a time', async () => {
    const at = Date.parse('2031-06-01T18:30:00Z');
    const created = await create({ title: 'Town hall; Q&A, part 2', scheduledStart: new Date(at).toISOString() });
    const id = created.body.id as string;
    const read = async () => {
      const res = await fetch(`${t.url}/api/spaces/${id}/calendar.ics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/calendar/);
      const event = new ICAL.Event(new ICAL.Component(ICAL.parse(await res.text())).getFirstSubcomponent('vevent')!);
      return event;
    };
    const event = await read();
    assert.equal(event.summary, 'Town hall; Q&A, part 2', 'escaped and read back as it was');
    assert.equal(event.startDate.toJSDate().getTime(), at);
    assert.ok(event.endDate.toJSDate().getTime() > at);
    assert.match(event.uid, new RegExp(`^${id}@`));
    assert.match(event.description, new RegExp(`/s/${id}`), 'the share link');
    assert.equal(event.component.getFirstPropertyValue('url'), created.body.listenUrl);
    const host = t.token(id, 'h', 'host');
    await sleep(1100); // the sequence counts seconds
    const moved = at + 3_600_000;
    assert.equal(
      (await t.api.call('PATCH', `/api/spaces/${id}`, { token: host, body: { scheduledStart: new Date(moved).toISOString() } })).status,
      200,
    );
    const again = await read();
    assert.equal(again.uid, event.uid, 'the same event');
    assert.equal(again.startDate.toJSDate().getTime(), moved, 'at its new time');
    assert.ok(again.sequence > event.sequence, 'a higher SEQUENCE replaces the old one');
    const unscheduled = await create({});
    const none = await fetch(`${t.url}/api/spaces/${unscheduled.body.id}/calendar.ics`);
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'calendar_not_found');
  });
});

test('auto-start survives a restart: a node stopped before the time and started again starts the space on time', async () => {
  const dataDir = tempDir();
  const port = await freePort();
  let server = await spawnServer(dataDir, {}, port);
  const browser = await launchBrowser({ noMicrophone: true });
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const api = new Api(server.url);
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const at = Date.now() + 9000;
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Across a restart', host: { identity: 'h' }, scheduledStart: new Date(at).toISOString(), autoStart: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // A listener waits on the page across the restart (its polls fail meanwhile) and never clicks.
    const heard = lobbyListener(browser, `${server.url}/s/${created.body.id}`, 20_000);
    await sleep(1500);
    server.child.kill('SIGKILL');
    await server.exited;
    await sleep(1000);
    server = await spawnServer(dataDir, {}, port);
    assert.ok(Date.now() < at, 'back before the time');
    const { startedAt } = await wentLive(api, created.body.id, 10_000);
    assert.ok(Math.abs(startedAt - at) <= 1000, `went live ${startedAt - at} ms from its time`);
    console.log(`# across a restart: the listener waiting on its page playing ${(await heard) - at} ms after its time`);
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
