/**
 * Counting accuracy, end to end over HTTP: 100,000 distinct listeners join a space on a real server
 * (a child process) and the state document's count is within 2 % of 100,000; heartbeats from
 * listeners already counted do not inflate it; and when the space ends, the peak and the total
 * unique kept with the space are within 2 % too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { createToken } from '../src/control/tokens.js';
import { Api } from './helpers/http.js';
import { type ChildServer, spawnServer, tempDir } from './helpers/server.js';

const LISTENERS = 100_000;

function assertWithin(reported: number, actual: number, fraction: number, what: string): void {
  const error = Math.abs(reported - actual) / actual;
  assert.ok(error <= fraction, `${what}: ${reported} is ${(error * 100).toFixed(2)} % off ${actual} (allowed ${fraction * 100} %)`);
}

describe('counting 100,000 listeners over HTTP', () => {
  let server: ChildServer;
  let http: Pool;
  let api: Api;
  let operator: string;
  let id: string;
  const tokens: string[] = [];
  const state = async () => JSON.parse(await (await http.request({ method: 'GET', path: `/api/spaces/${id}/state` })).body.text());

  before(async () => {
    const dataDir = tempDir();
    // A counting window long enough that nobody drops out while 100,000 join.
    server = await spawnServer(dataDir, { ROSTRUM_LISTENER_WINDOW: '300' });
    http = new Pool(server.url, { connections: 64, pipelining: 1 });
    api = new Api(server.url);
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    operator = createToken({ ...creds, identity: 'operator', operator: true });
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Counting', host: { identity: 'h' }, startNow: true },
    });
    assert.equal(created.status, 201);
    id = created.body.id;
  });
  after(async () => {
    await http?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  test('100,000 joins → the reported count is within 2 %', async (t) => {
    let next = 0;
    const worker = async () => {
      while (next < LISTENERS) {
        next++;
        const response = await http.request({ method: 'POST', path: `/api/spaces/${id}/join` });
        const body = JSON.parse(await response.body.text());
        assert.equal(response.statusCode, 200, JSON.stringify(body));
        tokens.push(body.token);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the count is recomputed once a second

    const doc = await state();

    t.diagnostic(`reported ${doc.listeners} concurrent listeners for ${LISTENERS} joins`);
    assert.equal(tokens.length, LISTENERS);
    assertWithin(doc.listeners, LISTENERS, 0.02, 'concurrent listeners');
  });

  test('heartbeats from 20,000 of them leave the count where it was', async () => {
    const before_ = (await state()).listeners as number;
    let next = 0;
    const worker = async () => {
      while (next < 20_000) {
        const token = tokens[next++]!;
        const response = await http.request({
          method: 'POST',
          path: `/api/spaces/${id}/heartbeat`,
          headers: { authorization: `Bearer ${token}` },
        });
        await response.body.dump();
        assert.equal(response.statusCode, 204);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const after_ = (await state()).listeners as number;

    assert.equal(after_, before_, 'the same listeners counted again are not new listeners');
  });

  test('at the end, the peak and the total unique kept with the space are within 2 %', async (t) => {
    const ended = await api.post(`/api/spaces/${id}/end`, { token: operator });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));

    const space = (await api.get(`/api/spaces/${id}`, { token: operator })).body;

    t.diagnostic(`peak ${space.peakListeners}, total unique ${space.totalListeners}`);
    assertWithin(space.peakListeners, LISTENERS, 0.02, 'peak');
    assertWithin(space.totalListeners, LISTENERS, 0.02, 'total unique');
  });
});
