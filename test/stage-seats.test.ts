/**
 * Seats of speakers whose connection died are freed (issue 25). Before, a speaker who took a seat
 * and never connected, or whose phone died, held one of the stage's ten seats until the host moved
 * them by hand. With a grace period of 1.5 s here (ROSTRUM_STAGE_GRACE_MS, 60 s by default): a
 * speaker without a stage socket for that long is moved to the audience, in the moderation log as
 * `seat-keeper`, and the stage is told; one connected keeps the seat, one who reconnects within the
 * grace keeps it, and hosts and co-hosts are never moved.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const GRACE_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let t: TestServer;

before(async () => {
  t = await startTestServer({ stageGraceMs: GRACE_MS });
});
after(() => t.close());

/** A stage socket, authenticated (no media: presence is the socket). */
async function stageSocket(token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/rtc`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const welcomed = new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'welcome') resolve();
      if (m.type === 'error') reject(new Error(JSON.stringify(m)));
    });
  });
  ws.send(JSON.stringify({ type: 'auth', token }));
  await welcomed;
  return ws;
}

async function closed(ws: WebSocket): Promise<void> {
  const gone = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await gone;
}

async function onStage(id: string): Promise<Record<string, string>> {
  const state = (await t.api.get(`/api/spaces/${id}/state`)).body as { stage: Array<{ identity: string; role: string }> };
  return Object.fromEntries(state.stage.map((m) => [m.identity, m.role]));
}

test('a speaker who never connects, or whose connection dies, is moved to the audience after the grace period; one connected, or back in time, keeps the seat', async () => {
  const id = await createSpace(t, { live: true });
  const host = t.token(id, 'h', 'host');
  const speakers = ['never', 'stays', 'drops', 'returns', 'co'];
  for (const identity of speakers) {
    const joined = await t.api.post(`/api/spaces/${id}/stage`, { token: t.token(id, identity, 'speaker') });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
  }
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/co/appoint-cohost`, { token: host })).status, 200);
  const stays = await stageSocket(t.token(id, 'stays', 'speaker'));
  const drops = await stageSocket(t.token(id, 'drops', 'speaker'));
  let returns = await stageSocket(t.token(id, 'returns', 'speaker'));

  await sleep(GRACE_MS / 2);
  await closed(drops);
  await closed(returns);
  await sleep(GRACE_MS / 3);
  returns = await stageSocket(t.token(id, 'returns', 'speaker'));
  await sleep(GRACE_MS * 1.5);

  assert.deepEqual(await onStage(id), { h: 'host', stays: 'speaker', returns: 'speaker', co: 'cohost' });
  const log = (await t.api.get(`/api/spaces/${id}/actions?limit=100`, { token: host })).body as { actions: Array<Record<string, string>> };
  const freed = log.actions.filter((a) => a.actor === 'seat-keeper');
  assert.deepEqual(freed.map((a) => [a.action, a.target]).sort(), [
    ['participant.move_to_audience', 'drops'],
    ['participant.move_to_audience', 'never'],
  ]);
  const metrics = (await t.api.get('/metrics')).body as string;
  assert.match(metrics, /rostrum_stage_seats_freed_total 2\b/);

  // A freed speaker may ask to speak again.
  const asked = await t.api.post(`/api/spaces/${id}/requests`, { token: t.token(id, 'never', 'listener') });
  assert.ok(asked.status < 300, JSON.stringify(asked.body));
  await closed(stays);
  await closed(returns);
});
