/**
 * Host analytics (issue 26): a space that ran `rostrum loadtest` with 200 listeners reports the load
 * test's own counts — peak, unique listeners, listening minutes — within 2 %; the replay's plays and
 * downloads and the time on stage are counted; the chart renders in the host console in Chromium
 * (its screenshot, with ROSTRUM_SCREENSHOT_DIR set, is the README's).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createToken } from '../src/control/tokens.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { launchBrowser } from './helpers/browser.js';
import { Api } from './helpers/http.js';
import { type ChildServer, runCli, spawnServer, tempDir } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LISTENERS = 200;

describe('analytics of a space that ran a load test', { timeout: 180_000 }, () => {
  let server: ChildServer;
  let api: Api;
  let dataDir: string;
  let id: string;
  let host: string;
  let hostUrl: string;
  let report: LoadReport;
  let seatedMs: number;
  let liveMs: number;
  let browser: Browser | undefined;

  before(async () => {
    dataDir = tempDir();
    server = await spawnServer(dataDir, { ROSTRUM_TALLY_INTERVAL_MS: '1000' });
    api = new Api(server.url);
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Counted', host: { identity: 'h', name: 'Hana' }, startNow: true },
    });
    id = created.body.id;
    hostUrl = created.body.hostUrl;
    const liveAt = Date.now();
    host = createToken({ ...creds, identity: 'h', space: id, role: 'host' });
    const guest = createToken({ ...creds, identity: 'g', name: 'Gus', space: id, role: 'speaker' });
    assert.equal((await api.post(`/api/spaces/${id}/stage`, { token: guest })).status, 200);
    const seatedAt = Date.now();
    const json = path.join(dataDir, 'loadtest.json');
    const run = await runCli(
      [
        'loadtest',
        '--space',
        id,
        '--listeners',
        String(LISTENERS),
        '--ramp',
        '5',
        '--duration',
        '25',
        '--media',
        'none',
        '--reactions-per-min',
        '6',
        '--json',
        json,
      ],
      { ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    report = JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
    assert.equal((await api.call('DELETE', `/api/spaces/${id}/stage`, { token: guest })).status, 200);
    seatedMs = Date.now() - seatedAt;
    assert.equal((await api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    liveMs = Date.now() - liveAt;
  });
  after(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  test('peak, unique listeners and listening minutes match the load test’s own counts within 2 %', async (t) => {
    const a = (await api.get(`/api/spaces/${id}/analytics`, { token: host })).body;
    // The load test's listeners at the end of each second, from none at its start to its last second,
    // held to its end (--duration): the area under them.
    let simulatedMinutes = 0;
    const last = report.series.reduce(
      (before, s) => {
        simulatedMinutes += (((before.listeners + s.listeners) / 2) * (s.t - before.t)) / 60;
        return s;
      },
      { t: 0, listeners: 0 },
    );
    simulatedMinutes += (last.listeners * Math.max(0, report.durationSeconds - last.t)) / 60;
    const simulatedPeak = Math.max(...report.series.map((s) => s.listeners));
    t.diagnostic(
      `analytics: peak ${a.listeners.peak}, unique ${a.listeners.unique}, ${a.listeners.minutes} listening minutes, ${a.listeners.points.length} points; load test: ${report.joined} joined, peak ${simulatedPeak}, ${simulatedMinutes.toFixed(1)} listener-minutes`,
    );
    assert.equal(report.joined, LISTENERS);
    const within = (value: number, reference: number, what: string) =>
      assert.ok(Math.abs(value - reference) <= reference * 0.02, `${what}: ${value} against the load test's ${reference}`);
    within(a.listeners.peak, simulatedPeak, 'peak');
    within(a.listeners.unique, report.joined, 'unique listeners');
    within(a.listeners.minutes, simulatedMinutes, 'listening minutes');
    assert.ok(a.listeners.points.length >= 20, 'a point per tally');
    assert.ok(Object.values(a.reactions.total as Record<string, number>).reduce((s, n) => s + n, 0) > 0, 'reactions counted');
    const state = (await api.get(`/api/spaces/${id}/state`)).body;
    assert.deepEqual(a.reactions.total, state.reactions, 'the same totals as the state document');
    const perPoint = (a.reactions.points as Array<{ counts: Record<string, number> }>).flatMap((p) => Object.values(p.counts));
    assert.ok(perPoint.reduce((s, n) => s + n, 0) <= Object.values(state.reactions as Record<string, number>).reduce((s, n) => s + n, 0));
  });

  test('time on stage, and the replay’s plays and downloads', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${server.url}/hls/${id}/index.m3u8`)).status, 200);
    let file = await fetch(`${server.url}/api/spaces/${id}/recording.m4a`);
    for (let i = 0; i < 50 && file.status === 503; i++) {
      await sleep(200);
      file = await fetch(`${server.url}/api/spaces/${id}/recording.m4a`);
    }
    assert.equal(file.status, 200);
    await file.arrayBuffer();
    const rest = await fetch(`${server.url}/api/spaces/${id}/recording.m4a`, { headers: { range: 'bytes=100-' } });
    await rest.arrayBuffer();
    await sleep(6000); // the counts are added to the store every 5 s
    const a = (await api.get(`/api/spaces/${id}/analytics`, { token: host })).body;
    assert.deepEqual(a.replay, { plays: 2, downloads: 1 });
    const seconds = Object.fromEntries((a.speakers as Array<{ identity: string; seconds: number }>).map((s) => [s.identity, s.seconds]));
    assert.ok(Math.abs((seconds.g ?? 0) - seatedMs / 1000) <= 2, `Gus on stage ${seconds.g} s of ${seatedMs / 1000}`);
    assert.ok(Math.abs((seconds.h ?? 0) - liveMs / 1000) <= 2, `the host ${seconds.h} s of ${liveMs / 1000}`);
    const listener = await api.get(`/api/spaces/${id}/analytics`, {
      token: createToken({
        ...JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8')),
        identity: 'l',
        space: id,
        role: 'listener',
      }),
    });
    assert.equal(listener.status, 403);
    assert.equal((await api.get(`/api/spaces/${id}/analytics`)).status, 401);
  });

  test('the chart renders in the host console in Chromium', async () => {
    browser = await launchBrowser({ noMicrophone: true });
    const page = await (await browser.newContext({ viewport: { width: 900, height: 1200 } })).newPage();
    await page.goto(hostUrl);
    const panel = page.getByRole('region', { name: 'Analytics' });
    await panel.waitFor();
    const chart = panel.getByRole('img', { name: /Listeners over the show/ });
    await chart.waitFor();
    const line = await chart.locator('polyline').getAttribute('points');
    assert.ok((line?.split(' ').length ?? 0) >= 20, 'a point per tally on the line');
    assert.ok((await chart.locator('rect').count()) > 0, 'reaction bars');
    const peak = Number(await panel.locator('[data-figure="peak"]').textContent());
    assert.ok(peak >= LISTENERS * 0.98);
    const dir = process.env.ROSTRUM_SCREENSHOT_DIR ?? tempDir();
    await panel.screenshot({ path: path.join(dir, 'analytics.png') });
  });
});
