/**
 * The web app end to end, in headless Chromium with a fake microphone (the demo chime, which noise
 * suppression leaves alone), three people at once: a host who schedules, goes live and talks; a
 * listener waiting in the lobby who hears the broadcast without reloading, reacts, and sees the
 * replay; and a listener who asks to speak, is approved, is heard by the host and is muted by them.
 * Through all of it — the host console, the lobby, the live listen page playing, the replay — no
 * page raises a Content-Security-Policy violation.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chimeFrame } from '../src/bots/tone.js';
import { writeWav } from '../src/bots/wav.js';
import { launchBrowser } from './helpers/browser.js';
import { type CspWatch, watchCsp } from './helpers/csp.js';
import { startTestServer, type TestServer, tempDir } from './helpers/server.js';

/**
 * In the page: the loudest RMS (0–1) over `ms` of the broadcast player (and how far its media time
 * advanced), or of what the stage client plays (the other speakers, over WebRTC).
 */
async function loudest(page: Page, what: 'player' | 'stage', ms: number): Promise<{ rms: number; advanced: number }> {
  return page.evaluate(
    async ({ what, ms }) => {
      const g = globalThis as any;
      const audio = g.document.getElementById('player');
      // The player's element stays routed through one context for good; the stage's streams do not.
      if (what === 'player') g.__ctx ??= new g.AudioContext();
      const ctx = what === 'player' ? g.__ctx : new g.AudioContext();
      const analyser = ctx.createAnalyser();
      if (what === 'player') {
        // A media element can feed one source node only: keep it across calls.
        g.__player ??= ctx.createMediaElementSource(audio);
        g.__player.connect(analyser);
        analyser.connect(ctx.destination);
      } else {
        for (const a of g.document.querySelectorAll('audio')) if (a.srcObject) ctx.createMediaStreamSource(a.srcObject).connect(analyser);
      }
      const data = new Float32Array(analyser.fftSize);
      const start = audio?.currentTime ?? 0;
      let peak = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        analyser.getFloatTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += v * v;
        peak = Math.max(peak, Math.sqrt(sum / data.length));
      }
      if (what === 'stage') await ctx.close();
      return { rms: peak, advanced: (audio?.currentTime ?? 0) - start };
    },
    { what, ms },
  );
}

