/**
 * Real-time isolation: the media plane (WebRTC sessions, routing, the mix and its encoder) runs in a
 * worker thread, so a main thread busy with HTTP work does not delay the broadcast — shown by
 * blocking the main thread outright, against the same with media on the main thread, where the
 * broadcast falls behind. A crash of the media worker is survived: a new one starts, speakers
 * reconnect and are heard, and the broadcast goes on after a discontinuity.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { segmentDuration } from '../src/broadcast/playlist.js';
import type { SpaceId } from '../src/ids.js';
import type { WorkerMedia } from '../src/media/worker-media.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How far the broadcast's media time lags the wall clock since its first sample, s. */
function lag(t: TestServer, id: string): number {
  const view = t.server.broadcaster.broadcast(id as SpaceId)!.packager.view();
  const first = view.segments[0]!;
  const media = view.segments.reduce((sum, s) => sum + segmentDuration(s), 0);
  return (Date.now() - first.pdt) / 1000 - media;
}

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // the main thread does nothing else, as under a flood of HTTP work
  }
}

describe('the media plane and the main thread', () => {
  for (const mediaWorker of [true, false]) {
    test(`a main thread blocked for 1.5 s ${mediaWorker ? 'does not delay the broadcast (media in a worker)' : 'puts the broadcast behind (media on the main thread)'}`, async () => {
      const t = await startTestServer({ mediaWorker });
      try {
        const id = await createSpace(t, { live: true });
        await sleep(4500);
        const before = lag(t, id);
        busy(1500);
        await sleep(1000);
        const behind = lag(t, id) - before;
        if (mediaWorker) assert.ok(behind < 0.3, `the broadcast kept up (${behind.toFixed(3)} s behind)`);
        else assert.ok(behind > 1, `on the main thread the broadcast lost the stall (${behind.toFixed(3)} s behind)`);
      } finally {
        await t.close();
      }
    });
  }

  test('a crashed media worker is replaced: speakers reconnect and are heard, the broadcast goes on', async () => {
    const t = await startTestServer();
    const bots: SpeakerBot[] = [];
    try {
      const id = await createSpace(t, { live: true });
      const join = async (who: string, hz: number) => {
        const token = t.token(id, who, 'speaker');
        await t.api.post(`/api/spaces/${id}/stage`, { token });
        await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token });
        const bot = await SpeakerBot.join({ server: t.url, token, toneHz: hz });
        bots.push(bot);
        return bot;
      };
      await join('a', 440);
      await join('b', 660);
      await sleep(2500);
      await (t.server.media as WorkerMedia).crash();
      for (const bot of bots.splice(0)) await bot.close();

      const again = await join('a', 440);
      await join('b', 660);
      await sleep(1500);
      const since = Date.now();
      await sleep(1000);
      assert.ok(goertzel(again.heardSince(since), 660) > 2e-3, 'A hears B again through the new worker');
      assert.equal((t.server.media as WorkerMedia).restarts, 1);

      const playlist = await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text();
      assert.ok(playlist.includes('#EXT-X-DISCONTINUITY'), 'the broadcast marks the restart');
      assert.ok(playlist.includes('init-1.mp4'), 'and goes on with a new encoder run');
    } finally {
      for (const bot of bots) await bot.close();
      await t.close();
    }
  });
});
