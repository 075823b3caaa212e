/**
 * werift's internals behind one gate (stage/werift-adapter.ts, issue 25 item 8): the fast paths are
 * installed only on the exact werift version they were written for, with every method they wrap
 * present; anything else — and ROSTRUM_WERIFT_FAST_PATHS=off — runs the stage on werift's own paths.
 * The fallback is proved on a real server: two speakers hear each other through it with every
 * microphone packet taken werift's way, and the node says so (log, metric).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { createToken } from '../src/control/tokens.js';
import { checkWerift, loadedWeriftVersion, WERIFT_PINNED } from '../src/stage/werift-adapter.js';
import { Api } from './helpers/http.js';
import { ROOT, spawnServer, tempDir } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the fast paths are for the pinned werift only: another version, a missing method or the switch turns them off, saying why', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies.werift, WERIFT_PINNED, 'package.json pins werift exactly, at the version the fast paths are written for');
  assert.equal(loadedWeriftVersion(), WERIFT_PINNED, 'the werift loaded is the pinned one');
  assert.deepEqual(checkWerift(WERIFT_PINNED, undefined, {}), { version: WERIFT_PINNED, fastPaths: true });

  const other = checkWerift('0.24.5', undefined, {});
  assert.equal(other.fastPaths, false);
  assert.match(other.reason ?? '', /werift 0\.24\.5 is loaded; the fast paths are written for 0\.24\.4/);
  const lacking = checkWerift(WERIFT_PINNED, [['RTCDtlsTransport.prototype.updateSrtpSession', undefined]], {});
  assert.deepEqual(lacking, {
    version: WERIFT_PINNED,
    fastPaths: false,
    reason: 'werift lacks RTCDtlsTransport.prototype.updateSrtpSession',
  });
  assert.equal(checkWerift(WERIFT_PINNED, undefined, { ROSTRUM_WERIFT_FAST_PATHS: 'off' }).fastPaths, false);
});

test("with the fast paths off the stage runs on werift's own paths: speakers hear each other, and the node says so", async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir, { ROSTRUM_WERIFT_FAST_PATHS: 'off' });
  const bots: SpeakerBot[] = [];
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const api = new Api(server.url);
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Own paths', host: { identity: 'h' }, startNow: true },
    });
    const id = created.body.id as string;
    for (const [who, hz] of [
      ['a', 440],
      ['b', 660],
    ] as const) {
      const token = createToken({ ...creds, identity: who, space: id, role: 'speaker' });
      assert.equal((await api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
      assert.equal((await api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
      bots.push(await SpeakerBot.join({ server: server.url, token, toneHz: hz }));
    }
    await sleep(1500);
    const since = Date.now();
    await sleep(1000);
    const [a, b] = bots as [SpeakerBot, SpeakerBot];
    assert.ok(goertzel(a.heardSince(since), 660) > 2e-3, 'A hears B');
    assert.ok(goertzel(b.heardSince(since), 440) > 2e-3, 'B hears A');

    const metrics = (await api.get('/metrics')).body as string;
    assert.match(metrics, /^rostrum_werift_fast_paths 0$/m);
    const received = (p: string) =>
      Number(new RegExp(`^rostrum_stage_received_packets_total\\{path="${p}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(received('werift') > 50, `werift's path took the microphones (${received('werift')})`);
    assert.equal(received('fast'), 0, 'the fast path took none');
    assert.ok(
      server.lines.some((l) => l.includes('"level":40') && l.includes('ROSTRUM_WERIFT_FAST_PATHS=off')),
      'the reason is in the log',
    );
  } finally {
    for (const bot of bots) await bot.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