/** The identity the page's tab holds a token for. */
function identityOf(page: Page): Promise<string> {
  return page.evaluate(() => {
    const g = globalThis as any;
    const key = Object.keys(g.sessionStorage).find((k: string) => k.startsWith('rostrum:token:'))!;
    return JSON.parse(g.atob(g.sessionStorage.getItem(key).split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub as string;
  });
}

describe('the web app with three people at once', () => {
  let t: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const csp: CspWatch[] = [];
  let id: string;
  let host: Page;
  let lobby: Page;
  let asker: Page;

  before(async () => {
    t = await startTestServer();
    const wav = path.join(tempDir(), 'chime.wav');
    writeWav(wav, Buffer.concat(Array.from({ length: 160 }, (_, i) => chimeFrame(i, 0.4))));
    browser = await launchBrowser({ microphoneWav: wav });
    const page = async () => {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      contexts.push(context);
      csp.push(await watchCsp(context));
      const p = await context.newPage();
      p.on('dialog', (dialog) => void dialog.accept());
      return p;
    };
    [host, lobby, asker] = [await page(), await page(), await page()];
    const created = await t.api.post('/api/spaces', {
      token: t.operator,
      body: {
        title: 'Web app night',
        host: { identity: 'h', name: 'Hana Host' },
        scheduledStart: new Date(Date.now() + 3600_000).toISOString(),
      },
    });
    id = created.body.id;
    await host.goto(created.body.hostUrl);
    await lobby.goto(`${t.url}/s/${id}`);
  });
  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
  });

  test('a listener in the lobby hears the space within 5 s of the host going live, without reloading', async () => {
    await lobby.getByText(/Starts in/).waitFor({ timeout: 10_000 });
    await lobby.getByRole('button', { name: 'Remind me' }).click();
    await lobby.getByRole('button', { name: 'Noted' }).waitFor();
    await host.getByRole('button', { name: 'Go live' }).click();
    const wentLive = Date.now();
    await lobby.waitForFunction(() => (globalThis as any).document.getElementById('player')?.currentTime > 0.3, undefined, {
      timeout: 8000,
    });
    const heardAfter = Date.now() - wentLive;
    console.log(`# the lobby's player was playing ${heardAfter} ms after the host pressed Go live`);
    assert.ok(heardAfter <= 5000 + 1500, `playing ${heardAfter} ms after going live`);
    await host.locator('.speaker-state[data-state="live"]').waitFor({ timeout: 15_000 });
    await asker.goto(`${t.url}/s/${id}`);
    const heard = await loudest(lobby, 'player', 3000);
    assert.ok(heard.advanced > 2, `media time advances (${heard.advanced})`);
    assert.ok(heard.rms > 0.01, `the host's chime is heard (${heard.rms})`);
  });

  test('a listener asks to speak, the host approves, the host hears them; a host mute shows for everyone within 2 s', async () => {
    await asker.getByRole('button', { name: /Request to speak/ }).click();
    await asker.getByText('Asked to speak — waiting for a host').waitFor({ timeout: 10_000 });
    await host.getByRole('button', { name: /^Approve/ }).click({ timeout: 10_000 });
    await asker.locator('.speaker-state[data-state="live"]').waitFor({ timeout: 15_000 });
    const askerId = await identityOf(asker);
    // A new speaker comes on stage muted, like everyone; only they may unmute.
    await asker.getByRole('button', { name: /Unmute/ }).click();
    const { rms: level } = await loudest(host, 'stage', 2000);
    assert.ok(level > 0.01, `the host hears the new speaker (${level})`);

    await host.locator(`li.member[data-identity="${askerId}"]`).getByRole('button', { name: /^Mute/ }).click();
    const mutedAt = Date.now();
    const icon = (p: Page) => p.locator(`li.member[data-identity="${askerId}"][data-muted="true"] .mute-icon`).waitFor({ timeout: 2500 });
    await Promise.all([icon(host), icon(lobby), icon(asker)]);
    assert.ok(Date.now() - mutedAt <= 2500, 'the mute icon shows everywhere within about 2 s');
  });

  test('a reaction from one listener floats on the others’ pages', async () => {
    await lobby.getByRole('button', { name: 'React 🔥' }).click();
    await host.locator('.float[data-emoji="🔥"]').first().waitFor({ timeout: 5000 });
    await asker.locator('.float[data-emoji="🔥"]').first().waitFor({ timeout: 5000 });
  });

  test('the host invites a listener by identity; the listener accepts and is on stage', async () => {
    const listenerId = await identityOf(lobby);
    await host.getByLabel('Invite from the audience (identity)').fill(listenerId);
    await host.getByRole('button', { name: 'Invite', exact: true }).click();
    await lobby.getByRole('button', { name: 'Join the stage' }).click({ timeout: 5000 });
    await lobby.locator('.speaker-state[data-state="live"]').waitFor({ timeout: 15_000 });
    await host.locator(`li.member[data-identity="${listenerId}"]`).waitFor({ timeout: 5000 });
  });

  test('the host ends the space and the replay plays, with its download and feed', async () => {
    await host.getByRole('button', { name: 'End space' }).click();
    await lobby.getByRole('region', { name: 'Replay', exact: true }).waitFor({ timeout: 10_000 });
    await lobby.getByRole('button', { name: /Play replay/ }).click();
    await lobby.waitForFunction(() => (globalThis as any).document.getElementById('player')?.currentTime > 1, undefined, {
      timeout: 15_000,
    });
    assert.ok(await lobby.getByRole('link', { name: 'Download the recording' }).isVisible());
    assert.equal(await lobby.getByRole('link', { name: 'Podcast feed' }).getAttribute('href'), '/feeds/h.rss');
  });

  test("the host trims the replay from the console, and listeners' replay follows", async () => {
    const editor = host.getByRole('form', { name: 'Edit the replay' });
    await editor.waitFor({ timeout: 10_000 });
    await editor.getByLabel('Replay starts at').fill('0:01.5');
    await editor.getByLabel('Replay ends at').fill('0:04');
    await editor.getByRole('button', { name: 'Trim', exact: true }).click();
    const status = editor.getByRole('status');
    await status.filter({ hasText: 'Trimmed:' }).waitFor({ timeout: 10_000 });
    const said = await status.textContent();
    // The README's picture of the editor, with ROSTRUM_SCREENSHOT_DIR set.
    if (process.env.ROSTRUM_SCREENSHOT_DIR)
      await editor.screenshot({ path: path.join(process.env.ROSTRUM_SCREENSHOT_DIR, 'replay-editor.png') });
    const state = (await t.api.get(`/api/spaces/${id}/state`)).body as { replayTrim: { start: number; end: number }; playlistUrl: string };
    assert.ok(Math.abs(state.replayTrim.start - 1.5) <= 0.13 && Math.abs(state.replayTrim.end - 4) <= 0.13, `${said}`);
    // The listener's page follows the state document to the trimmed replay's URL, and it plays.
    await lobby.waitForFunction(() => (globalThis as any).document.querySelector('section.replay audio, #player') !== null);
    const playlist = await (await fetch(state.playlistUrl)).text();
    const listed = [...playlist.matchAll(/^#EXTINF:([\d.]+),/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.ok(Math.abs(listed - (state.replayTrim.end - state.replayTrim.start)) < 0.002, `the replay lists ${listed} s`);
    await editor.getByRole('button', { name: 'Undo trim' }).click();
    await status.filter({ hasText: 'whole recording' }).waitFor({ timeout: 10_000 });
  });

  test('no page raised a Content-Security-Policy violation: host console, lobby, live playback, stage, replay', () => {
    assert.equal(csp.length, 3);
    assert.deepEqual(
      csp.flatMap((watch) => watch.violations),
      [],
    );
  });
});
