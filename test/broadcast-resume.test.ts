/**
 * Crash and resume: kill -9 of the real server process during a live space, then a restart on the
 * same data directory and port. The space is back on air at the same playlist URL after an
 * EXT-X-DISCONTINUITY, the speaker gets back on stage, and the recording keeps everything up to the
 * segment that was in flight — its length is within one segment of the time the space was on air.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import HLS from 'hls-parser';
import type { MediaPlaylist } from 'hls-parser/types.js';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createToken } from '../src/control/tokens.js';
import { Api } from './helpers/http.js';
import { ffmpeg } from './helpers/media.js';
import { freePort, spawnServer, tempDir } from './helpers/server.js';

const SEGMENT_S = 2.048;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('after kill -9 and a restart the broadcast resumes on the same URL and the recording keeps what was on air', async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  let server = await spawnServer(dataDir, {}, port);
  let speaker: SpeakerBot | undefined;
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(server.url);
    const created = await api.post('/api/spaces', { token: operator, body: { title: 'Resume', host: { identity: 'h' }, startNow: true } });
    const id = created.body.id as string;
    const liveFrom = Date.parse(created.body.startedAt);
    const host = created.body.hostToken as string;
    const token = createToken({ ...creds, identity: 's', space: id, role: 'speaker' });
    assert.equal((await api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    assert.equal((await api.post(`/api/spaces/${id}/participants/s/unmute`, { token })).status, 200);
    speaker = await SpeakerBot.join({ server: server.url, token, toneHz: 440 });
    await sleep(5000);

    const killedAt = Date.now();
    server.child.kill('SIGKILL');
    await server.exited;
    await speaker.close();
    server = await spawnServer(dataDir, {}, port);
    const upAt = Date.now();
    assert.equal(server.url, api.base, 'the same URL');

    // The speaker reconnects with the same identity (a fresh token, no host action) and is heard.
    speaker = await SpeakerBot.join({
      server: server.url,
      token: createToken({ ...creds, identity: 's', space: id, role: 'speaker' }),
      toneHz: 440,
    });
    const { report } = await ListenerBot.listen({ server: server.url, space: id, seconds: 3, ffmpeg });
    assert.ok(report.parts > 0 && report.stalls === 0, JSON.stringify(report));
    assert.ok(
      report.tones.some((t) => Math.abs(t.hz - 440) <= 5),
      `the speaker is on air again: ${JSON.stringify(report.tones)}`,
    );
    const live = HLS.parse(await (await fetch(`${server.url}/hls/${id}/index.m3u8`)).text()) as MediaPlaylist;
    assert.equal(live.endlist, false);
    await sleep(2000);

    await speaker.close();
    speaker = undefined;
    assert.equal((await api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    const endedAt = Date.now();
    const vodText = await (await fetch(`${server.url}/hls/${id}/index.m3u8`)).text();
    const vod = HLS.parse(vodText) as MediaPlaylist;
    assert.equal(vod.endlist, true);
    assert.equal(vodText.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1, 'one discontinuity: the restart');
    const resumed = vod.segments.find((s) => s.discontinuity)!;
    assert.ok(resumed.programDateTime!.getTime() >= killedAt, 'the segment after the discontinuity was made after the crash');

    // The segment in the making at the crash is marked missing (EXT-X-GAP), never numbered again.
    const resumedAt = vod.segments.indexOf(resumed);
    assert.equal(vod.segments[resumedAt - 1]?.gap, true, 'a gap before the resumed segment');
    assert.equal(vod.segments.filter((s) => s.gap).length, 1, 'one gap');
    const recorded = vod.segments.reduce((sum, s) => sum + (s.gap ? 0 : s.duration), 0);
    const onAir = (endedAt - liveFrom - (upAt - killedAt)) / 1000;
    const lost = onAir - recorded;
    t.diagnostic(`on air ${onAir.toFixed(2)} s, recorded ${recorded.toFixed(2)} s, lost ${lost.toFixed(2)} s`);
    assert.ok(lost >= -0.3 && lost <= SEGMENT_S + 0.5, `recorded ${recorded} s of ${onAir} s on air (lost ${lost} s)`);

    let file = await fetch(`${server.url}/api/spaces/${id}/recording.m4a`);
    for (let i = 0; i < 50 && file.status === 503; i++) {
      await sleep(200);
      file = await fetch(`${server.url}/api/spaces/${id}/recording.m4a`);
    }
    assert.equal(file.status, 200);
  } finally {
    await speaker?.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
