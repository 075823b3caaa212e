/**
 * The host edits a replay (issue 26): trims its start and end, undoes the trim, deletes the
 * recording — through the HTTP API, on a real recording of a bot speaker. The replay playlist, its
 * media objects, the downloadable file (ffprobe), the podcast feed and the operator's webhook follow
 * each edit; nobody but the host (or the operator) may make one; bad trims get coded errors.
 * hls.js playing a trimmed replay is test/player-browser.test.ts's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createSpace } from './helpers/fixture.js';
import { probeDuration } from './helpers/media.js';
import { runCli, startTestServer, type TestServer, tempDir } from './helpers/server.js';
import { startReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Listed {
  text: string;
  names: string[];
  seconds: number;
  firstPdt: number;
}

describe('replay editing: trim, undo, delete', { timeout: 120_000 }, () => {
  let t: TestServer;
  let id: string;
  let host: string;
  let receiver: WebhookReceiver;
  let whole: Listed;
  const work = tempDir('rostrum-replay-edit-');

  const playlist = async (): Promise<Listed> => {
    const response = await fetch(`${t.url}/hls/${id}/index.m3u8`);
    assert.equal(response.status, 200);
    const text = await response.text();
    return {
      text,
      names: [...text.matchAll(/^([^#\s].*)$/gm)].map((m) => m[1]!),
      seconds: [...text.matchAll(/^#EXTINF:([\d.]+),/gm)].reduce((sum, m) => sum + Number(m[1]), 0),
      firstPdt: Date.parse(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(text)?.[1] ?? ''),
    };
  };

  /** recording.m4a once it is made (again): its length by ffprobe, and its ETag. */
  const file = async (): Promise<{ seconds: number; etag: string }> => {
    for (const deadline = Date.now() + 20_000; ; await sleep(200)) {
      const response = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`);
      if (response.status === 200) {
        const out = path.join(work, `recording-${Date.now()}.m4a`);
        fs.writeFileSync(out, Buffer.from(await response.arrayBuffer()));
        return { seconds: await probeDuration(out), etag: response.headers.get('etag') ?? '' };
      }
      await response.arrayBuffer();
      assert.equal(response.status, 503, 'recording_pending while it is made');
      assert.ok(Date.now() < deadline, 'the file is made within 20 s');
    }
  };

  const readyEvents = () =>
    receiver.received
      .map((r) => ({ ...JSON.parse(r.body), id: r.headers['webhook-id'] }))
      .filter((e) => e.type === 'recording.ready' && e.data.space.id === id);

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver(204);
    const hook = await t.api.post('/api/webhooks', { token: t.operator, body: { url: receiver.url, events: ['recording.ready'] } });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    id = await createSpace(t, { live: true, title: 'Trim me' });
    host = t.token(id, 'h', 'host');
    const speaker = t.token(id, 's', 'speaker');
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token: speaker })).status, 200);
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/s/unmute`, { token: speaker })).status, 200);
    const bot = await SpeakerBot.join({ server: t.url, token: speaker, toneHz: 440 });
    await sleep(10_000);
    await bot.close();
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    await file();
    whole = await playlist();
    assert.ok(whole.seconds > 8, `recorded ${whole.seconds} s`);
  });
  after(async () => {
    await receiver?.close();
    await t?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('only the host or the operator may edit, only once the space has ended, and bad trims are refused with a code', async () => {
    const trim = (body: unknown, token = host, space = id) => t.api.call('PUT', `/api/spaces/${space}/replay/trim`, { token, body });
    for (const [role, who] of [
      ['cohost', 'c'],
      ['speaker', 's'],
      ['listener', 'l'],
    ] as const) {
      const refused = await trim({ start: 1, end: 5 }, t.token(id, who, role));
      assert.equal(refused.status, 403, `a ${role}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.code, 'permission_denied');
      const deleting = await t.api.call('DELETE', `/api/spaces/${id}/recording`, { token: t.token(id, who, role), body: {} });
      assert.equal(deleting.status, 403, `a ${role} may not delete the recording`);
    }
    const live = await createSpace(t, { live: true, title: 'Still on air' });
    const onAir = await trim({ start: 1, end: 5 }, t.token(live, 'h', 'host'), live);
    assert.equal(onAir.status, 409);
    assert.equal(onAir.body.error.code, 'space_not_ended');

    const cases: Array<[unknown, number, string]> = [
      [{ start: 5, end: 3 }, 400, 'replay_trim_empty'],
      [{ start: 4, end: 4 }, 400, 'replay_trim_empty'],
      [{ start: whole.seconds + 10 }, 400, 'replay_trim_empty'],
      [{ start: -1, end: 3 }, 400, 'validation_failed'],
      [{ start: '1', end: 3 }, 400, 'validation_failed'],
      [{ start: 1, end: 3, extra: true }, 400, 'unknown_field'],
      [{ end: 3 }, 400, 'validation_failed'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await trim(body);
      assert.equal(answer.status, status, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, code, JSON.stringify(body));
      assert.equal(typeof answer.body.error.message, 'string');
    }
    assert.deepEqual(await playlist(), whole, 'nothing refused changed the replay');
  });

  test('a trim cuts the replay at part boundaries: the playlist, its objects, the file, the feed and the webhook follow', async () => {
    // Into the middle of a whole segment at each end, so that both edges are slices.
    const lengths = [...whole.text.matchAll(/^#EXTINF:([\d.]+),/gm)].map((m) => Number(m[1]));
    const starts = lengths.map((_, i) => lengths.slice(0, i).reduce((a, b) => a + b, 0));
    const first = lengths.findIndex((d, i) => d >= 1.5 && starts[i]! >= 1);
    const last = lengths.findLastIndex((d, i) => d >= 1.5 && i > first + 1);
    assert.ok(first > 0 && last > first, `segments: ${lengths.join(', ')}`);
    const asked = { start: starts[first]! + 0.6, end: starts[last]! + 0.7 };
    const answer = await t.api.call('PUT', `/api/spaces/${id}/replay/trim`, { token: host, body: asked });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { trim, kept, recorded } = answer.body as { trim: { start: number; end: number }; kept: number; recorded: number };
    assert.ok(
      Math.abs(trim.start - asked.start) <= 0.13 && Math.abs(trim.end - asked.end) <= 0.13,
      `snapped to parts: ${JSON.stringify(trim)}`,
    );
    assert.ok(Math.abs(recorded - whole.seconds) < 0.001, `the whole recording: ${recorded} s`);
    assert.deepEqual(answer.body.space.replayTrim, trim, 'the space says how its replay is trimmed');

    const cut = await playlist();
    assert.ok(Math.abs(cut.seconds - kept) < 0.002, `the playlist lists ${cut.seconds} s; the trim keeps ${kept} s`);
    assert.ok(Math.abs(cut.firstPdt - (whole.firstPdt + trim.start * 1000)) <= 2, 'its first PROGRAM-DATE-TIME moves with the start');
    assert.match(cut.names[0]!, /^\d+\.p\d+-\d+\.m4s$/, `the first segment is a slice: ${cut.names[0]}`);
    assert.match(cut.names.at(-1)!, /^\d+\.p\d+-\d+\.m4s$/, 'and so is the last');
    for (const name of cut.names) {
      const object = await fetch(`${t.url}/hls/${id}/${name}`);
      await object.arrayBuffer();
      assert.equal(object.status, 200, name);
    }
    // What the trim cut is not served: the first segments, nor a sliced segment whole (an edge may hold it as immutable).
    for (const name of [whole.names[0]!, cut.names[0]!.replace(/\.p\d+-\d+/, ''), cut.names[0]!.replace(/\.p(\d+)-/, '.p0-')]) {
      const object = await fetch(`${t.url}/hls/${id}/${name}`);
      assert.equal(object.status, 404, `${name} is cut`);
      assert.equal(((await object.json()) as { error: { code: string } }).error.code, 'hls_object_not_found');
    }

    const made = await file();
    assert.ok(Math.abs(made.seconds - kept) < 0.05, `recording.m4a lasts ${made.seconds} s (ffprobe); the trim keeps ${kept} s`);
    const feed = await (await fetch(`${t.url}/feeds/h.rss`)).text();
    const duration = /<itunes:duration>(\d+):(\d+):(\d+)<\/itunes:duration>/.exec(feed);
    assert.ok(duration, 'the feed has an item with a duration');
    const seconds = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
    assert.equal(seconds, Math.round(made.seconds), `the feed's item lasts the trimmed length (${duration[0]})`);

    for (const deadline = Date.now() + 10_000; readyEvents().length < 2 && Date.now() < deadline; ) await sleep(100);
    const events = readyEvents();
    assert.equal(events.length, 2, 'recording.ready again once the trimmed file is made');
    assert.notEqual(events[0].id, events[1].id, `under an id of its own: ${JSON.stringify(events)}`);
    assert.deepEqual(events[1].data.trim, trim);
    assert.ok(Math.abs(events[1].data.duration - made.seconds) < 0.01, `with the new duration (${events[1].data.duration})`);
  });

  test('undoing the trim (the CLI, as the operator) brings the whole recording back', async () => {
    const cli = (...args: string[]) => runCli([...args, '--server', t.url, '--data', t.dataDir]);
    const bad = await cli('replay', 'trim', id, '--start', '1:xx');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--start "1:xx" is not a time/);
    const unsure = await cli('replay', 'delete', id);
    assert.notEqual(unsure.code, 0, 'deleting needs --yes');
    const undone = await cli('replay', 'untrim', id, '--json');
    assert.equal(undone.code, 0, undone.stderr);
    assert.equal(JSON.parse(undone.stdout).replayTrim, null);
    const back = await playlist();
    assert.equal(back.text, whole.text, 'the replay is the whole recording again');
    const made = await file();
    assert.ok(Math.abs(made.seconds - whole.seconds) < 0.05, `recording.m4a lasts ${made.seconds} s again`);
  });

  test('deleting the recording takes the replay, the file and the feed item away for good', async () => {
    const answer = await t.api.call('DELETE', `/api/spaces/${id}/recording`, { token: host, body: {} });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.recording, false);
    const replay = await fetch(`${t.url}/hls/${id}/index.m3u8`);
    assert.equal(replay.status, 404);
    assert.equal(((await replay.json()) as { error: { code: string } }).error.code, 'broadcast_not_found');
    const segment = await fetch(`${t.url}/hls/${id}/${whole.names[3]}`);
    assert.equal(segment.status, 404, 'its segments are gone');
    await segment.arrayBuffer();
    const download = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`);
    assert.equal(download.status, 404);
    assert.equal(((await download.json()) as { error: { code: string } }).error.code, 'recording_not_found');
    const feed = await (await fetch(`${t.url}/feeds/h.rss`)).text();
    assert.ok(!feed.includes(id), 'the feed has no item for it');
    const state = (await t.api.get(`/api/spaces/${id}/state`)).body;
    assert.equal(state.recording, false);
    assert.equal(state.playlistUrl, undefined, 'the replay page offers nothing to play');
    assert.ok(!fs.existsSync(path.join(t.dataDir, 'broadcasts', id)), 'its files are deleted from the data directory');
    const again = await t.api.call('PUT', `/api/spaces/${id}/replay/trim`, { token: host, body: { start: 1, end: 3 } });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'recording_not_found');

    const log = (await t.api.get(`/api/spaces/${id}/actions`, { token: host })).body as {
      actions: Array<{ actor: string; action: string }>;
    };
    assert.deepEqual(
      log.actions.filter((a) => /^(replay|recording)\./.test(a.action)).map((a) => `${a.actor} ${a.action}`),
      ['h replay.trim', 'operator replay.untrim', 'h recording.delete'],
      'each edit is in the moderation log, with who made it',
    );
  });
});
