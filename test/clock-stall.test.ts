/**
 * The broadcast's clock after a stall (issue 25). The real server process is stopped (SIGSTOP) for
 * 4 s while a speaker is on air, then continued. The mix's clock skips the lost time rather than
 * bursting it out; before the fix, EXT-X-PROGRAM-DATE-TIME then stayed 4 s behind the wall clock for
 * the rest of the space, so every player's and every listener's latency figure was off by the stall.
 * Now the segment that holds the jump closes and the next starts after a discontinuity with a fresh
 * PROGRAM-DATE-TIME: the newest segment's end is as far from the wall clock as before the stall.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import HLS from 'hls-parser';
import type { MediaPlaylist } from 'hls-parser/types.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createToken } from '../src/control/tokens.js';
import { Api } from './helpers/http.js';
import { spawnServer, tempDir } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STALL_MS = 4000;

/**
 * How far behind the wall clock the newest complete segment of the live playlist ends, ms: the least
 * of ten looks over 2.5 s, so the segment's phase (a segment ends up to 2 s before a look) is taken
 * out and what is left is the broadcast's own lag.
 */
async function lag(url: string): Promise<{ ms: number; playlist: MediaPlaylist }> {
  let least = Number.POSITIVE_INFINITY;
  let playlist: MediaPlaylist | undefined;
  for (let look = 0; look < 10; look++) {
    playlist = HLS.parse(await (await fetch(url)).text()) as MediaPlaylist;
    const last = playlist.segments.at(-1)!;
    least = Math.min(least, Date.now() - (last.programDateTime!.getTime() + last.duration * 1000));
    await sleep(250);
  }
  return { ms: least, playlist: playlist! };
}

test('after the process is stalled, PROGRAM-DATE-TIME is re-anchored to the wall clock after a discontinuity', async (t) => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  let speaker: SpeakerBot | undefined;
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(server.url);
    const created = await api.post('/api/spaces', { token: operator, body: { title: 'Stall', host: { identity: 'h' }, startNow: true } });
    const id = created.body.id as string;
    const token = createToken({ ...creds, identity: 's', space: id, role: 'speaker' });
    assert.equal((await api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    speaker = await SpeakerBot.join({ server: server.url, token, toneHz: 440 });
    const plain = `${server.url}/hls/${id}/plain.m3u8`;
    await sleep(5000);
    const before = await lag(plain);

    server.child.kill('SIGSTOP');
    await sleep(STALL_MS);
    server.child.kill('SIGCONT');
    await sleep(6000);
    const after = await lag(plain);
    t.diagnostic(`newest segment ends ${before.ms} ms behind the clock before the stall, ${after.ms} ms after it`);
    assert.ok(after.ms - before.ms < 1000, `re-anchored: ${after.ms} ms behind after, ${before.ms} ms before`);
    const segments = after.playlist.segments;
    const resumed = segments.findIndex((s) => s.discontinuity);
    assert.ok(resumed > 0, 'a discontinuity where the clock jumped');
    const previous = segments[resumed - 1]!;
    const jump = segments[resumed]!.programDateTime!.getTime() - (previous.programDateTime!.getTime() + previous.duration * 1000);
    assert.ok(jump > STALL_MS - 1500 && jump < STALL_MS + 1000, `PROGRAM-DATE-TIME jumps by the stall (${jump} ms)`);
  } finally {
    await speaker?.close();
    server.child.kill('SIGCONT');
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
