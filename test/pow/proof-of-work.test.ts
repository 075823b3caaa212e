/**
 * Proof of work on the join path: off until needed; once on (by the operator, or by itself under a
 * sustained flood), a join without a valid solution is refused with a coded error, a solution
 * admits exactly one join and only in its own space, a tampered challenge fails, and a real
 * browser (headless Chromium, the web app) solves and joins by itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Challenge } from 'altcha-lib/types';
import type { Browser } from 'playwright-core';
import { MAX_LEVEL, ProofOfWork } from '../../src/audience/proof-of-work.js';
import { solvePow } from '../../src/bots/pow-solver.js';
import { asSpaceId } from '../../src/ids.js';
import { launchBrowser } from '../helpers/browser.js';
import { createSpace } from '../helpers/fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('proof of work on joins', () => {
  let t: TestServer;
  let id: string;
  let other: string;
  const join = async (body?: unknown, space = id) => {
    const response = await fetch(`${t.url}/api/spaces/${space}/join`, {
      method: 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const challenge = async (space = id) => {
    const response = await fetch(`${t.url}/api/spaces/${space}/challenge`);
    assert.equal(response.status, 200);
    return (await response.json()) as { required: boolean; level: number; challenge: Challenge };
  };
  const setPow = (body: unknown, token = t.operator) => t.api.call('PUT', '/api/admin/pow', { token, body });

  before(async () => {
    // A small level-1 difficulty keeps the Node-side solves quick; the browser test sets its own.
    t = await startTestServer({ powDifficulty: 2_000 });
    id = await createSpace(t, { live: true });
    other = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('off by default in auto mode: joins need no solution', async () => {
    const status = await t.api.get('/api/admin/pow', { token: t.operator });

    assert.deepEqual(status.body, { mode: 'auto', required: false, level: 0, difficulty: 0 });
    assert.equal((await join()).status, 200);
  });

  test('only the operator may switch it', async () => {
    const listener = (await join()).body.token as string;

    assert.equal((await setPow({ mode: 'on' }, listener)).status, 403);
    assert.equal((await t.api.call('PUT', '/api/admin/pow', { body: { mode: 'on' } })).status, 401);
    assert.equal((await setPow({ mode: 'sideways' })).status, 400);
  });

  test('switched on: joins without a valid solution are refused with coded errors', async () => {
    const on = await setPow({ mode: 'on', level: 1 });
    assert.equal(on.status, 200);
    assert.deepEqual(on.body, { mode: 'on', required: true, level: 1, difficulty: 2_000 });

    const bare = await join();
    const garbage = await join({ pow: 'not base64 json' });
    const unsolved = await challenge();
    const wrongAnswer = await join({
      pow: Buffer.from(JSON.stringify({ challenge: unsolved.challenge, solution: { counter: 1, derivedKey: '00'.repeat(32) } })).toString(
        'base64',
      ),
    });

    assert.equal(bare.status, 403);
    assert.equal(bare.body.error.code, 'pow_required');
    assert.equal(garbage.status, 403);
    assert.equal(garbage.body.error.code, 'pow_invalid');
    assert.equal(wrongAnswer.body.error.code, 'pow_invalid');
    assert.equal(unsolved.required, true);
  });

  test('a solution admits one join: replayed, it is refused', async () => {
    const pow = await solvePow((await challenge()).challenge);

    const first = await join({ pow });
    const replay = await join({ pow });

    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.token);
    assert.equal(replay.status, 409);
    assert.equal(replay.body.error.code, 'pow_used');
  });

  test('the same solution sent twice at once admits only one of them', async () => {
    const pow = await solvePow((await challenge()).challenge);

    const both = await Promise.all([join({ pow }), join({ pow })]);

    assert.deepEqual(both.map((a) => a.status).sort(), [200, 409]);
  });

  test('a solution is good only in the space it was made for', async () => {
    const pow = await solvePow((await challenge(other)).challenge);

    const elsewhere = await join({ pow }, id);

    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.body.error.code, 'pow_invalid');
  });

  test('a tampered challenge (made easier, or moved to another space) fails its signature', async () => {
    const fetched = (await challenge()).challenge;
    const easier = { ...fetched, parameters: { ...fetched.parameters, keyPrefix: '00' } };
    const moved = { ...fetched, parameters: { ...fetched.parameters, data: { space: other } } };

    for (const forged of [easier, moved]) {
      const answer = await join({ pow: await solvePow(forged) }, forged === moved ? other : id);
      assert.equal(answer.status, 403);
      assert.equal(answer.body.error.code, 'pow_invalid');
    }
  });

  test('an expired challenge is refused', async () => {
    const pow = new ProofOfWork(
      { signature: 's'.repeat(32), key: 'k'.repeat(32) },
      { mode: 'on', baseDifficulty: 100 },
      () => Date.now() - 10 * 60_000,
    );
    const old = await pow.challenge(asSpaceId(id));
    const verifier = new ProofOfWork({ signature: 's'.repeat(32), key: 'k'.repeat(32) }, { mode: 'on', baseDifficulty: 100 });

    await assert.rejects(verifier.verify(asSpaceId(id), await solvePow(old)), { code: 'pow_expired' });
  });

  test('off again: joins need no solution', async () => {
    await setPow({ mode: 'off' });

    assert.equal((await join()).status, 200);
    await setPow({ mode: 'auto' });
  });
});

describe('auto mode', () => {
  test('switches on after three pressured seconds, rises while pressure lasts, steps down after calm minutes', () => {
    const pow = new ProofOfWork(
      { signature: 's'.repeat(32), key: 'k'.repeat(32) },
      { mode: 'auto', baseDifficulty: 1_000, pressurePerSecond: 20 },
    );
    const second = (events: number) => {
      for (let i = 0; i < events; i++) pow.notePressure();
      pow.tick();
    };

    second(19);
    second(19);
    assert.equal(pow.status().level, 0, 'below the threshold is calm');
    second(20);
    second(20);
    assert.equal(pow.status().level, 0, 'two pressured seconds are not enough');
    second(20);
    assert.deepEqual(pow.status(), { mode: 'auto', required: true, level: 1, difficulty: 1_000 });
    for (let s = 0; s < 7; s++) second(50);
    assert.equal(pow.status().level, 2, 'ten pressured seconds raise it');
    assert.equal(pow.status().difficulty, 4_000, 'each level is four times the work');
    for (let s = 0; s < 200; s++) second(50);
    assert.equal(pow.status().level, MAX_LEVEL, 'it stops at the top level');
    for (let s = 0; s < 59; s++) second(0);
    assert.equal(pow.status().level, MAX_LEVEL);
    second(0);
    assert.equal(pow.status().level, MAX_LEVEL - 1, 'a calm minute steps down one level');
    for (let s = 0; s < 60 * MAX_LEVEL; s++) second(0);
    assert.equal(pow.status().required, false, 'and off after the last');
  });

  describe('over HTTP', () => {
    let t: TestServer;
    let id: string;
    before(async () => {
      t = await startTestServer({ joinLimit: 5, trustProxy: ['127.0.0.1'], powDifficulty: 2_000 });
      id = await createSpace(t, { live: true });
    });
    after(() => t.close());

    test('a sustained flood of joins switches it on by itself', async () => {
      const flood = async (seconds: number) => {
        const until = Date.now() + seconds * 1000;
        let n = 0;
        while (Date.now() < until) {
          const batch = Array.from({ length: 10 }, () =>
            fetch(`${t.url}/api/spaces/${id}/join`, { method: 'POST', headers: { 'x-forwarded-for': `203.0.113.${n++ % 3}` } }).then((r) =>
              r.arrayBuffer(),
            ),
          );
          await Promise.all(batch);
          await sleep(100);
        }
      };

      await flood(5);
      const status = await t.api.get('/api/admin/pow', { token: t.operator });
      const refused = await fetch(`${t.url}/api/spaces/${id}/join`, { method: 'POST', headers: { 'x-forwarded-for': '198.51.100.200' } });

      assert.equal(status.body.required, true, JSON.stringify(status.body));
      assert.equal(status.body.mode, 'auto');
      assert.equal(refused.status, 403, 'a newcomer now needs a solution');
      assert.equal(((await refused.json()) as any).error.code, 'pow_required');
    });
  });
});

describe('a real browser under attack mode', () => {
  let t: TestServer;
  let browser: Browser;
  before(async () => {
    // The default difficulty: what a real visitor pays.
    t = await startTestServer({ powMode: 'on' });
    browser = await launchBrowser({ noMicrophone: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('headless Chromium solves the challenge and joins, in under 2 s of solving', async () => {
    const id = await createSpace(t, { live: true });
    const page = await browser.newPage();
    const joins: Array<{ status: number; pow: boolean }> = [];
    let challengedAt = 0;
    let solvedIn = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/challenge')) challengedAt = Date.now();
      if (request.url().endsWith('/join') && request.postData()?.includes('"pow"')) solvedIn = Date.now() - challengedAt;
    });
    page.on('response', (response) => {
      if (response.url().endsWith('/join'))
        joins.push({ status: response.status(), pow: Boolean(response.request().postData()?.includes('"pow"')) });
    });

    await page.goto(`${t.url}/s/${id}`);
    // The page keeps its listener token once a join succeeds.
    await page.waitForFunction(
      () => Object.keys((globalThis as unknown as { sessionStorage: object }).sessionStorage).some((k) => k.includes('token')),
      undefined,
      { timeout: 20_000 },
    );

    assert.deepEqual(joins[0], { status: 403, pow: false }, 'the first try is refused');
    assert.ok(
      joins.some((j) => j.status === 200 && j.pow),
      JSON.stringify(joins),
    );
    assert.ok(solvedIn > 0 && solvedIn < 2_000, `solved in ${solvedIn} ms`);
  });
});
