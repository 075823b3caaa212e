/**
 * Go-live → first audio, as listeners get it, not as the origin serves it:
 * - a listener waiting in the lobby: the space's share page in Chromium with the policy of phones
 *   (sound only after a gesture), clicked once in the lobby and never again; the time its audio
 *   element starts playing the broadcast (its `playing` event while the button says it is
 *   connecting — the lobby's click plays a moment of silence first, which is not the broadcast),
 *   confirmed by its clock going on;
 * - ffmpeg reading the plain playlist (no low-latency query), started when the space's state
 *   document says live (polled every 50 ms, as a client would): the time it writes its first
 *   decoded audio.
 * Both are epoch times, to be set against the go-live request's (StartTiming.pressedAt), all on
 * this machine's clock. Both clients stand for listeners' own devices, so they run in the
 * listeners' CPU group where this machine has one (device-share.ts).
 */
import { spawn } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { findFfmpeg } from '../src/media/ffmpeg.js';
// The one way the project starts Chromium (tests, benchmarks, screenshots).
import { launchBrowser } from '../test/helpers/browser.js';
import { deviceShare } from './device-share.js';
import { track } from './processes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one lobby listener heard: when its page started playing the broadcast (epoch ms), or why it did not. */
export interface PageHeard {
  space: string;
  playingAt: number | null;
  problem?: string;
}

export class LobbyEars {
  private constructor(
    private readonly browser: Browser,
    private readonly origin: string,
  ) {}

  static async launch(origin: string): Promise<LobbyEars> {
    return new LobbyEars(
      await launchBrowser({ noMicrophone: true, autoplay: 'gesture', ...(deviceShare() ? { cgroup: deviceShare()!.procs } : {}) }),
      origin,
    );
  }

  /**
   * A listener's join, as the lobby page makes it (before a flood, so it is let in at once); the
   * page opened with it in its link keeps it (web/app/src/api.ts), so it does not queue again.
   */
  async join(space: string): Promise<string> {
    const res = await fetch(`${this.origin}/api/spaces/${encodeURIComponent(space)}/join`, { method: 'POST' });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || !body.token) throw new Error(`a listener's join to ${space} answered ${res.status}: ${JSON.stringify(body)}`);
    return body.token;
  }

  /**
   * A listener opens the space's share page (with its token, when it joined earlier) and clicks
   * once in its lobby. Resolves when the page
   * waits there with sound allowed, with a promise of what it will hear once the space goes live
   * (settled within `timeoutMs` of now; in an object, since a promise of a promise is one promise).
   */
  async enter(space: string, timeoutMs: number, token?: string): Promise<{ heard: Promise<PageHeard> }> {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    let playingAt: number | null = null;
    page.on('console', (message) => {
      const [tag, at, state] = message.text().split(' ');
      if (tag === 'first-audio' && state === 'connecting') playingAt ??= Number(at);
    });
    await page.addInitScript(() => {
      const g = globalThis as any;
      g.document.addEventListener(
        'playing',
        () => g.console.log(`first-audio ${Date.now()} ${g.document.getElementById('listen')?.dataset.state}`),
        true,
      );
    });
    await page.goto(`${this.origin}/s/${encodeURIComponent(space)}${token ? `#token=${encodeURIComponent(token)}` : ''}`);
    await page.locator('#listen[data-state="locked"], #listen[data-state="waiting"]').waitFor({ timeout: 15_000 });
    await page.mouse.click(2, 2); // any click in the lobby: the one gesture a phone needs
    await page.locator('#listen[data-state="waiting"]').waitFor({ timeout: 5000 });
    const deadline = Date.now() + timeoutMs;
    const heard = (async (): Promise<PageHeard> => {
      try {
        await page.waitForFunction(
          () => {
            const audio = (globalThis as any).document.getElementById('player');
            return audio && !audio.paused && audio.currentTime > 0.5;
          },
          undefined,
          { timeout: Math.max(1, deadline - Date.now()), polling: 100 },
        );
        if (playingAt === null) return { space, playingAt, problem: 'played without a playing event while connecting' };
        return { space, playingAt };
      } catch (err) {
        const state = await page
          .locator('#listen')
          .getAttribute('data-state', { timeout: 1000 })
          .catch(() => '?');
        return {
          space,
          playingAt: null,
          problem: `not playing within ${timeoutMs} ms (button ${state}): ${(err as Error).message.split('\n')[0]}`,
        };
      } finally {
        await context.close().catch(() => undefined);
      }
    })();
    return { heard };
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

/** What the ffmpeg client heard: when it saw the space live and wrote its first audio (epoch ms), or why it did not. */
export interface FfmpegHeard {
  space: string;
  audioAt: number | null;
  liveSeenAt: number | null;
  problem?: string;
}

/** ffmpeg's first decoded audio from the space's plain playlist, started as soon as the space is seen live. */
export async function ffmpegFirstAudio(origin: string, space: string, timeoutMs: number): Promise<FfmpegHeard> {
  const deadline = Date.now() + timeoutMs;
  let playlist: string | undefined;
  let liveSeenAt: number | null = null;
  while (Date.now() < deadline) {
    const doc = (await fetch(`${origin}/api/spaces/${encodeURIComponent(space)}/state`, { signal: AbortSignal.timeout(2000) })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)) as { state?: string; playlistUrl?: string } | null;
    if (doc?.state === 'live' && doc.playlistUrl) {
      liveSeenAt = Date.now();
      playlist = new URL(doc.playlistUrl, origin).href;
      break;
    }
    await sleep(50);
  }
  if (!playlist) return { space, audioAt: null, liveSeenAt, problem: `not live within ${timeoutMs} ms` };
  const child = track(
    spawn(
      findFfmpeg(),
      // A second of audio is enough; flushed per packet, so the first one is seen when decoded.
      ['-hide_banner', '-loglevel', 'error', '-i', playlist, '-t', '1', '-f', 's16le', '-ac', '1', '-flush_packets', '1', 'pipe:1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  if (child.pid !== undefined) deviceShare()?.join(child.pid);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-1000);
  });
  const audioAt = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), Math.max(1, deadline - Date.now()));
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve(Date.now());
    });
    child.once('close', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  child.kill('SIGKILL');
  return audioAt === null
    ? { space, audioAt, liveSeenAt, problem: `ffmpeg wrote no audio: ${stderr.trim().slice(-300) || 'timed out'}` }
    : { space, audioAt, liveSeenAt };
}
