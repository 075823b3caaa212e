/**
 * A real player: headless Chromium plays the LL-HLS broadcast with hls.js (MSE), as a listener's
 * browser would. A bot speaker talks a 440 Hz tone; the page routes the <audio> element through an
 * AnalyserNode and finds the tone at the peak of what it hears. hls.js must take the playlist for
 * Low-Latency (parts, blocking reload), play it without a fatal error and keep up with real time.
 * After the end the same URL replays as VOD from its middle, and recording.m4a plays in a plain
 * <audio>. hls.js's own latency figures are printed as diagnostics, not asserted (benchmarks do that).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { launchBrowser } from './helpers/browser.js';
import { createSpace } from './helpers/fixture.js';
import { probeDuration } from './helpers/media.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';

const HLS_JS = path.join(ROOT, 'node_modules/hls.js/dist/hls.min.js');
const TONE_HZ = 440;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface HlsError {
  type: string;
  details: string;
  fatal: boolean;
  reason: string;
}

interface PlayerState {
  currentTime: number;
  duration: number;
  paused: boolean;
  readyState: number;
  playError: string;
  errors: HlsError[];
  warnings: string[];
  lowLatencyMode: boolean;
  /** hls.js's live figures: seconds behind the live edge, its target, and the wall-clock lag of playingDate. */
  latency: number;
  targetLatency: number | null;
  playingDateLagMs: number | null;
  details: {
    live: boolean;
    parts: number;
    canBlockReload: boolean;
    partTarget: number;
    partHoldBack: number;
    preloadHint: boolean;
    totalduration: number;
    endList: boolean;
  } | null;
}

interface Heard {
  /** The strongest frequency (Hz) between 50 Hz and 5 kHz, averaged over the window. */
  peakHz: number;
  /** Its level and the level at the tone (dB), and the loudest sample seen. */
  peakDb: number;
  toneDb: number;
  rms: number;
  maxSample: number;
}

async function seat(t: TestServer, id: string, who: string, options: { toneHz: number }): Promise<SpeakerBot> {
  const token = t.token(id, who, 'speaker');
  assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
  return SpeakerBot.join({ server: t.url, token, ...options });
}

/**
 * In the page: a new <audio> named `name`, played by hls.js (lowLatencyMode) or, with `plain`, by the
 * element itself; either way heard through an AnalyserNode of its own on the page's one AudioContext.
 */
async function startPlayer(page: Page, name: string, url: string, plain = false): Promise<void> {
  await page.evaluate(
    async ({ name, url, plain }) => {
      // This runs in the page; the test build has no DOM types, hence the `any`.
      const g = globalThis as any;
      g.players ??= {};
      g.audioContext ??= new g.AudioContext();
      const ctx = g.audioContext;
      await ctx.resume();
      const audio = g.document.createElement('audio');
      audio.crossOrigin = 'anonymous';
      g.document.body.append(audio);
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaElementSource(audio).connect(analyser);
      analyser.connect(ctx.destination);
      const player: any = { audio, analyser, errors: [], warnings: [], playError: '' };
      g.players[name] = player;
      const play = () =>
        audio.play().catch((err: Error) => {
          player.playError = String(err?.message ?? err);
        });
      if (plain) {
        audio.src = url;
        play();
        return;
      }
      const log = () => {};
      const hls = new g.Hls({
        lowLatencyMode: true,
        debug: {
          trace: log,
          debug: log,
          log,
          info: log,
          warn: (...args: unknown[]) => player.warnings.push(args.map(String).join(' ')),
          error: (...args: unknown[]) => player.warnings.push(`error: ${args.map(String).join(' ')}`),
        },
      });
      player.hls = hls;
      hls.on(g.Hls.Events.ERROR, (_event: string, data: any) => {
        player.errors.push({
          type: String(data.type),
          details: String(data.details),
          fatal: Boolean(data.fatal),
          reason: String(data.reason ?? data.error?.message ?? data.response?.code ?? ''),
        });
      });
      hls.on(g.Hls.Events.MEDIA_ATTACHED, () => hls.loadSource(url));
      hls.on(g.Hls.Events.MANIFEST_PARSED, play);
      hls.attachMedia(audio);
    },
    { name, url, plain },
  );
}

