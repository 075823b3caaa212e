/**
 * A real browser on the stage: headless Chromium, its fake microphone playing an 880 Hz WAV, joins
 * through web/stage-client.js (trickle ICE, Opus) next to a werift bot speaker at 440 Hz. The bot
 * hears the browser, the browser hears the bot (measured in the page with an AnalyserNode), and
 * neither hears itself; the browser's self-mute silences it for the bot; a reloaded page is back on
 * stage within 5 s.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel, toneFrame } from '../src/bots/tone.js';
import { writeWav } from '../src/bots/wav.js';
import { launchBrowser } from './helpers/browser.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer, tempDir } from './helpers/server.js';

const PRESENT = 2e-3;
const ABSENT = 2e-4;
/** RFC 7714's SRTP protection profile AEAD_AES_128_GCM, as any Chromium version names it in getStats(). */
const AES_128_GCM = /^(SRTP_)?AEAD_AES_128_GCM$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Joins the stage from the page; resolves with the message types the page sent once media is live. */
async function joinFromPage(page: Page, token: string, spaceId: string): Promise<string[]> {
  return page.evaluate(
    async ({ token, spaceId }) => {
      const { StageClient } = await import('/assets/stage-client.js' as string);
      // Noise suppression takes a steady tone for noise: the test tone goes in unprocessed.
      const raw = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
      const microphone = () => (globalThis as any).navigator.mediaDevices.getUserMedia({ audio: raw });
      const stage = new StageClient({ token, spaceId, microphone });
      const sent: string[] = [];
      const send = stage.send.bind(stage);
      stage.send = (m: { type: string }) => {
        sent.push(m.type);
        send(m);
      };
      (globalThis as any).stage = stage;
      const live = new Promise<void>((resolve, reject) => {
        stage.addEventListener('state', (e: { detail: string }) => e.detail === 'live' && resolve());
        stage.addEventListener('error', (e: { detail: any }) => reject(new Error(String(e.detail?.message ?? e.detail))));
        setTimeout(() => reject(new Error(`not live after 15 s: ${stage.state}`)), 15_000);
      });
      await stage.start();
      await live;
      return sent;
    },
    { token, spaceId },
  );
}

/** In the page: the level (dB) at `hz` of everything the stage client plays, averaged over `ms`. */
async function heardInPage(page: Page, hz: number, ms = 1000): Promise<number> {
  return page.evaluate(
    async ({ hz, ms }) => {
      // This runs in the page; the test build has no DOM types, hence the `any`.
      const page = globalThis as any;
      const ctx = new page.AudioContext();
      await ctx.resume();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      for (const audio of page.document.querySelectorAll('audio')) {
        if (audio.srcObject) ctx.createMediaStreamSource(audio.srcObject).connect(analyser);
      }
      const bins = new Float32Array(analyser.frequencyBinCount);
      const bin = Math.round(hz / (ctx.sampleRate / analyser.fftSize));
      let sum = 0;
      let n = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        analyser.getFloatFrequencyData(bins);
        sum += Math.max(bins[bin - 1]!, bins[bin]!, bins[bin + 1]!);
        n++;
      }
      await ctx.close();
      return sum / n;
    },
    { hz, ms },
  );
}

