/**
 * The listen button as listeners meet it, in Chromium, on the share page of a space that goes live
 * while they wait in the lobby — once with sound allowed without a gesture, once with the policy of
 * phones (an element plays sound only after a play() of its own in a click: Safari, mobile Chrome):
 * - the button's label always says what pressing it does (sampled every few milliseconds);
 * - pressing it while the page is starting playback by itself never pauses it;
 * - a listener who clicked anything in the lobby hears the start without another click; one who
 *   did not is asked, with "▶ Listen live", and pressing it plays;
 * - paused and resumed, a live listener is back at the live edge; the network cut for 4 s, playback
 *   comes back without a click; the lock screen knows the title and the host (Media Session).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** What the button must say in each state (the page's own table is web/app/src/playback.ts). */
const LABELS: Record<string, string[]> = {
  waiting: ['Plays by itself when live'],
  locked: ['🔊 Allow sound for the start', '▶ Listen live'],
  connecting: ['Connecting…'],
  playing: ['❚❚ Pause'],
  reconnecting: ['❚❚ Pause'],
  paused: ['▶ Listen live'],
};

interface Sample {
  state: string;
  label: string;
  /** The line beside the button. */
  status: string;
  at: number;
}

/**
 * What a page's button and media element did, sampled in the page every 5 ms and told on its
 * console — so watching costs no evaluation in the page: Playwright evaluates with a user gesture,
 * which would unlock the sound this test needs locked.
 */
interface Watch {
  samples: Sample[];
  /** The button's state as each press reached it. */
  clicks: string[];
  /** The media element's events: playing, pause. */
  media: string[];
  /** Resolves when `done` holds for what was seen (checked on each report). */
  until(done: (w: Watch) => boolean, what: string, timeoutMs?: number): Promise<void>;
}

async function watch(page: Page): Promise<Watch> {
  const waiters = new Set<() => void>();
  const w: Watch = {
    samples: [],
    clicks: [],
    media: [],
    until: (done, what, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        if (done(w)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          const last = w.samples.at(-1);
          reject(new Error(`${what}: not within ${timeoutMs} ms (button ${last?.state} "${last?.label}", media ${w.media.join(' ')})`));
        }, timeoutMs);
        const check = () => {
          if (!done(w)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      }),
  };
  page.on('console', (message) => {
    const text = message.text();
    if (!text.startsWith('player-watch ')) return;
    const report = JSON.parse(text.slice('player-watch '.length));
    if (report.sample) w.samples.push(report.sample);
    if (report.click) w.clicks.push(report.click);
    if (report.media) w.media.push(report.media);
    for (const waiter of [...waiters]) waiter();
  });
  await page.addInitScript(() => {
    const g = globalThis as any;
    const tell = (report: unknown) => g.console.log(`player-watch ${JSON.stringify(report)}`);
    g.document.addEventListener('click', (e: any) => e.target?.id === 'listen' && tell({ click: e.target.dataset.state }), true);
    for (const name of ['playing', 'pause']) g.document.addEventListener(name, () => tell({ media: name }), true);
    let last = '';
    setInterval(() => {
      const button = g.document.getElementById('listen');
      const status = g.document.querySelector('.player [role=status]')?.textContent ?? '';
      const now = `${button?.dataset.state}|${button?.textContent}|${status}`;
      if (!button || now === last) return;
      last = now;
      tell({ sample: { state: button.dataset.state, label: button.textContent, status, at: Date.now() } });
    }, 5);
  });
  return w;
}

const inState = (state: string, label?: string) => (w: Watch) => {
  const last = w.samples.at(-1);
  return last?.state === state && (label === undefined || last.label === label);
};

function assertLabelsMatch(samples: Sample[], who: string): void {
  for (const s of samples) {
    assert.ok(LABELS[s.state]?.includes(s.label), `${who}: in state ${s.state} the button said "${s.label}"`);
  }
}

