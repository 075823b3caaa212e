/**
 * The bots as a user runs them, each a real CLI process against a real server: `rostrum bot speak`
 * joins the stage over WebRTC, plays a tone for its duration, records what it hears, and exits 0;
 * `rostrum bot listen` pulls the broadcast over LL-HLS and reports what it heard.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { readWav } from '../src/bots/wav.js';
import { createToken } from '../src/control/tokens.js';
import { Api } from './helpers/http.js';
import { BIN, type ChildServer, spawnServer, tempDir } from './helpers/server.js';

/** A live space with `identity` on its stage, unmuted: the space's id and the speaker's token. */
async function liveSpaceWithSpeaker(server: ChildServer, dataDir: string, identity: string): Promise<{ id: string; token: string }> {
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
  const api = new Api(server.url);
  const operator = createToken({ ...creds, identity: 'operator', operator: true });
  const id = (await api.post('/api/spaces', { token: operator, body: { title: 'Bots', startNow: true } })).body.id as string;
  const token = createToken({ ...creds, identity, space: id, role: 'speaker' });
  await api.post(`/api/spaces/${id}/stage`, { token });
  await api.post(`/api/spaces/${id}/participants/${identity}/unmute`, { token });
  return { id, token };
}

/** Runs `rostrum <args>` against the server until it exits. */
async function rostrum(server: ChildServer, dataDir: string, args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

test('rostrum bot speak plays its tone to the stage, records what it hears, and exits 0', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  let listener: SpeakerBot | undefined;
  try {
    const { id, token } = await liveSpaceWithSpeaker(server, dataDir, 'tester');
    listener = await SpeakerBot.join({ server: server.url, token, toneHz: 440 });

    const heardWav = path.join(dataDir, 'heard.wav');
    const since = Date.now();
    const { code, stdout, stderr } = await rostrum(server, dataDir, [
      'bot',
      'speak',
      '--space',
      id,
      '--tone',
      '660',
      '--seconds',
      '3',
      '--listen-wav',
      heardWav,
    ]);

    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(stdout.trim()).identity, 'bot-speaker');
    assert.ok(goertzel(listener.heardSince(since + 1500), 660) > 2e-3, 'the stage hears the bot');
    const heard = readWav(heardWav);
    assert.ok(heard.length > 48_000 * 2, 'at least a second recorded');
    assert.ok(goertzel(heard.subarray(heard.length / 2), 440) > 2e-3, 'the bot heard the stage');
  } finally {
    await listener?.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

test('rostrum bot speak exits 1 saying why when its stage connection is lost (it exited 0 before)', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  try {
    const { id } = await liveSpaceWithSpeaker(server, dataDir, 'tester');
    const run = rostrum(server, dataDir, ['bot', 'speak', '--space', id, '--seconds', '30']);
    // Until the bot is on stage and talking: the state document says so.
    const api = new Api(server.url);
    for (let i = 0; i < 100; i++) {
      const stage = (await api.get(`/api/spaces/${id}/state`)).body.stage as Array<{ identity: string; muted: boolean }>;
      if (stage.some((m) => m.identity === 'bot-speaker' && !m.muted)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // its socket is open and its media flowing
    const killedAt = Date.now();
    server.child.kill('SIGKILL');
    const { code, stderr } = await run;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /left the stage early: the stage connection closed \(1006/);
    assert.ok(Date.now() - killedAt < 10_000, 'at once, not at the end of its 30 s');
  } finally {
    server.child.kill('SIGKILL');
    await server.exited;
  }
});

test('rostrum bot listen pulls the broadcast as a player does: JSON report of tones, stalls and latency, a WAV of it; an unknown space exits 1 saying why', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  let speaker: SpeakerBot | undefined;
  try {
    const { id, token } = await liveSpaceWithSpeaker(server, dataDir, 'voice');
    speaker = await SpeakerBot.join({ server: server.url, token, toneHz: 440, clicks: true });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the speaker's audio into the broadcast

    const wav = path.join(dataDir, 'broadcast.wav');
    const heard = await rostrum(server, dataDir, ['bot', 'listen', '--space', id, '--seconds', '5', '--wav', wav, '--json']);
    assert.equal(heard.code, 0, heard.stderr);
    const report = JSON.parse(heard.stdout.trim());
    assert.equal(report.space, id);
    assert.equal(report.ended, false);
    assert.ok(report.parts > 0, `parts heard: ${report.parts}`);
    assert.ok(report.audioSeconds >= 2, `audio heard: ${report.audioSeconds} s`);
    assert.equal(report.stalls, 0);
    assert.deepEqual(report.errors, {});
    assert.ok(
      report.tones.some((t: { hz: number }) => Math.abs(t.hz - 440) <= 10),
      `440 Hz among ${JSON.stringify(report.tones)}`,
    );
    assert.ok(report.latency.clicks >= 2, `clicks heard: ${JSON.stringify(report)}`);
    assert.ok(report.latency.availableMs.p50 > 0 && report.latency.availableMs.p50 < 2000, JSON.stringify(report.latency));
    const pcm = readWav(wav);
    assert.ok(Math.abs(pcm.length / 2 / 48_000 - report.audioSeconds) < 0.1, 'the WAV holds what was heard');
    assert.ok(goertzel(pcm.subarray(pcm.length / 2), 440) > 2e-3, 'the WAV has the tone');

    const unknown = await rostrum(server, dataDir, ['bot', 'listen', '--space', 'nosuchspace1', '--seconds', '1']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /heard nothing from space nosuchspace1 in 1 s \(the server answered 404 ×\d+\)/);
  } finally {
    await speaker?.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