async function stateOf(page: Page, name: string): Promise<PlayerState> {
  return page.evaluate((name) => {
    const player = (globalThis as any).players[name];
    const { audio, hls } = player;
    const level = hls?.levels?.[Math.max(0, hls.currentLevel)];
    const d = level?.details;
    const playingDate: Date | null = hls?.playingDate ?? null;
    return {
      currentTime: audio.currentTime,
      duration: audio.duration,
      paused: audio.paused,
      readyState: audio.readyState,
      playError: player.playError,
      errors: player.errors,
      warnings: player.warnings,
      lowLatencyMode: Boolean(hls?.lowLatencyMode),
      latency: hls?.latency ?? Number.NaN,
      targetLatency: hls?.targetLatency ?? null,
      playingDateLagMs: playingDate ? Date.now() - playingDate.getTime() : null,
      details: d
        ? {
            live: Boolean(d.live),
            parts: d.partList?.length ?? 0,
            canBlockReload: Boolean(d.canBlockReload),
            partTarget: Number(d.partTarget),
            partHoldBack: Number(d.partHoldBack),
            preloadHint: Boolean(d.preloadHint),
            totalduration: Number(d.totalduration),
            endList: !d.live,
          }
        : null,
    };
  }, name);
}

/** Waits (bounded) until the page-side predicate holds for the player `name`. */
async function waitFor(page: Page, name: string, predicate: string, timeout: number, what: string): Promise<void> {
  try {
    await page.waitForFunction(
      ({ name, predicate }) => {
        const player = (globalThis as any).players[name];
        return new Function('audio', 'hls', `return ${predicate};`)(player.audio, player.hls);
      },
      { name, predicate },
      { timeout, polling: 100 },
    );
  } catch (err) {
    const state = await stateOf(page, name).catch(() => undefined);
    throw new Error(`${what}: not within ${timeout} ms (${(err as Error).message.split('\n')[0]}); player ${JSON.stringify(state)}`);
  }
}

/** In the page: what the player's analyser hears over `ms`, averaged power per bin. */
async function heard(page: Page, name: string, hz: number, ms: number): Promise<Heard> {
  return page.evaluate(
    async ({ name, hz, ms }) => {
      const g = globalThis as any;
      const analyser = g.players[name].analyser;
      const rate = g.audioContext.sampleRate;
      const bins = new Float32Array(analyser.frequencyBinCount);
      const power = new Float64Array(analyser.frequencyBinCount);
      const samples = new Float32Array(analyser.fftSize);
      let squares = 0;
      let count = 0;
      let maxSample = 0;
      let n = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        analyser.getFloatFrequencyData(bins);
        for (let i = 0; i < bins.length; i++) power[i]! += 10 ** (bins[i]! / 10);
        analyser.getFloatTimeDomainData(samples);
        for (const s of samples) {
          squares += s * s;
          maxSample = Math.max(maxSample, Math.abs(s));
        }
        count += samples.length;
        n++;
      }
      const width = rate / analyser.fftSize;
      const db = (i: number) => 10 * Math.log10(power[i]! / n + 1e-30);
      let peak = Math.round(50 / width);
      for (let i = peak; i <= Math.round(5000 / width); i++) if (power[i]! > power[peak]!) peak = i;
      const toneBin = Math.round(hz / width);
      return {
        peakHz: peak * width,
        peakDb: db(peak),
        toneDb: Math.max(db(toneBin - 1), db(toneBin), db(toneBin + 1)),
        rms: Math.sqrt(squares / Math.max(1, count)),
        maxSample,
      };
    },
    { name, hz, ms },
  );
}

const fatal = (s: PlayerState) => s.errors.filter((e) => e.fatal);

