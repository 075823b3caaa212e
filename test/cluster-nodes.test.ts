/**
 * Two nodes on a real PostgreSQL and a real redis-server (in this process; the cluster of separate
 * processes behind nginx edges, with kill -9 and SIGSTOP, is test/cluster.test.ts): a space is run by
 * exactly one node, which every node names; any node answers any request for it — commands are
 * forwarded to the owner, the stage socket is bridged there, the live window is served from there —
 * and every node's view of it follows the owner's changes within a moment.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { rank } from '../src/cluster/ownership.js';
import { ffmpeg } from './helpers/media.js';
import { startPostgres, type TestPostgres } from './helpers/postgres.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startReceiver } from './helpers/webhook-receiver.js';

const SHARED = { apiKey: 'RKclustertest02', apiSecret: 'c2hhcmVkLXNlY3JldC1mb3ItZXZlcnktbm9kZS0wMTIzNDU2Nzg5' };

async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (ok(value)) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('two nodes on PostgreSQL and Redis', () => {
  let postgres: TestPostgres;
  let redis: TestRedis;
  let a: TestServer;
  let b: TestServer;
  let id: string;
  let speaker: SpeakerBot | undefined;

  before(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
    const databaseUrl = await postgres.database();
    a = await startTestServer({ ...SHARED, databaseUrl, redisUrl: redis.url, nodeId: 'node-a' });
    b = await startTestServer({ ...SHARED, databaseUrl, redisUrl: redis.url, nodeId: 'node-b' });
    await sleep(1500); // each has renewed once since the other registered: both see both
  });
  after(async () => {
    await speaker?.close();
    await a?.close();
    await b?.close();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  test('a live space created through node-a that ranks node-b first is run by node-b, and both nodes say so (ownerNode)', async () => {
    for (let i = 0; i < 20 && !id; i++) {
      const created = await a.api.post('/api/spaces', {
        token: a.operator,
        body: { title: `Across nodes ${i}`, host: { identity: 'h', name: 'Hana' }, startNow: true },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      if (rank(created.body.id, ['node-a', 'node-b'])[0] === 'node-b') id = created.body.id;
    }
    assert.ok(id, 'one of 20 spaces ranks node-b first');
    const { ms } = await until(
      'node-b runs it',
      async () => [
        (await a.api.get(`/api/spaces/${id}`, { token: a.operator })).body.ownerNode,
        (await b.api.get(`/api/spaces/${id}`, { token: b.operator })).body.ownerNode,
      ],
      (owners) => owners[0] === 'node-b' && owners[1] === 'node-b',
    );
    const onAir = await until(
      'node-b broadcasts it',
      async () => b.server.broadcaster.broadcast(id as never) !== undefined,
      (v) => v,
      3000,
    );
    assert.equal(a.server.broadcaster.broadcast(id as never), undefined, 'node-a does not');
    assert.equal((await a.api.get(`/api/spaces/${id}`)).body.ownerNode, undefined, 'only the operator’s view names it');
    console.log(`# node-b named ${ms} ms after creation, on the air there ${onAir.ms} ms later`);
  });

  test('a command sent to node-a is run by node-b, and node-a’s view follows within a second', async () => {
    const patched = await a.api.call('PATCH', `/api/spaces/${id}`, {
      token: a.token(id, 'h', 'host'),
      body: { title: 'Renamed through node-a' },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.headers.get('x-rostrum-node'), 'node-b', 'answered by the owner');
    assert.equal((await b.api.get(`/api/spaces/${id}`)).body.title, 'Renamed through node-a');
    const { ms } = await until(
      'node-a’s state document shows the new title',
      async () => (await a.api.get(`/api/spaces/${id}/state`)).body.title,
      (title) => title === 'Renamed through node-a',
      2000,
    );
    console.log(`# node-a's state document followed in ${ms} ms`);
  });

  test('a speaker seated through node-a and connected to node-a’s /rtc is bridged to node-b’s stage; listeners on either node hear it', async () => {
    const token = a.token(id, 's', 'speaker');
    assert.equal((await a.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    assert.equal((await a.api.post(`/api/spaces/${id}/participants/s/unmute`, { token })).status, 200);
    speaker = await SpeakerBot.join({ server: a.url, token, toneHz: 440 });
    await sleep(1500);
    for (const node of [a, b]) {
      const { report } = await ListenerBot.listen({ server: node.url, space: id, seconds: 4, ffmpeg });
      assert.deepEqual(report.errors, {}, `through ${node.url}`);
      assert.ok(
        report.tones.some((t) => Math.abs(t.hz - 440) <= 5),
        `the speaker is heard through ${node === a ? 'node-a' : 'node-b'}: ${JSON.stringify(report.tones)}`,
      );
    }
    const stage = (await a.api.get(`/api/spaces/${id}/state`)).body.stage as Array<{ identity: string }>;
    assert.ok(
      stage.some((m) => m.identity === 's'),
      'node-a’s state document has the speaker on stage',
    );
  });

  test('a moderation action sent to node-a reaches node-b’s stage: the speaker is muted there and both nodes show it', async () => {
    const muted = await a.api.post(`/api/spaces/${id}/participants/s/mute`, { token: a.token(id, 'h', 'host') });
    assert.equal(muted.status, 200, JSON.stringify(muted.body));
    for (const node of [a, b]) {
      await until(
        `the mute on ${node.url}`,
        async () =>
          ((await node.api.get(`/api/spaces/${id}/state`)).body.stage as Array<{ identity: string; muted: boolean }>).find(
            (m) => m.identity === 's',
          )?.muted,
        (m) => m === true,
        2000,
      );
    }
    await until(
      'the speaker bot was told',
      async () => speaker!.messages.some((m) => m.type === 'muted'),
      (told) => told,
      3000,
    );
  });

  test('listeners joining and heartbeating through either node are counted on both: each node’s state document shows them all within 3 s', async () => {
    const joined: Array<{ node: TestServer; token: string }> = [];
    for (const node of [a, b]) {
      for (let i = 0; i < 100; i++) {
        const res = await node.api.post(`/api/spaces/${id}/join`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        joined.push({ node, token: res.body.token });
      }
    }
    // Each heartbeats through the other node.
    for (const { node, token } of joined) {
      const other = node === a ? b : a;
      assert.equal((await other.api.post(`/api/spaces/${id}/heartbeat`, { token })).status, 204);
    }
    for (const node of [a, b]) {
      const { value, ms } = await until(
        `the count on ${node === a ? 'node-a' : 'node-b'}`,
        async () => (await node.api.get(`/api/spaces/${id}/state`)).body.listeners as number,
        (n) => n >= 196 && n <= 210,
        3000,
      );
      console.log(`# ${node === a ? 'node-a' : 'node-b'} counts ${value} of 200 (+ the listener bots) after ${ms} ms`);
    }
  });

  test('a named listener joined through node-a is in the audience node-b lists for the host', async () => {
    const joined = await a.api.post(`/api/spaces/${id}/join`, { token: a.token(id, 'named-fan', 'listener', { name: 'Named Fan' }) });
    assert.equal(joined.status, 200);
    const { value } = await until(
      'node-b lists the fan',
      async () => (await b.api.get(`/api/spaces/${id}/audience`, { token: b.token(id, 'h', 'host') })).body.listeners ?? [],
      (listeners: Array<{ identity: string; name: string }>) => listeners.some((l) => l.identity === 'named-fan'),
      5000,
    );
    assert.equal(value.find((l) => l.identity === 'named-fan')?.name, 'Named Fan');
  });

  test('webhooks: the events of spaces run by either node are each delivered once, by one node or the other', async () => {
    const hooks = await startReceiver(204);
    try {
      const added = await a.api.post('/api/webhooks', {
        token: a.operator,
        body: { url: hooks.url, events: ['space.scheduled', 'space.live'] },
      });
      assert.equal(added.status, 201);
      const spaces: string[] = [];
      for (let i = 0; i < 6; i++) {
        const via = i % 2 ? b : a;
        const created = await via.api.post('/api/spaces', {
          token: via.operator,
          body: { title: `Hooked ${i}`, host: { identity: 'h', name: 'Hana' } },
        });
        assert.equal(created.status, 201);
        spaces.push(created.body.id);
        const started = await via.api.post(`/api/spaces/${created.body.id}/start`, { token: via.token(created.body.id, 'h', 'host') });
        assert.equal(started.status, 200, JSON.stringify(started.body));
      }
      await until(
        '12 events',
        async () => hooks.received.length,
        (n) => n >= 12,
        15_000,
      );
      await sleep(2500); // long enough for a second delivery of any of them to arrive
      const ids = hooks.received.map((r) => r.headers['webhook-id']);
      assert.equal(new Set(ids).size, 12, 'twelve events');
      assert.equal(ids.length, 12, 'each delivered once');
      const secret = added.body.secret as string;
      const types = hooks.received.map((r) => {
        const event = new Webhook(secret).verify(r.body, r.headers) as { type: string; data: { space: { id: string } } };
        assert.ok(spaces.includes(event.data.space.id));
        return event.type;
      });
      assert.equal(types.filter((t) => t === 'space.live').length, 6);
      const deliveries = (await b.api.get('/api/webhooks/deliveries?state=delivered&limit=500', { token: b.operator })).body.deliveries;
      const nodes = await Promise.all(
        deliveries.map(
          async (d: { id: string }) => (await a.api.get(`/api/webhooks/deliveries/${d.id}`, { token: a.operator })).body.attemptLog[0].node,
        ),
      );
      console.log(
        `# deliveries sent by ${JSON.stringify(Object.fromEntries(['node-a', 'node-b'].map((n) => [n, nodes.filter((x) => x === n).length])))}`,
      );
    } finally {
      await hooks.close();
    }
  });

  test('node-b stops: node-a takes the space over and the broadcast goes on at the same playlist URL', async () => {
    await speaker?.close();
    speaker = undefined;
    const stoppedAt = Date.now();
    await b.close();
    const { ms } = await until(
      'node-a runs it',
      async () => (await a.api.get(`/api/spaces/${id}`, { token: a.operator })).body.ownerNode,
      (owner) => owner === 'node-a',
      15_000,
    );
    const token = a.token(id, 's2', 'speaker');
    assert.equal((await a.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    assert.equal((await a.api.post(`/api/spaces/${id}/participants/s2/unmute`, { token })).status, 200);
    speaker = await SpeakerBot.join({ server: a.url, token, toneHz: 660 });
    await sleep(1500);
    const { report } = await ListenerBot.listen({ server: a.url, space: id, seconds: 4, ffmpeg });
    assert.ok(
      report.tones.some((t) => Math.abs(t.hz - 660) <= 5),
      `heard after the hand-over: ${JSON.stringify(report.tones)}`,
    );
    console.log(`# node-a took over ${ms} ms after node-b began stopping (${Date.now() - stoppedAt} ms to a heard speaker)`);
  });
});
