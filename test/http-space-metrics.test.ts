/**
 * The health of the real thing in /metrics: a live space with a bot speaker shows its listeners,
 * the people on its stage, its encoder's restarts and the age of its broadcast's newest part (small
 * while parts come; the encoder is killed once to prove the restart is counted), and every series
 * of the space is gone once it ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of `name{space="id"}` in a scrape, or undefined when the series is absent. */
function series(text: string, name: string, id: string): number | undefined {
  const match = new RegExp(`^${name}\\{space="${id}"\\} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('per-space health in /metrics', () => {
  let t: TestServer;
  let id: string;
  let bot: SpeakerBot | undefined;
  const scrape = async () => (await t.api.get('/metrics')).body as string;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true, title: 'Measured' });
    const token = t.token(id, 'bot', 'speaker');
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/bot/unmute`, { token })).status, 200);
    bot = await SpeakerBot.join({ server: t.url, token, toneHz: 440 });
    const listener = (await t.api.post(`/api/spaces/${id}/join`)).body.token as string;
    assert.equal((await t.api.post(`/api/spaces/${id}/heartbeat`, { token: listener })).status, 204);
    // The first playlist is answered once two segments exist: parts are flowing.
    assert.equal((await t.api.get(`/hls/${id}/index.m3u8`)).status, 200);
  });
  after(async () => {
    await bot?.close();
    await t?.close();
  });

  test('a live space with a bot speaker shows its listeners, its stage, its encoder restarts and a small part age', async () => {
    const text = await scrape();
    const stage = (await t.api.get(`/api/spaces/${id}/state`)).body.stage as unknown[];
    assert.equal(series(text, 'rostrum_space_listeners', id), 1);
    assert.equal(series(text, 'rostrum_space_on_stage', id), stage.length);
    assert.ok(stage.length >= 2, 'the host and the bot');
    assert.equal(series(text, 'rostrum_broadcast_encoder_restarts', id), 0);
    const ages: number[] = [];
    for (let i = 0; i < 6; i++) {
      ages.push(series(await scrape(), 'rostrum_broadcast_part_age_seconds', id) ?? Number.NaN);
      await sleep(400);
    }
    assert.ok(
      ages.every((age) => age >= 0 && age < 2),
      `the newest part is always under 2 s old while live: ${ages.join(', ')}`,
    );
  });

  test('an encoder that dies is counted as a restart, and the part age is small again once it is back', async () => {
    const broadcast = t.server.broadcaster.broadcast(id as never)!;
    process.kill(broadcast.mix.encoderPid!, 'SIGKILL');
    let restarts: number | undefined;
    let age: number | undefined;
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      const text = await scrape();
      restarts = series(text, 'rostrum_broadcast_encoder_restarts', id);
      age = series(text, 'rostrum_broadcast_part_age_seconds', id);
      if (restarts === 1 && age !== undefined && age < 2 && broadcast.mix.encoderPid !== undefined) break;
      await sleep(250);
    }
    assert.equal(restarts, 1);
    assert.ok(age !== undefined && age < 2, `part age after the restart: ${age}`);
  });

  test('every series of the space goes once it ends', async () => {
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: t.token(id, 'h', 'host') })).status, 200);
    const text = await scrape();
    for (const name of [
      'rostrum_space_listeners',
      'rostrum_space_on_stage',
      'rostrum_broadcast_encoder_restarts',
      'rostrum_broadcast_part_age_seconds',
    ]) {
      assert.equal(series(text, name, id), undefined, name);
      assert.match(text, new RegExp(`# TYPE ${name} gauge`), `${name} is still described`);
    }
  });
});