describe('a browser speaker on the stage', () => {
  let t: TestServer;
  let id: string;
  let browser: Browser;
  let page: Page;
  let bot: SpeakerBot;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
    // The fake microphone: 2 s of 880 Hz, looped by Chromium.
    const wav = path.join(tempDir(), 'mic-880.wav');
    writeWav(wav, Buffer.concat(Array.from({ length: 100 }, (_, i) => toneFrame(880, i))));
    browser = await launchBrowser({ microphoneWav: wav });
    page = await browser.newPage();
    for (const who of ['web', 'bot']) {
      const token = t.token(id, who, 'speaker');
      assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
      assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
    }
    bot = await SpeakerBot.join({ server: t.url, token: t.token(id, 'bot', 'speaker'), toneHz: 440 });
    await page.goto(`${t.url}/s/${id}`);
  });
  after(async () => {
    await bot?.close();
    await browser?.close();
    await t?.close();
  });

  test('Chromium publishes its microphone with trickle ICE and the bot hears it; each hears the other, not itself', async () => {
    const sent = await joinFromPage(page, t.token(id, 'web', 'speaker'), id);
    assert.equal(sent[0], 'offer', `the offer goes out before gathering ends: ${sent.join(',')}`);
    assert.ok(sent.filter((type) => type === 'candidate').length >= 1, `candidates trickle after the offer: ${sent.join(',')}`);

    await sleep(500);
    const since = Date.now();
    await sleep(1500);
    const atBot = bot.heardSince(since);
    assert.ok(goertzel(atBot, 880) > PRESENT, `the bot hears the browser's 880 Hz (${goertzel(atBot, 880)})`);
    assert.ok(goertzel(atBot, 440) < ABSENT, `the bot does not hear itself (${goertzel(atBot, 440)})`);

    const bot440 = await heardInPage(page, 440);
    const self880 = await heardInPage(page, 880);
    assert.ok(bot440 - self880 > 20, `the page hears the bot's 440 Hz (${bot440} dB) well above its own 880 Hz (${self880} dB)`);

    const doc = (await t.api.get(`/api/spaces/${id}/state`)).body;
    assert.equal(doc.stage.find((m: { identity: string }) => m.identity === 'web').talking, true, 'the browser speaker shows as talking');
  });

  test('Chromium reads the server’s compound sender reports for the slot it hears the bot in', async () => {
    // Sender reports go out every 0.5–1.5 s; Chromium shows each stream's latest as remote-outbound-rtp.
    const deadline = Date.now() + 4000;
    let reports: Array<{ packetsSent: number; reportsSent: number }> = [];
    while (Date.now() < deadline) {
      reports = await page.evaluate(async () => {
        const stats = await (globalThis as any).stage.pc.getStats();
        return [...stats.values()]
          .filter((s: { type: string }) => s.type === 'remote-outbound-rtp')
          .map((s: { packetsSent: number; reportsSent: number }) => ({ packetsSent: s.packetsSent, reportsSent: s.reportsSent }));
      });
      if (reports.some((r) => r.packetsSent > 0)) break;
      await sleep(250);
    }
    const heard = reports.find((r) => r.packetsSent > 0);
    assert.ok(heard && heard.reportsSent >= 1, `a sender report counts the bot's packets: ${JSON.stringify(reports)}`);
    // The server is the DTLS server and picks AES-GCM, which Chromium offers: its SRTP takes the fast path.
    const ciphers = await page.evaluate(async () => {
      const stats = await (globalThis as any).stage.pc.getStats();
      return [...stats.values()].filter((s: { type: string }) => s.type === 'transport').map((s: { srtpCipher?: string }) => s.srtpCipher);
    });
    // What matters is that AES-128-GCM was negotiated, not how one Chromium spells the profile's name in
    // its stats: earlier versions read "SRTP_AEAD_AES_128_GCM", the ones Debian ships now (150, 156) read RFC 7714’s
    // own name "AEAD_AES_128_GCM". Either spelling passes; AES-CM or a second transport fails.
    assert.equal(ciphers.length, 1, `one bundled transport: ${JSON.stringify(ciphers)}`);
    assert.match(String(ciphers[0]), AES_128_GCM, `the SRTP profile is AES-128-GCM: ${ciphers[0]}`);
  });

  test('self-mute from the page silences it for the bot; unmuting brings it back', async () => {
    await page.evaluate(() => (globalThis as any).stage.setMuted(true));
    const mutedAt = Date.now();
    await sleep(800);
    assert.ok(goertzel(bot.heardSince(mutedAt + 300), 880) < ABSENT, 'no 880 Hz after the mute');
    await page.evaluate(() => (globalThis as any).stage.setMuted(false));
    const unmutedAt = Date.now();
    // Looked for in the last 400 ms, as the reload test does: a longer window can span two of the
    // bot's receive slots (the voice may come back on another), which heardSince sums unaligned.
    let level = 0;
    while (level <= PRESENT && Date.now() - unmutedAt < 2000) {
      await sleep(200);
      level = goertzel(bot.heardSince(Date.now() - 400), 880);
    }
    assert.ok(level > PRESENT, `the 880 Hz is back within 2 s of unmuting (${level})`);
    console.log(`# the 880 Hz was back ${Date.now() - unmutedAt} ms after unmuting`);
  });

  test('a reloaded page is back on stage and heard within 5 s', async () => {
    const reloadedAt = Date.now();
    await page.reload();
    await joinFromPage(page, t.token(id, 'web', 'speaker'), id);
    const liveAfter = Date.now() - reloadedAt;
    await sleep(500);
    assert.ok(goertzel(bot.heardSince(Date.now() - 400), 880) > PRESENT, 'heard again');
    assert.ok(Date.now() - reloadedAt < 5000, `back within 5 s (live after ${liveAfter} ms)`);
  });
});
