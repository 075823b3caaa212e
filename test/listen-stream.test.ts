/**
 * The progressive stream, `/listen/<id>.aac` (broadcast/live-stream.ts, api/routes/listen.ts), as a
 * player that is not a browser hears it: ffmpeg reads the HTTP stream and decodes it as ADTS while a
 * bot speaker talks a 440 Hz tone — from the origin itself, and from a real nginx edge that fans it
 * out with nchan (the shipped deploy/nginx/edge.conf and stream.conf). Both must carry the tone and
 * end when the space ends; both refuse what is not live with the origin's coded error; the edge's
 * publisher refuses a node without the key, and the origin serves none of the edge's listeners.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { edgesStream, type NginxEdge, startEdge } from '../src/cluster/local/nginx.js';
import { freePort } from '../src/cluster/local/util.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const TONE_HZ = 440;

type Coded = { error: { code: string } };

/** ffmpeg playing `url` for up to `seconds`: the PCM it decoded, and whether the stream ended by itself first. */
function ffmpegHears(url: string, seconds: number): Promise<{ pcm: Buffer; endedItself: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(findFfmpeg(), [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'aac', '-i', url],
      ...['-t', String(seconds), '-f', 's16le', '-ac', '1', '-ar', '48000', 'pipe:1'],
    ]);
    const pcm: Buffer[] = [];
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (b: Buffer) => pcm.push(b));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(
      () => {
        killed = true;
        child.kill('SIGKILL');
      },
      (seconds + 10) * 1000,
    );
    child.once('close', () => {
      clearTimeout(timer);
      const audio = Buffer.concat(pcm);
      resolve({ pcm: audio, endedItself: !killed && audio.length < seconds * 48_000 * 2 * 0.95, stderr });
    });
  });
}

function assertTone(pcm: Buffer, where: string): void {
  assert.ok(pcm.length >= 48_000 * 2, `${where}: a second of audio at least (${pcm.length / 96_000} s)`);
  const tone = goertzel(pcm, TONE_HZ);
  const other = goertzel(pcm, 1000);
  assert.ok(tone > 0.001 && tone > other * 100, `${where}: the speaker's ${TONE_HZ} Hz tone (power ${tone}, at 1 kHz ${other})`);
}

