/**
 * Webhooks end to end (issue 26): `rostrum serve` in its own process, a real HTTP receiver, the
 * signatures verified with the standardwebhooks package (an implementation that is not ours).
 * - A receiver that answers 500 three times, then times out once, then accepts: every event of a
 *   space's life arrives, each at least once, in a sequence without holes.
 * - kill -9 between the change and its delivery loses nothing.
 * - A receiver that never answers does not slow a go-live or any API call.
 * - reminder.due arrives at the scheduled start with every identity that asked.
 * - A delivery retried past its window is parked as failed, and re-sent on request.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createToken } from '../../src/control/tokens.js';
import { Api } from '../helpers/http.js';
import { type ChildServer, runCli, spawnServer, tempDir } from '../helpers/server.js';
import { type Received, startReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Fast retries, short attempts: the test sees a day's schedule in seconds. */
const FAST = { ROSTRUM_WEBHOOK_TIMEOUT_MS: '1000', ROSTRUM_WEBHOOK_BACKOFF_MS: '100', ROSTRUM_WEBHOOK_BACKOFF_CAP_MS: '800' };

interface Run {
  server: ChildServer;
  api: Api;
  operator: string;
  dataDir: string;
  token(space: string, identity: string, role: string): string;
}

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function serve(dataDir: string, env: Record<string, string> = FAST): Promise<Run> {
  const server = await spawnServer(dataDir, env);
  cleanups.push(async () => {
    server.child.kill('SIGKILL');
    await server.exited;
  });
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
  return {
    server,
    dataDir,
    api: new Api(server.url),
    operator: createToken({ ...creds, identity: 'operator', operator: true }),
    token: (space, identity, role) => createToken({ ...creds, identity, name: `Name ${identity}`, space, role: role as never }),
  };
}

async function receiver(...args: Parameters<typeof startReceiver>): Promise<WebhookReceiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

