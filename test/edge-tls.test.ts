/**
 * Rostrum as a stranger deploys it: behind the shipped nginx edge terminating TLS (HTTP/2, a
 * certificate for the site's name), with ROSTRUM_PUBLIC_URL on https:// and the origin trusting the
 * edge as the shipped origin settings say. Headless Chromium — a secure context, as browsers off
 * localhost need for a microphone — opens the host's link, goes on stage with its fake microphone
 * over wss:// through the edge, and a bot speaker on the stage hears it. Everything the API hands out
 * is an https:// link.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { rms } from '../src/audio/levels.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { chimeFrame } from '../src/bots/tone.js';
import { writeWav } from '../src/bots/wav.js';
import { launchBrowser } from './helpers/browser.js';
import { Api } from './helpers/http.js';
import { type NginxEdge, startEdge } from './helpers/nginx.js';
import { freePort, startTestServer, type TestServer, tempDir } from './helpers/server.js';

const HOST = 'rostrum.test';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('through the TLS edge', () => {
  let t: TestServer;
  let edge: NginxEdge;
  let browser: Browser;
  let page: Page;
  let bot: SpeakerBot;
  let id: string;
  let hostUrl: string;
  let publicUrl: string;

  before(async () => {
    const tlsPort = await freePort();
    publicUrl = `https://${HOST}:${tlsPort}`;
    // One machine: the stage stays on loopback, where the bot (and Chromium) reach it.
    t = await startTestServer({ publicUrl, trustProxy: ['127.0.0.1'], rtcListenIp: '127.0.0.1' });
    // The server hands out its public URL; the test and the edge reach it where it listens.
    const origin = `127.0.0.1:${(t.server.app.server.address() as AddressInfo).port}`;
    const api = new Api(`http://${origin}`);
    edge = await startEdge(origin, { tlsHost: HOST, tlsPort });
    const created = await api.post('/api/spaces', {
      token: t.operator,
      body: { title: 'Over TLS', host: { identity: 'h', name: 'Hana' }, startNow: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
    hostUrl = created.body.hostUrl;
    const token = t.token(id, 'bot', 'speaker');
    assert.equal((await api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    bot = await SpeakerBot.join({ server: `http://${origin}`, token });
    // The demo chime, not a steady tone: the app asks for noise suppression, which takes a steady tone for noise.
    const wav = path.join(tempDir(), 'chime.wav');
    writeWav(wav, Buffer.concat(Array.from({ length: 160 }, (_, i) => chimeFrame(i, 0.4))));
    browser = await launchBrowser({
      microphoneWav: wav,
      // The site's name resolves to the edge, whose certificate (and only it) the browser trusts.
      args: [`--host-resolver-rules=MAP ${HOST} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${edge.certificate.spki}`],
    });
    page = await browser.newPage();
  });
  after(async () => {
    await bot?.close();
    await browser?.close();
    await edge?.stop();
    await t?.close();
  });

  test('every link the API hands out is https:// on the public name', () => {
    assert.ok(hostUrl.startsWith(`${publicUrl}/s/${id}`), hostUrl);
  });

  test('Chromium opens the host link over HTTPS (HTTP/2, a secure context) and goes on stage over wss://; the bot hears it', async () => {
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(hostUrl);
    const context = await page.evaluate(() => {
      const g = globalThis as any;
      return { secure: g.isSecureContext, protocol: g.performance.getEntriesByType('navigation')[0]?.nextHopProtocol };
    });
    assert.deepEqual(context, { secure: true, protocol: 'h2' });
    await page.locator('.speaker-state[data-state="live"]').waitFor({ timeout: 20_000 });
    assert.ok(
      sockets.some((url) => url.startsWith(`wss://${HOST}:`) && url.endsWith('/rtc')),
      `the stage socket is wss:// through the edge: ${sockets.join(', ')}`,
    );
    // The host is on stage unmuted from the start (only speakers who join come in muted).
    await sleep(1500);
    const since = Date.now();
    await sleep(3200);
    const heard = rms(bot.heardSince(since));
    assert.ok(heard > 0.01, `the bot hears the browser's chime through the TLS edge (rms ${heard})`);
  });

  test('the broadcast plays through the same edge over HTTPS', async () => {
    const ok = await page.evaluate(async (id) => {
      const res = await fetch(`/hls/${id}/index.m3u8`);
      return { status: res.status, type: res.headers.get('content-type'), body: (await res.text()).slice(0, 7) };
    }, id);
    assert.deepEqual(ok, { status: 200, type: 'application/vnd.apple.mpegurl', body: '#EXTM3U' });
  });
});