async function talkingSpace(t: TestServer): Promise<{ id: string; bot: SpeakerBot }> {
  const id = await createSpace(t, { live: true, title: 'Stream “test”' });
  const token = t.token(id, 'spk', 'speaker');
  assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/spk/unmute`, { token })).status, 200);
  const bot = await SpeakerBot.join({ server: t.url, token, toneHz: TONE_HZ });
  return { id, bot };
}

async function metric(t: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

describe('the progressive stream from the origin', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.close();
  });

  test('ffmpeg hears the speaker; the stream ends with the space; what is not live is refused with a code', async () => {
    const { id, bot } = await talkingSpace(t);
    try {
      const head = await fetch(`${t.url}/listen/${id}.aac`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-type'), 'audio/aac');
      assert.equal(head.headers.get('icy-name'), 'Stream ?test?', 'the title, in printable ASCII');
      const check = await t.api.get(`/api/spaces/${id}/stream`);
      assert.deepEqual(check.body, { live: true, url: `/listen/${id}.aac`, contentType: 'audio/aac' });

      const heard = await ffmpegHears(`${t.url}/listen/${id}.aac`, 3);
      assert.equal(heard.stderr.trim(), '', 'ffmpeg decoded it without complaint');
      assertTone(heard.pcm, 'from the origin');

      // A listener connected when the space ends: its stream ends, and the node counted it meanwhile.
      const listening = ffmpegHears(`${t.url}/listen/${id}.aac`, 60);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await metric(t, 'rostrum_stream_listeners'), 1, 'one listener of the stream on this node');
      assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: t.operator })).status, 200);
      const last = await listening;
      assert.ok(last.endedItself, 'the stream ended with the space, not at the 60 s limit');
      assert.equal(await metric(t, 'rostrum_stream_listeners'), 0);
    } finally {
      await bot.close();
    }

    const ended = await fetch(`${t.url}/listen/${id}.aac`);
    assert.equal(ended.status, 409);
    assert.equal(((await ended.json()) as Coded).error.code, 'space_ended');
    const unknown = await fetch(`${t.url}/listen/no-such-space.aac`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as Coded).error.code, 'space_not_found');
    const scheduled = (
      await t.api.post('/api/spaces', {
        token: t.operator,
        body: { title: 'Later', host: { identity: 'h', name: 'H' }, scheduledStart: new Date(Date.now() + 3_600_000).toISOString() },
      })
    ).body.id as string;
    const notYet = await fetch(`${t.url}/listen/${scheduled}.aac`);
    assert.equal(notYet.status, 409);
    assert.equal(((await notYet.json()) as Coded).error.code, 'space_not_live');
    assert.equal((await fetch(`${t.url}/listen/bad%2Fid.aac`)).status, 400, 'a malformed id');
  });
});

describe('the progressive stream fanned out by an nginx edge with nchan', { skip: !edgesStream() && 'nchan is not installed' }, () => {
  let t: TestServer;
  let edge: NginxEdge;
  before(async () => {
    const port = await freePort();
    edge = await startEdge(`127.0.0.1:${port}`);
    assert.ok(edge.stream, 'the edge fans out the stream');
    t = await startTestServer({ port, streamEdges: [edge.stream.publishUrl], streamEdgeKey: edge.stream.key });
  });
  after(async () => {
    await t?.close();
    await edge?.stop();
  });

  test('ffmpeg hears the speaker through the edge; the origin serves none of it; it ends with the space', async () => {
    const { id, bot } = await talkingSpace(t);
    try {
      const heard = await ffmpegHears(`${edge.url}/listen/${id}.aac`, 3);
      assert.equal(heard.stderr.trim(), '', 'ffmpeg decoded it without complaint');
      assertTone(heard.pcm, 'through the edge');
      assert.ok((await metric(t, 'rostrum_stream_edge_parts_total')) > 10, 'the node published its parts to the edge');
      assert.equal(await metric(t, 'rostrum_stream_edge_parts_lost_total'), 0, 'and the edge took every one');

      const listening = ffmpegHears(`${edge.url}/listen/${id}.aac`, 60);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(await metric(t, 'rostrum_stream_listeners'), 0, 'the edge serves its listeners itself');
      assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: t.operator })).status, 200);
      const last = await listening;
      assert.ok(last.endedItself, 'the stream ended with the space, not at the 60 s limit');
    } finally {
      await bot.close();
    }
    // The edge asks the origin at most once a second whether a space is live.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const ended = await fetch(`${edge.url}/listen/${id}.aac`, { signal: AbortSignal.timeout(5000) });
    assert.equal(ended.status, 409, 'an ended space: the origin’s refusal, through the edge');
    assert.equal(((await ended.json()) as Coded).error.code, 'space_ended');
    const unknown = await fetch(`${edge.url}/listen/no-such-space.aac`, { signal: AbortSignal.timeout(5000) });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as Coded).error.code, 'space_not_found');

    const forged = await fetch(`${edge.url}/rostrum-stream/${id}`, { method: 'POST', body: 'not audio' });
    assert.equal(forged.status, 403, 'a publisher without the key is refused');
    const wrongKey = await fetch(`${edge.url}/rostrum-stream/${id}`, {
      method: 'POST',
      body: 'x',
      headers: { 'x-rostrum-stream-key': 'guess' },
    });
    assert.equal(wrongKey.status, 403);
    const crashes = (await import('node:fs')).readFileSync(`${edge.dir}/error.log`, 'utf8').match(/exited on signal|Assertion/g) ?? [];
    assert.deepEqual(crashes, [], 'no nginx worker crashed');
  });
});