async function addWebhook(run: Run, url: string, events: string[] = ['*']): Promise<string> {
  const added = await run.api.post('/api/webhooks', { token: run.operator, body: { url, events } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.match(added.body.secret, /^whsec_/);
  return added.body.secret as string;
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Event {
  id: string;
  type: string;
  sequence: number;
  data: Record<string, any>;
}

/** The events received, each verified by the standardwebhooks package, once per webhook-id. */
function verified(secret: string, received: Received[]): Event[] {
  const seen = new Map<string, Event>();
  for (const r of received) {
    const payload = new Webhook(secret).verify(r.body, r.headers) as Omit<Event, 'id'>;
    seen.set(r.headers['webhook-id']!, { id: r.headers['webhook-id']!, ...payload });
  }
  return [...seen.values()];
}

async function createSpace(run: Run, body: Record<string, unknown>): Promise<string> {
  const created = await run.api.post('/api/spaces', { token: run.operator, body: { host: { identity: 'h', name: 'Host' }, ...body } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id as string;
}

describe('webhooks, delivered to a real receiver', { timeout: 180_000 }, () => {
  test('a receiver that fails three times and times out once still gets every event of a space, signed, in sequence', async () => {
    const hooks = await receiver(204, [500, 500, 500, 'hang']);
    const run = await serve(tempDir());
    // Added with the CLI, as an operator would: it prints the secret once.
    const cli = await runCli(['webhook', 'add', hooks.url, '--events', '*', '--json', '--server', run.server.url, '--data', run.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    const { secret, id: webhookId } = JSON.parse(cli.stdout) as { secret: string; id: string };
    const listed = await runCli(['webhook', 'list', '--server', run.server.url, '--data', run.dataDir]);
    assert.match(listed.stdout, new RegExp(webhookId));
    assert.doesNotMatch(listed.stdout, /whsec_/, 'the secret is never listed');

    const space = await createSpace(run, { title: 'Webhooks', scheduledStart: new Date(Date.now() + 3_600_000).toISOString() });
    for (const listener of ['ann', 'bob']) {
      const reminded = await run.api.call('PUT', `/api/spaces/${space}/reminder`, { token: run.token(space, listener, 'listener') });
      assert.equal(reminded.status, 200, JSON.stringify(reminded.body));
    }
    const host = run.token(space, 'h', 'host');
    assert.equal((await run.api.post(`/api/spaces/${space}/start`, { token: host })).status, 200);
    const speaker = run.token(space, 'sam', 'speaker');
    assert.equal((await run.api.post(`/api/spaces/${space}/stage`, { token: speaker })).status, 200);
    assert.equal((await run.api.call('DELETE', `/api/spaces/${space}/stage`, { token: speaker })).status, 200);
    const guest = run.token(space, 'gil', 'speaker');
    assert.equal((await run.api.post(`/api/spaces/${space}/stage`, { token: guest })).status, 200);
    assert.equal((await run.api.post(`/api/spaces/${space}/participants/gil/remove`, { token: host })).status, 200);
    await sleep(3000); // a few seconds of broadcast, so there is a recording to make
    assert.equal((await run.api.post(`/api/spaces/${space}/end`, { token: host })).status, 200);

    const expected = [
      'space.scheduled',
      'space.live',
      'reminder.due',
      'stage.joined',
      'stage.left',
      'participant.removed',
      'recording.ready',
      'space.ended',
    ];
    const events = await until(
      'every event',
      () => {
        const got = verified(secret, hooks.received);
        return expected.every((type) => got.some((e) => e.type === type)) ? got : undefined;
      },
      40_000,
    );
    const types = events.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'stage.joined').length, 2, 'sam and gil joined');
    assert.equal(types.filter((t) => t === 'stage.left').length, 2, 'sam left, gil was removed');
    const reminder = events.find((e) => e.type === 'reminder.due')!;
    assert.deepEqual([...reminder.data.identities].sort(), ['ann', 'bob']);
    assert.equal(events.find((e) => e.type === 'participant.removed')!.data.identity, 'gil');
    assert.ok(events.every((e) => e.data.space.id === space));
    const sequences = events.map((e) => e.sequence).sort((a, b) => a - b);
    assert.deepEqual(
      sequences,
      sequences.map((_, i) => i + 1),
      'numbered 1…n in the space, no hole',
    );
    // The first three answers were 500 and the fourth never came: those deliveries were tried again.
    assert.deepEqual(
      hooks.received.slice(0, 4).map((r) => r.answer),
      [500, 500, 500, 'hang'],
    );
    const deliveries = await until('all delivered', async () => {
      const list = await run.api.get(`/api/webhooks/deliveries?webhook=${webhookId}`, { token: run.operator });
      const all = list.body.deliveries as Array<{ id: string; state: string; attempts: number }>;
      return all.length === events.length && all.every((d) => d.state === 'delivered') ? all : undefined;
    });
    const retried = deliveries.filter((d) => d.attempts > 1);
    assert.ok(retried.length >= 1, 'some were delivered on a later attempt');
    const logs = await Promise.all(
      retried.map(async (d) => (await run.api.get(`/api/webhooks/deliveries/${d.id}`, { token: run.operator })).body.attemptLog),
    );
    const failures = logs.flat().filter((a: { status: number | null }) => a.status !== 204);
    assert.equal(failures.filter((a: { status: number | null }) => a.status === 500).length, 3, 'three 500s recorded');
    assert.ok(
      failures.some((a: { status: number | null; error: string }) => a.status === null && /timed out/.test(a.error)),
      'the timeout recorded',
    );
  });

  test('kill -9 between a change and its delivery loses nothing', async () => {
    const hooks = await receiver('hang');
    const dataDir = tempDir();
    let run = await serve(dataDir, { ...FAST, ROSTRUM_WEBHOOK_TIMEOUT_MS: '5000' });
    const secret = await addWebhook(run, hooks.url, ['space.scheduled', 'space.live']);
    const first = await createSpace(run, { title: 'In flight at the crash' });
    await until('the first delivery in flight', () => hooks.received.length > 0);
    // Acknowledged, and killed at once: its delivery may not even have been tried.
    const second = await createSpace(run, { title: 'Acknowledged just before the crash', startNow: true });
    run.server.child.kill('SIGKILL');
    await run.server.exited;

    hooks.answer(204);
    run = await serve(dataDir, { ...FAST, ROSTRUM_WEBHOOK_TIMEOUT_MS: '5000' });
    const events = await until(
      'both spaces’ events after the restart',
      () => {
        const got = verified(secret, hooks.received);
        const has = (space: string, type: string) => got.some((e) => e.data.space.id === space && e.type === type);
        return has(first, 'space.scheduled') && has(second, 'space.live') ? got : undefined;
      },
      30_000,
    );
    assert.ok(!events.some((e) => e.data.space.id === second && e.type === 'space.scheduled'), 'a space created live is not "scheduled"');
  });

  test('a receiver that never answers slows neither a go-live nor any API call', async (t) => {
    const run = await serve(tempDir(), { ROSTRUM_WEBHOOK_TIMEOUT_MS: '30000', ROSTRUM_WEBHOOK_CONCURRENCY: '4' });
    /** One space's life through the API: created, live, read, ended; ms each, summed. */
    const lives = async (n: number): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        const space = await createSpace(run, { title: `Timed ${i}` });
        const host = run.token(space, 'h', 'host');
        assert.equal((await run.api.post(`/api/spaces/${space}/start`, { token: host })).status, 200);
        assert.equal((await run.api.get(`/api/spaces/${space}`)).status, 200);
        assert.equal((await run.api.post(`/api/spaces/${space}/end`, { token: host })).status, 200);
        times.push(performance.now() - started);
      }
      return times;
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    await lives(2); // warm
    const without = median(await lives(8));
    const hooks = await receiver('hang');
    await addWebhook(run, hooks.url);
    await lives(2);
    // Every attempt slot of the node (4 here) held by the receiver before the timing starts.
    await until('the receiver holding every attempt slot', () => hooks.received.length >= 4);
    const withHung = median(await lives(8));
    assert.equal(hooks.received.length, 4, 'it held them the whole time');
    const pending = await run.api.get('/api/webhooks/deliveries?state=pending&limit=500', { token: run.operator });
    assert.ok(pending.body.deliveries.length >= 20, 'the deliveries wait, the spaces do not');
    t.diagnostic(
      `a space's life (create, go live, read, end), median of 8: ${withHung.toFixed(1)} ms with a hung receiver, ${without.toFixed(1)} ms without`,
    );
    assert.ok(
      withHung <= without * 1.5 + 20,
      `a space's life took ${withHung.toFixed(1)} ms with a hung receiver, ${without.toFixed(1)} ms without`,
    );
  });

  test('reminder.due arrives at the scheduled start, with every identity that asked', async () => {
    const hooks = await receiver(204);
    const run = await serve(tempDir());
    const secret = await addWebhook(run, hooks.url, ['reminder.due']);
    const start = Date.now() + 4000;
    const space = await createSpace(run, { title: 'Reminded', scheduledStart: new Date(start).toISOString() });
    const asked = Array.from({ length: 25 }, (_, i) => `fan-${i}`);
    for (const identity of asked) {
      assert.equal(
        (await run.api.call('PUT', `/api/spaces/${space}/reminder`, { token: run.token(space, identity, 'listener') })).status,
        200,
      );
    }
    const [due] = await until('reminder.due', () => {
      const got = verified(secret, hooks.received);
      return got.length > 0 ? got : undefined;
    });
    const arrived = hooks.received[0]!.at;
    assert.ok(arrived >= start - 1000 && arrived <= start + 3000, `arrived ${arrived - start} ms after the start`);
    assert.equal(due!.type, 'reminder.due');
    assert.deepEqual([...due!.data.identities].sort(), [...asked].sort());
    assert.equal(due!.data.start, new Date(start).toISOString());
    await sleep(1500);
    assert.equal(verified(secret, hooks.received).length, 1, 'sent once');
  });

  test('a delivery past its retry window is parked as failed, listed, and sent again on request', async () => {
    const hooks = await receiver(503);
    const run = await serve(tempDir(), { ...FAST, ROSTRUM_WEBHOOK_RETRY_FOR_MS: '1500' });
    const secret = await addWebhook(run, hooks.url, ['space.scheduled']);
    const space = await createSpace(run, { title: 'Parked' });
    const [failed] = await until('parked as failed', async () => {
      const list = await run.api.get('/api/webhooks/deliveries?state=failed', { token: run.operator });
      return list.body.deliveries.length > 0 ? list.body.deliveries : undefined;
    });
    assert.equal(failed.lastStatus, 503);
    assert.ok(failed.attempts >= 2);
    assert.equal(failed.spaceId, space);
    const tried = hooks.received.length;
    await sleep(1000);
    assert.equal(hooks.received.length, tried, 'parked: not tried again by itself');
    hooks.answer(200);
    const cli = await runCli(['webhook', 'retry', failed.id, '--server', run.server.url, '--data', run.dataDir]);
    assert.equal(cli.code, 0, cli.stderr);
    await until(
      'delivered on request',
      async () => (await run.api.get(`/api/webhooks/deliveries/${failed.id}`, { token: run.operator })).body.state === 'delivered',
    );
    assert.equal(verified(secret, hooks.received).length, 1, 'one event, whatever the attempts');
    const missing = await run.api.post('/api/webhooks/deliveries/evt_x.whk_nothere123/retry', { token: run.operator });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'delivery_not_found');
    const bad = await run.api.post('/api/webhooks', { token: run.operator, body: { url: 'ftp://example.com/x', events: ['*'] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'validation_failed');
    const listenerTry = await run.api.get('/api/webhooks', { token: run.token(space, 'x', 'listener') });
    assert.equal(listenerTry.status, 403);
  });
});
