/**
 * The broadcast end to end: two bot speakers (440 Hz with timing clicks, 660 Hz) talk over real
 * WebRTC; the server mixes, encodes with ffmpeg and packages LL-HLS; listeners pull it over HTTP.
 * What is heard is decoded by ffmpeg (our listener bot feeds it parts; for the replay, ffmpeg's own
 * HLS client reads the playlist) and measured with Goertzel. Playlists are parsed by hls-parser.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import HLS from 'hls-parser';
import type { MediaPlaylist } from 'hls-parser/types.js';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createSpace } from './helpers/fixture.js';
import { decode, ffmpeg, probeDuration, toneBetween } from './helpers/media.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PRESENT = 2e-3;
const ABSENT = 2e-4;
const PART_MS = 256;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function playlist(t: TestServer, id: string, query = '', file = 'index.m3u8') {
  const response = await fetch(`${t.url}/hls/${id}/${file}${query}`);
  const text = await response.text();
  return { response, text, parsed: response.status === 200 ? (HLS.parse(text) as MediaPlaylist) : undefined };
}

async function seat(t: TestServer, id: string, who: string, options: { toneHz: number; clicks?: boolean }): Promise<SpeakerBot> {
  const token = t.token(id, who, 'speaker');
  assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
  return SpeakerBot.join({ server: t.url, token, ...options });
}

describe('the LL-HLS broadcast', () => {
  let t: TestServer;
  let id: string;
  let a: SpeakerBot;
  let b: SpeakerBot;
  let mutedAt = 0;
  let unmutedAt = 0;
  let liveFrom = 0;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true, title: 'Broadcast test' });
    liveFrom = Date.now();
    a = await seat(t, id, 'a', { toneHz: 440, clicks: true });
    b = await seat(t, id, 'b', { toneHz: 660 });
    await sleep(1500);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await t.close();
  });

  test('a listener bot pulling LL-HLS with blocking reload hears both speakers and their clicks, with no stalls', async () => {
    const { report, pcm } = await ListenerBot.listen({ server: t.url, space: id, seconds: 6, ffmpeg });
    assert.ok(report.parts >= 12, `parts fetched one by one (${report.parts})`);
    assert.equal(report.stalls, 0, 'no stalls');
    assert.deepEqual(report.errors, {});
    const hz = report.tones.map((tone) => tone.hz);
    assert.ok(hz.some((f) => Math.abs(f - 440) <= 5) && hz.some((f) => Math.abs(f - 660) <= 5), `tones ${JSON.stringify(report.tones)}`);
    assert.ok(report.latency.clicks >= 2, `the 440 Hz speaker's clicks are heard (${report.latency.clicks})`);
    assert.ok(report.latency.availableMs && report.latency.availableMs.p50 > 0, 'glass-to-ear is measured');
    assert.ok(pcm.length / 2 / 48_000 >= 3.5, 'about four seconds of audio');
  });

  test('the live playlists parse with hls-parser: parts, preload hint, blocking reload, program date time; plain has segments only', async () => {
    const { response, parsed } = await playlist(t, id);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(response.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    assert.ok(parsed);
    assert.equal(parsed.endlist, false);
    assert.equal(parsed.partTargetDuration, 0.256);
    assert.equal(parsed.lowLatencyCompatibility?.canBlockReload, true);
    assert.ok((parsed.lowLatencyCompatibility?.partHoldBack ?? 0) >= 3 * 0.256);
    assert.equal(parsed.targetDuration, 2);
    const complete = parsed.segments.filter((s) => s.uri);
    assert.ok(complete.length >= 1);
    for (const s of complete) {
      assert.ok(s.programDateTime instanceof Date, 'every segment has a program date time');
      assert.ok(Math.round(s.duration) <= parsed.targetDuration);
    }
    const parts = parsed.segments.flatMap((s) => s.parts.filter((p) => !p.hint));
    assert.ok(parts.length >= 4, 'recent parts are listed');
    for (const part of parts) assert.ok((part.duration ?? 1) <= 0.256 + 1e-9, 'parts are at most the part target');
    const media = await fetch(`${t.url}/hls/${id}/${parts.at(-1)!.uri}`);
    assert.equal(media.status, 200);
    assert.equal(media.headers.get('content-type'), 'audio/mp4');
    assert.equal(media.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(media.headers.get('access-control-allow-origin'), '*');
    const segment = await fetch(`${t.url}/hls/${id}/${complete.at(-1)!.uri}`);
    assert.equal(segment.status, 200);
    const init = await fetch(`${t.url}/hls/${id}/${complete[0]!.map!.uri}`);
    assert.equal(init.status, 200);
    assert.equal(Buffer.from(await init.arrayBuffer()).toString('latin1', 4, 8), 'ftyp');

    const plain = await playlist(t, id, '', 'plain.m3u8');
    assert.ok(plain.parsed);
    assert.equal(plain.parsed.lowLatencyCompatibility, undefined, 'no LL tags for older players');
    assert.ok(plain.parsed.segments.length >= 1 && plain.parsed.segments.every((s) => s.uri && s.parts.length === 0));
  });

  test('a blocking reload is held until the part exists; bad blocking queries get coded 400s, unknown parameters are ignored', async () => {
    const { text } = await playlist(t, id);
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"/.exec(text);
    assert.ok(hint, 'a preload hint names the next part');
    const [msn, part] = [Number(hint[1]), Number(hint[2])];
    const asked = Date.now();
    const blocked = await playlist(t, id, `?_HLS_msn=${msn}&_HLS_part=${part}`);
    assert.equal(blocked.response.status, 200);
    assert.ok(blocked.text.includes(`URI="${msn}.${part}.m4s"`), 'the answer lists the part asked for');
    assert.ok(Date.now() - asked < 2000, 'answered as soon as the part was out');
    assert.equal(blocked.response.headers.get('cache-control'), 'public, max-age=6');

    // The preload-hinted part itself: the request is held until it exists, then it is served.
    const nextHint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([\d.]+m4s)"/.exec(blocked.text)![1];
    const hinted = await fetch(`${t.url}/hls/${id}/${nextHint}`);
    assert.equal(hinted.status, 200);

    const ahead = await playlist(t, id, `?_HLS_msn=${msn + 10}&_HLS_part=0`);
    assert.equal(ahead.response.status, 400);
    assert.equal(JSON.parse(ahead.text).error.code, 'hls_too_far_ahead');
    const partOnly = await playlist(t, id, '?_HLS_part=1');
    assert.equal(JSON.parse(partOnly.text).error.code, 'hls_bad_request');
    // A parameter the playlist does not know (a CDN's signed-URL token, a cache-buster) is ignored.
    const unknownQuery = await playlist(t, id, '?foo=1');
    assert.equal(unknownQuery.response.status, 200);
    const missing = await fetch(`${t.url}/hls/${id}/999999.m4s`);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'hls_object_not_found');
    const traversal = await fetch(`${t.url}/hls/${id}/..%2f..%2frostrum.db`);
    assert.equal(traversal.status, 404);
  });

  test('muting a speaker takes their tone off the broadcast within one part; unmuting brings it back', async () => {
    const host = t.token(id, 'h', 'host');
    mutedAt = Date.now();
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/b/mute`, { token: host })).status, 200);
    await sleep(2500);
    unmutedAt = Date.now();
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/b/unmute`, { token: t.token(id, 'b', 'speaker') })).status, 200);
    await sleep(2000);
    // Measured on the recording below, once the space has ended.
  });

  test('an encoder crash is survived: ffmpeg is restarted and the playlist marks a discontinuity', async () => {
    const broadcast = t.server.broadcaster.broadcast(id as never)!;
    const pid = broadcast.mix.encoderPid!;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline) {
      text = (await playlist(t, id)).text;
      if (text.includes('#EXT-X-DISCONTINUITY\n') && text.includes('init-1.mp4')) break;
      await sleep(200);
    }
    assert.ok(text.includes('#EXT-X-DISCONTINUITY\n'), 'a discontinuity after the restart');
    assert.ok(text.includes('#EXT-X-MAP:URI="init-1.mp4"'), 'the new run has its init segment');
    assert.notEqual(broadcast.mix.encoderPid, pid);
    assert.equal(broadcast.mix.crashes, 1);
    await sleep(2500);
  });

  test('after the end the same URL is a VOD playlist, the recording holds everything, and the mute shows in it', async () => {
    const host = t.token(id, 'h', 'host');
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    const endedAt = Date.now();
    const vod = await playlist(t, id);
    assert.ok(vod.parsed);
    assert.equal(vod.parsed.endlist, true);
    assert.equal(vod.parsed.playlistType, 'VOD');
    assert.equal(vod.parsed.segments[0]!.mediaSequenceNumber, 0, 'the replay starts at the beginning');
    assert.ok(vod.text.includes('#EXT-X-DISCONTINUITY'), 'the encoder restart is kept');
    // A minute: the host may trim the replay (test/replay-edit.test.ts), and edges must follow.
    assert.equal(vod.response.headers.get('cache-control'), 'public, max-age=60');

    // ffmpeg's own HLS client reads the replay; sample 0 is the first segment's program date time.
    const pcm = await decode(`${t.url}/hls/${id}/index.m3u8`);
    const startsAt = vod.parsed.segments[0]!.programDateTime!.getTime();
    const seconds = pcm.length / 2 / 48_000;
    assert.ok(seconds > (endedAt - liveFrom) / 1000 - 3, `the replay is about as long as the space was live (${seconds} s)`);
    const tone = (from: number, to: number, hz: number) => toneBetween(pcm, startsAt, from, to, hz);
    assert.ok(tone(mutedAt - 1500, mutedAt - 100, 660) > PRESENT, 'both tones before the mute');
    assert.ok(tone(mutedAt - 1500, mutedAt - 100, 440) > PRESENT);
    const afterMute = tone(mutedAt + PART_MS, unmutedAt - 100, 660);
    assert.ok(afterMute < ABSENT, `no 660 Hz from one part after the mute (${afterMute})`);
    assert.ok(tone(mutedAt + PART_MS, unmutedAt - 100, 440) > PRESENT, 'the other speaker is still on air');
    assert.ok(tone(unmutedAt + 500, unmutedAt + 1800, 660) > PRESENT, 'the unmuted speaker is back');

    // The recording file: made without re-encoding, a proper MP4 with its duration, byte ranges served.
    let file = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`);
    for (let i = 0; i < 50 && file.status === 503; i++) {
      await sleep(200);
      file = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`);
    }
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'audio/mp4');
    const bytes = Buffer.from(await file.arrayBuffer());
    const local = path.join(t.dataDir, 'downloaded.m4a');
    fs.writeFileSync(local, bytes);
    const duration = await probeDuration(local);
    const listed = vod.parsed.segments.reduce((sum, s) => sum + s.duration, 0);
    assert.ok(Math.abs(duration - listed) < 0.1, `recording ${duration} s vs playlist ${listed} s`);
    const range = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`, { headers: { range: 'bytes=0-99' } });
    assert.equal(range.status, 206);
    assert.equal((await range.arrayBuffer()).byteLength, 100);

    const feed = await fetch(`${t.url}/feeds/h.rss`);
    assert.equal(feed.status, 200);
    assert.match(feed.headers.get('content-type') ?? '', /application\/rss\+xml/);
    const xml = await feed.text();
    assert.ok(xml.includes('<title>Broadcast test</title>'));
    assert.ok(xml.includes(`<enclosure url="${t.url}/api/spaces/${id}/recording.m4a" length="${bytes.length}" type="audio/x-m4a"/>`));
    assert.match(xml, /<itunes:duration>00:00:\d\d<\/itunes:duration>/);
    assert.equal((await fetch(`${t.url}/feeds/nobody.rss`)).status, 404);
  });
});

describe('a space recorded off', () => {
  test('keeps nothing after the end: no playlist, no segments, no recording', async () => {
    const t = await startTestServer();
    try {
      const created = await t.api.post('/api/spaces', {
        token: t.operator,
        body: { title: 'Off the record', host: { identity: 'h', name: 'Hana' }, startNow: true, recording: false },
      });
      const id = created.body.id as string;
      await sleep(1200);
      assert.equal((await playlist(t, id)).response.status, 200, 'it is broadcast while live');
      assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: t.token(id, 'h', 'host') })).status, 200);
      const deadline = Date.now() + 5000;
      const dir = path.join(t.dataDir, 'broadcasts', id);
      while (fs.existsSync(dir) && Date.now() < deadline) await sleep(100);
      assert.equal(fs.existsSync(dir), false, 'the broadcast directory is gone');
      const gone = await playlist(t, id);
      assert.equal(gone.response.status, 404);
      assert.equal(JSON.parse(gone.text).error.code, 'broadcast_not_found');
      const file = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`);
      assert.equal(((await file.json()) as { error: { code: string } }).error.code, 'recording_not_found');
    } finally {
      await t.close();
    }
  });
});
