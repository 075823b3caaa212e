/**
 * `rostrum bot speak` as a user runs it: a real CLI process joins the stage of a real server over
 * WebRTC, plays a tone for its duration, records what it hears, and exits 0.
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
import { BIN, spawnServer, tempDir } from './helpers/server.js';

test('rostrum bot speak plays its tone to the stage, records what it hears, and exits 0', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  let listener: SpeakerBot | undefined;
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const api = new Api(server.url);
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const id = (await api.post('/api/spaces', { token: operator, body: { title: 'Bots', startNow: true } })).body.id as string;
    const token = createToken({ ...creds, identity: 'tester', space: id, role: 'speaker' });
    await api.post(`/api/spaces/${id}/stage`, { token });
    await api.post(`/api/spaces/${id}/participants/tester/unmute`, { token });
    listener = await SpeakerBot.join({ server: server.url, token, toneHz: 440 });

    const heardWav = path.join(dataDir, 'heard.wav');
    const child = spawn(
      process.execPath,
      [BIN, 'bot', 'speak', '--space', id, '--tone', '660', '--seconds', '3', '--listen-wav', heardWav],
      {
        env: { ...process.env, ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const since = Date.now();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

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