describe('a real player: hls.js in Chromium', { timeout: 60_000 }, () => {
  let t: TestServer;
  let id: string;
  let bot: SpeakerBot | undefined;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true, title: 'Player test' });
    bot = await seat(t, id, 'a', { toneHz: TONE_HZ });
    browser = await launchBrowser();
    // The test brings its own hls.js as an inline script, which the pages' CSP rightly refuses.
    page = await browser.newPage({ bypassCSP: true });
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`${t.url}/`);
    await page.addScriptTag({ path: HLS_JS });
    const support = await page.evaluate(() => {
      const g = globalThis as any;
      return { hls: Boolean(g.Hls?.isSupported()), mse: Boolean(g.MediaSource?.isTypeSupported('audio/mp4; codecs="mp4a.40.2"')) };
    });
    assert.deepEqual(support, { hls: true, mse: true }, 'hls.js and AAC in MSE are supported');
    // A listener joining a space that has been on air for a while: past the short segments a run
    // starts with (1, 1, 2 and 4 parts), the first full-length one complete, before the player asks.
    // (A listener who starts with the broadcast itself is test/player-button.test.ts's.)
    const segments = async () => (await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text()).match(/#EXTINF/g)?.length ?? 0;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && (await segments()) < 5; ) await sleep(100);
    assert.ok((await segments()) >= 5, 'the short first segments and a full one are out');
  });
  after(async () => {
    await bot?.close();
    await browser?.close();
    await t?.close();
  });

  test('plays the live broadcast as Low-Latency HLS, in real time, and hears the 440 Hz speaker', async (ctx) => {
    const url = `${t.url}/hls/${id}/index.m3u8`;
    await startPlayer(page, 'live', url);
    await waitFor(page, 'live', 'audio.currentTime > 0.3 && !audio.paused', 15_000, 'live playback starts');

    const first = await stateOf(page, 'live');
    assert.equal(first.lowLatencyMode, true);
    assert.ok(first.details, 'level details are loaded');
    assert.equal(first.details.live, true, 'a live playlist');
    assert.ok(first.details.parts >= 3, `hls.js sees the parts (${first.details.parts})`);
    assert.equal(first.details.canBlockReload, true, 'and the blocking reload');
    assert.equal(first.details.partTarget, 0.256);
    assert.ok(first.details.preloadHint, 'and the preload hint');

    const startedAt = Date.now();
    const from = first.currentTime;
    const tone = await heard(page, 'live', TONE_HZ, 4000);
    const after4 = await stateOf(page, 'live');
    const played = after4.currentTime - from;
    const wall = (Date.now() - startedAt) / 1000;
    assert.ok(played >= 3, `currentTime advances with the clock: ${played.toFixed(2)} s in ${wall.toFixed(2)} s`);
    assert.ok(Math.abs(tone.peakHz - TONE_HZ) < 10, `the loudest frequency is the speaker's tone: ${JSON.stringify(tone)}`);
    assert.ok(tone.rms > 1e-3 && tone.maxSample > 5e-3, `not silent: ${JSON.stringify(tone)}`);
    assert.deepEqual(fatal(after4), [], 'no fatal hls.js error');
    assert.equal(after4.playError, '');

    // hls.js drove the server the LL-HLS way: blocking playlist reloads and single parts.
    const ours = requests.filter((u) => u.includes(`/hls/${id}/`));
    const blocking = ours.filter((u) => u.includes('_HLS_msn=')).length;
    const parts = ours.filter((u) => /\/\d+\.\d+\.m4s$/.test(u)).length;
    assert.ok(blocking >= 5, `blocking reloads (${blocking})`);
    assert.ok(parts >= 10, `parts fetched (${parts})`);
    const fetched = new Map<string, number>();
    for (const u of ours) fetched.set(u, (fetched.get(u) ?? 0) + 1);
    const refetched = [...fetched].filter(([u, n]) => n > 2 && u.endsWith('.m4s'));
    assert.deepEqual(refetched, [], 'no media object is fetched over and over');

    assert.ok(after4.latency > 0 && after4.latency < 10, `hls.js latency is sane (${after4.latency})`);
    ctx.diagnostic(
      `live: hls.latency ${after4.latency.toFixed(3)} s (target ${after4.targetLatency}), playingDate lag ${after4.playingDateLagMs} ms; ` +
        `played ${played.toFixed(2)} s in ${wall.toFixed(2)} s; tone ${tone.toneDb.toFixed(1)} dB at ${tone.peakHz.toFixed(1)} Hz, rms ${tone.rms.toFixed(4)}; ` +
        `requests: ${blocking} blocking reloads, ${parts} parts, ${ours.length} in all`,
    );
    ctx.diagnostic(`live playlist in hls.js: ${JSON.stringify(after4.details)}`);
    ctx.diagnostic(`live hls.js errors: ${JSON.stringify(after4.errors)}; warnings: ${JSON.stringify(after4.warnings.slice(0, 10))}`);
  });

  test('after the end the same URL replays as VOD from its middle, and recording.m4a plays', async (ctx) => {
    await page.evaluate(() => {
      const live = (globalThis as any).players.live;
      live.hls.destroy();
      live.audio.pause();
    });
    await bot?.close();
    bot = undefined;
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: t.token(id, 'h', 'host') })).status, 200);

    const url = `${t.url}/hls/${id}/index.m3u8`;
    let text = '';
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(200)) {
      text = await (await fetch(url)).text();
      if (text.includes('#EXT-X-ENDLIST')) break;
    }
    assert.ok(text.includes('#EXT-X-ENDLIST'), 'the playlist is final');
    const listed = [...text.matchAll(/^#EXTINF:([\d.]+),/gm)].reduce((sum, m) => sum + Number(m[1]), 0);

    await startPlayer(page, 'replay', url);
    await waitFor(
      page,
      'replay',
      'Number.isFinite(audio.duration) && audio.duration > 0 && audio.readyState >= 1',
      10_000,
      'the replay loads',
    );
    const loaded = await stateOf(page, 'replay');
    assert.ok(loaded.details && !loaded.details.live, 'hls.js sees a VOD playlist');
    assert.ok(Math.abs(loaded.duration - listed) < 0.5, `duration ${loaded.duration} s vs playlist ${listed} s`);

    const middle = loaded.duration / 2;
    await page.evaluate((middle) => {
      (globalThis as any).players.replay.audio.currentTime = middle;
    }, middle);
    await waitFor(page, 'replay', `audio.currentTime > ${middle + 0.2} && !audio.paused`, 10_000, 'the replay plays from its middle');
    const from = (await stateOf(page, 'replay')).currentTime;
    const tone = await heard(page, 'replay', TONE_HZ, 2000);
    const replayed = await stateOf(page, 'replay');
    assert.ok(replayed.currentTime - from >= 1.4, `the replay advances (${from} → ${replayed.currentTime})`);
    assert.ok(from >= middle - 0.5, `it played from the middle (${from} s of ${loaded.duration} s)`);
    assert.ok(Math.abs(tone.peakHz - TONE_HZ) < 10, `the replay holds the tone: ${JSON.stringify(tone)}`);
    assert.deepEqual(fatal(replayed), [], 'no fatal hls.js error');
    ctx.diagnostic(
      `replay: ${listed.toFixed(3)} s listed, duration ${loaded.duration} s; played ${from.toFixed(2)} → ${replayed.currentTime.toFixed(2)}`,
    );
    ctx.diagnostic(`replay hls.js errors: ${JSON.stringify(replayed.errors)}; warnings: ${JSON.stringify(replayed.warnings.slice(0, 10))}`);
    await page.evaluate(() => {
      const replay = (globalThis as any).players.replay;
      replay.hls.destroy();
      replay.audio.pause();
    });

    // The recording as one file, in a plain <audio> (it may take a moment to be written).
    const recording = `${t.url}/api/spaces/${id}/recording.m4a`;
    const ready = async () => {
      const response = await fetch(recording, { headers: { range: 'bytes=0-0' } });
      await response.arrayBuffer();
      return response.status !== 503;
    };
    for (let i = 0; i < 50 && !(await ready()); i++) await sleep(200);
    await startPlayer(page, 'file', recording, true);
    await waitFor(page, 'file', 'Number.isFinite(audio.duration) && audio.currentTime > 0.5', 10_000, 'recording.m4a plays');
    const file = await stateOf(page, 'file');
    assert.ok(Math.abs(file.duration - listed) < 0.5, `recording ${file.duration} s vs playlist ${listed} s`);
    assert.equal(file.playError, '');
    ctx.diagnostic(`recording.m4a in a plain <audio>: duration ${file.duration} s, playing at ${file.currentTime.toFixed(2)} s`);
    await page.evaluate(() => (globalThis as any).players.file.audio.pause());
  });

  test('a replay its host trimmed plays in hls.js from its new start to its new end, and its file lasts the trim', async (ctx) => {
    const whole = await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text();
    const listed = [...whole.matchAll(/^#EXTINF:([\d.]+),/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const trimmed = await t.api.call('PUT', `/api/spaces/${id}/replay/trim`, {
      token: t.token(id, 'h', 'host'),
      body: { start: 1.3, end: listed - 1.3 },
    });
    assert.equal(trimmed.status, 200, JSON.stringify(trimmed.body));
    const kept = trimmed.body.kept as number;
    // The replay page's URL, as the state document gives it (it names the trim, so no cache serves the old playlist).
    const state = (await t.api.get(`/api/spaces/${id}/state`)).body as { playlistUrl: string; recordingUrl: string };
    assert.match(state.playlistUrl, /\?trim=/);

    await startPlayer(page, 'trimmed', state.playlistUrl);
    await waitFor(
      page,
      'trimmed',
      'Number.isFinite(audio.duration) && audio.currentTime > 0.5 && !audio.paused',
      10_000,
      'the trimmed replay plays',
    );
    const loaded = await stateOf(page, 'trimmed');
    assert.ok(loaded.details && !loaded.details.live, 'a VOD playlist');
    assert.ok(Math.abs(loaded.duration - kept) < 0.3, `hls.js: ${loaded.duration} s; the trim keeps ${kept} s`);
    const tone = await heard(page, 'trimmed', TONE_HZ, 1500);
    assert.ok(Math.abs(tone.peakHz - TONE_HZ) < 10, `the trimmed replay holds the tone: ${JSON.stringify(tone)}`);
    await page.evaluate(() => {
      const { audio } = (globalThis as any).players.trimmed;
      audio.currentTime = audio.duration - 1.5;
    });
    await waitFor(page, 'trimmed', 'audio.ended', 10_000, 'the trimmed replay plays to its end');
    const ended = await stateOf(page, 'trimmed');
    assert.deepEqual(fatal(ended), [], 'no fatal hls.js error');
    assert.equal(ended.playError, '');
    const sliced = requests.filter((u) => /\/\d+\.p\d+-\d+\.m4s$/.test(u));
    assert.equal(sliced.length, 2, `both edges were played as slices: ${sliced.join(', ')}`);

    // The file, made again from the parts kept.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      const response = await fetch(state.recordingUrl, { headers: { range: 'bytes=0-0' } });
      await response.arrayBuffer();
      status = response.status;
      if (status !== 200 && status !== 206) await sleep(200);
      else break;
    }
    const file = path.join(t.dataDir, 'trimmed.m4a');
    fs.writeFileSync(file, Buffer.from(await (await fetch(state.recordingUrl)).arrayBuffer()));
    const probed = await probeDuration(file);
    assert.ok(Math.abs(probed - kept) < 0.05, `recording.m4a lasts ${probed} s (ffprobe); the trim keeps ${kept} s`);
    ctx.diagnostic(`trimmed replay: ${listed.toFixed(3)} s → ${kept} s kept; hls.js duration ${loaded.duration}; file ${probed} s`);
  });
});