/** How many times the page requested each media file (init, segment, part) from now on. */
function fetchesOf(page: Page): Map<string, number> {
  const counts = new Map<string, number>();
  page.on('request', (request) => {
    const name = new URL(request.url()).pathname.match(/\/hls\/[^/]+\/([^/]+\.(?:m4s|mp4))$/)?.[1];
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  return counts;
}

const button = (page: Page) => page.locator('#listen');
const media = (page: Page) =>
  page.evaluate(() => {
    const audio = (globalThis as any).document.getElementById('player');
    return { paused: audio.paused as boolean, currentTime: audio.currentTime as number };
  });

async function waitPlaying(page: Page, beyond = 0.3, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const audio = (globalThis as any).document.getElementById('player');
      return audio && !audio.paused && audio.currentTime > t;
    },
    beyond,
    { timeout },
  );
}

describe('the listen button', () => {
  let t: TestServer;
  const browsers: Browser[] = [];
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    for (const b of browsers) await b.close();
    await t?.close();
  });

  const scheduledSpace = async (title: string) => {
    const created = await t.api.post('/api/spaces', {
      token: t.operator,
      body: { title, host: { identity: 'h', name: 'Hana Host' }, scheduledStart: new Date(Date.now() + 60_000).toISOString() },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id as string;
  };
  const goLive = async (id: string) => {
    const started = await t.api.post(`/api/spaces/${id}/start`, { token: t.token(id, 'h', 'host') });
    assert.equal(started.status, 200, JSON.stringify(started.body));
  };
  /** A listener's browser on the share page, watched from its first moment. */
  const open = async (id: string, autoplay: 'allowed' | 'gesture') => {
    const browser = await launchBrowser({ noMicrophone: true, autoplay });
    browsers.push(browser);
    const page = await (await browser.newContext()).newPage();
    const w = await watch(page);
    await page.goto(`${t.url}/s/${id}`);
    return { page, w };
  };

  test('sound allowed: starts by itself at go-live; a press while it starts does not pause; pause, resume, a lost network, the lock screen', async () => {
    const id = await scheduledSpace('Allowed at once');
    const { page, w } = await open(id, 'allowed');
    await w.until(inState('waiting', 'Plays by itself when live'), 'the lobby waits');
    assert.equal(await button(page).isDisabled(), true, 'nothing to press before the start');

    // The start takes well under a second here: the playlist is held back until the press has
    // landed, so the press comes while the page is connecting, as on a slow network.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/hls/**', async (route) => {
      await released;
      await route.continue();
    });
    await goLive(id);
    const liveAt = Date.now();
    await w.until(inState('connecting'), 'the page starts by itself');
    await button(page).click(); // the listener presses while the page is starting by itself
    await page.waitForTimeout(300);
    release(); // the route stays: every request after this passes at once
    await waitPlaying(page);
    console.log(`# playing ${Date.now() - liveAt} ms after go-live (pressed once while connecting, the broadcast held back ~0.3 s)`);
    await w.until(inState('playing', '❚❚ Pause'), 'playing');
    assert.deepEqual(w.clicks, ['connecting'], 'the press came while connecting');
    assertLabelsMatch(w.samples, 'allowed');
    assert.ok(!w.samples.some((x) => x.state === 'paused'), `never paused: ${w.samples.map((x) => x.state).join(' → ')}`);
    assert.ok(!w.media.includes('pause'), `the media element never paused: ${w.media.join(' ')}`);

    // Pause and resume: the label follows, and the listener is back at the live edge.
    await button(page).click();
    await w.until(inState('paused', '▶ Listen live'), 'paused by the button');
    assert.equal((await media(page)).paused, true);
    await page.waitForTimeout(5000);
    await button(page).click();
    await w.until(inState('playing', '❚❚ Pause'), 'playing again');
    await waitPlaying(page);
    const behind = await page.evaluate(() => {
      const g = globalThis as any;
      const edge = g.rostrumPlayer?.liveSyncPosition;
      return edge ? edge - g.document.getElementById('player').currentTime : null;
    });
    assert.ok(behind !== null && behind < 3, `back at the live edge after a 5 s pause (${behind} s behind it)`);

    // Media Session: what the lock screen and a headset see — it follows the button (after a resume
    // at the live edge the player may pass through a moment of buffering first).
    await page.waitForFunction(() => (globalThis as any).navigator.mediaSession.playbackState === 'playing', undefined, {
      timeout: 5000,
    });
    const session = await page.evaluate(() => {
      const s = (globalThis as any).navigator.mediaSession;
      return { title: s.metadata?.title, artist: s.metadata?.artist, state: s.playbackState };
    });
    assert.deepEqual(session, { title: 'Allowed at once', artist: 'Hana Host', state: 'playing' });
    assert.equal(w.samples.at(-1)?.state, 'playing', 'the button says the same');

    // The network goes for 4 s: playback comes back without a click.
    await page.context().setOffline(true);
    await page.waitForTimeout(4000);
    await page.context().setOffline(false);
    const back = Date.now();
    const before = (await media(page)).currentTime;
    await waitPlaying(page, before + 2, 30_000);
    console.log(`# after 4 s offline: playing on ${Date.now() - back} ms after the network came back`);
    await w.until(inState('playing', '❚❚ Pause'), 'playing after the network came back');
    assertLabelsMatch(w.samples, 'allowed, after the network came back');
  });

  test('sound only after a click: a click in the lobby counts; without one the live page asks, and pressing plays', async () => {
    const id = await scheduledSpace('A click first');
    // A browser each: a second page would be a hidden tab, whose play() Chrome holds until shown.
    const clicked = await open(id, 'gesture');
    const untouched = await open(id, 'gesture');
    for (const { w } of [clicked, untouched]) await w.until(inState('locked', '🔊 Allow sound for the start'), 'the lobby asks for sound');

    // Any click in the lobby will do: this listener asks to be reminded.
    await clicked.page.getByRole('button', { name: 'Remind me' }).click();
    await clicked.w.until(inState('waiting', 'Plays by itself when live'), 'the click allowed sound');

    const before = clicked.w.media.length; // the click played a moment of silence
    const fetched = fetchesOf(clicked.page);
    await goLive(id);
    const liveAt = Date.now();
    await clicked.w.until((w) => w.media.slice(before).includes('playing'), 'the listener who clicked in the lobby hears the start');
    console.log(`# the listener who clicked in the lobby: playing ${Date.now() - liveAt} ms after go-live, no click since`);
    await waitPlaying(clicked.page);
    // A player starting with the broadcast takes each piece of audio once: hls.js 1.7 on a first
    // playlist of two one-part segments fetched the first part again and again (up to 200 times in
    // 0.3 s) until the next playlist came (docs/players.md).
    await clicked.page.waitForTimeout(2000);
    const twice = [...fetched].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], `media fetched more than once at the start: ${JSON.stringify(twice)} of ${fetched.size}`);
    assert.ok(fetched.size >= 6, `the player went on fetching parts (${[...fetched.keys()].join(' ')})`);

    // The other is asked (nothing in this page is touched until the press), and the label says what the press does.
    await untouched.w.until(inState('locked', '▶ Listen live'), 'the live page asks');
    assert.equal(untouched.w.samples.at(-1)?.status, 'Press play to listen');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(untouched.w.media, [], 'no sound without a click');
    assert.ok(inState('locked', '▶ Listen live')(untouched.w), 'still asking');
    await button(untouched.page).click();
    await untouched.w.until(inState('playing', '❚❚ Pause'), 'the press plays');
    await waitPlaying(untouched.page);

    assertLabelsMatch(clicked.w.samples, 'clicked in the lobby');
    assertLabelsMatch(untouched.w.samples, 'no click');
    const states = untouched.w.samples.map((x) => x.state);
    assert.ok(!states.includes('paused'), `the untouched page was never "paused": ${states.join(' → ')}`);
  });
});
