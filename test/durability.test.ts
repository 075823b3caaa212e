/**
 * Nothing acknowledged is lost: a space, its stage and its moderation actions survive a kill -9 of
 * the real server process and a restart on the same data directory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createToken } from '../src/control/tokens.js';
import { Api } from './helpers/http.js';
import { spawnServer, tempDir } from './helpers/server.js';

test('a space and its moderation actions survive kill -9 and a restart', async () => {
  const dataDir = tempDir();
  const first = await spawnServer(dataDir);
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(first.url);
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Survivor', host: { identity: 'h' }, startNow: true },
    });
    const id = created.body.id as string;
    const mint = (identity: string, role: 'speaker' | 'listener') => createToken({ ...creds, identity, space: id, role });
    const host = created.body.hostToken as string;
    for (const who of ['s1', 's2']) assert.equal((await api.post(`/api/spaces/${id}/stage`, { token: mint(who, 'speaker') })).status, 200);
    assert.equal((await api.post(`/api/spaces/${id}/participants/s1/unmute`, { token: mint('s1', 'speaker') })).status, 200);

    // The acknowledged moderation actions: mute s1, remove s2, remove listener l.
    assert.equal((await api.post(`/api/spaces/${id}/participants/s1/mute`, { token: host })).status, 200);
    assert.equal((await api.post(`/api/spaces/${id}/participants/s2/remove`, { token: host })).status, 200);
    assert.equal((await api.post(`/api/spaces/${id}/participants/l/remove`, { token: host })).status, 200);

    first.child.kill('SIGKILL');
    await first.exited;

    const second = await spawnServer(dataDir);
    try {
      const again = new Api(second.url);
      const doc = await again.get(`/api/spaces/${id}/state`);
      assert.equal(doc.body.state, 'live');
      assert.equal(doc.body.title, 'Survivor');
      assert.deepEqual(
        doc.body.stage.map((m: { identity: string; muted: boolean }) => [m.identity, m.muted]),
        [
          ['h', false],
          ['s1', true],
        ],
      );
      const back = await again.post(`/api/spaces/${id}/stage`, { token: mint('s2', 'speaker') });
      assert.equal(back.body.error.code, 'identity_removed');
      assert.equal((await again.post(`/api/spaces/${id}/join`, { token: mint('l', 'listener') })).body.error.code, 'identity_removed');
      const log = await again.get(`/api/spaces/${id}/actions`, { token: host });
      assert.deepEqual(
        log.body.actions
          .filter((a: { actor: string }) => a.actor === 'h')
          .map((a: { action: string; target: string }) => `${a.action} ${a.target}`),
        ['participant.mute s1', 'participant.remove s2', 'participant.remove l'],
      );
      assert.equal(
        (await again.post(`/api/spaces/${id}/end`, { token: host })).body.state,
        'ended',
        'the restarted node still runs the space',
      );
    } finally {
      second.child.kill('SIGKILL');
      await second.exited;
    }
  } finally {
    first.child.kill('SIGKILL');
  }
});

test('reaction totals and listener tallies are kept with the space and continue after a restart', async () => {
  const dataDir = tempDir();
  const env = { ROSTRUM_TALLY_INTERVAL_MS: '1000' };
  const first = await spawnServer(dataDir, env);
  let second: Awaited<ReturnType<typeof spawnServer>> | undefined;
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(first.url);
    const id = (await api.post('/api/spaces', { token: operator, body: { title: 'Cheers', startNow: true } })).body.id as string;
    const fan = createToken({ ...creds, identity: 'fan', space: id, role: 'listener' });
    for (let i = 0; i < 3; i++)
      assert.equal((await api.post(`/api/spaces/${id}/reactions`, { token: fan, body: { emoji: '🔥' } })).status, 202);
    await api.post(`/api/spaces/${id}/join`);
    await new Promise((resolve) => setTimeout(resolve, 2500));

    first.child.kill('SIGKILL');
    await first.exited;
    second = await spawnServer(dataDir, env);
    const again = new Api(second.url);

    const doc = (await again.get(`/api/spaces/${id}/state`)).body;
    assert.equal(doc.reactions['🔥'], 3);
    assert.ok(doc.peakListeners >= 1, 'the peak was kept');
    await again.post(`/api/spaces/${id}/reactions`, { token: fan, body: { emoji: '🔥' } });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await again.get(`/api/spaces/${id}/state`)).body.reactions['🔥'], 4, 'the count continues');
  } finally {
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
  }
});
