/**
 * A misconfigured edge is visible (issue 21: 896 of 1,000 listeners joining through the nginx edge
 * never heard anything, because the origin, without ROSTRUM_TRUST_PROXY, rate-limited them all as
 * the edge's one address). An origin that receives X-Forwarded-For from a peer it does not trust
 * says so once in its log, in /readyz (still ready) and in /metrics — whether the request went
 * through Fastify's routes or the join lane — and says nothing once the peer is trusted.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { loadConfig } from '../src/config.js';
import { createToken } from '../src/control/tokens.js';
import { type RostrumServer, startServer } from '../src/server.js';
import { tempDir } from './helpers/server.js';

interface Logged {
  server: RostrumServer;
  lines: Array<{ msg: string; code?: string; peer?: string; variable?: string }>;
}

async function serverWithLog(trustProxy: string[] = []): Promise<Logged> {
  const lines: Logged['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({ port: 0, host: '127.0.0.1', dataDir: tempDir(), logLevel: 'warn', strictEvents: true, trustProxy }, {});
  return { server: await startServer(config, pino({ level: 'warn' }, sink)), lines };
}

async function liveSpace(server: RostrumServer): Promise<string> {
  const operator = createToken({ ...server.credentials, identity: 'operator', operator: true, ttlSeconds: 600 });
  const res = await request(`${server.url}/api/spaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Behind an edge', startNow: true }),
  });
  assert.equal(res.statusCode, 201);
  return ((await res.body.json()) as { id: string }).id;
}

async function json(url: string): Promise<any> {
  const res = await request(url);
  assert.equal(res.statusCode, 200);
  return res.body.json();
}

async function untrustedCount(server: RostrumServer): Promise<number> {
  const text = await (await request(`${server.url}/metrics`)).body.text();
  return Number(/^rostrum_untrusted_forwarded_requests_total (\d+)$/m.exec(text)?.[1]);
}

const warnings = (lines: Logged['lines']) => lines.filter((line) => line.code === 'untrusted_proxy');

/** What these tests look at in /readyz: its status and its warnings. */
const readiness = (body: { status: string; warnings?: unknown }) => ({ status: body.status, warnings: body.warnings });

describe('X-Forwarded-For from a peer that is not trusted', () => {
  test('is said once in the log (with the peer and the variable to set), in /readyz and in /metrics', async () => {
    const { server, lines } = await serverWithLog();
    try {
      assert.deepEqual(readiness(await json(`${server.url}/readyz`)), { status: 'ready', warnings: undefined });
      for (let i = 0; i < 3; i++) {
        const res = await request(`${server.url}/api/spaces`, { headers: { 'x-forwarded-for': `203.0.113.${i}` } });
        assert.equal(res.statusCode, 200);
        await res.body.dump();
      }
      const logged = warnings(lines);
      assert.equal(logged.length, 1, 'once');
      assert.equal(logged[0]?.peer, '127.0.0.1');
      assert.equal(logged[0]?.variable, 'ROSTRUM_TRUST_PROXY');
      assert.match(logged[0]?.msg ?? '', /ROSTRUM_TRUST_PROXY=127\.0\.0\.1/);

      const ready = await json(`${server.url}/readyz`);
      assert.equal(ready.status, 'ready');
      assert.equal(ready.warnings.length, 1);
      assert.equal(ready.warnings[0].code, 'untrusted_proxy');
      assert.equal(ready.warnings[0].peer, '127.0.0.1');
      assert.match(ready.warnings[0].message, /ROSTRUM_TRUST_PROXY/);
      assert.equal(await untrustedCount(server), 3);
    } finally {
      await server.close();
    }
  });

  test('is noticed on a join answered by the join lane, before Fastify', async () => {
    const { server, lines } = await serverWithLog();
    try {
      const id = await liveSpace(server);
      const join = await request(`${server.url}/api/spaces/${id}/join`, { method: 'POST', headers: { 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(join.statusCode, 200);
      await join.body.dump();
      const metrics = await (await request(`${server.url}/metrics`)).body.text();
      assert.match(metrics, /rostrum_listener_joins_total\{way="lane"\} 1/, 'the lane answered it');
      assert.equal(warnings(lines).length, 1);
      assert.equal((await json(`${server.url}/readyz`)).warnings[0].code, 'untrusted_proxy');
      assert.equal(await untrustedCount(server), 1);
    } finally {
      await server.close();
    }
  });

  test('from a trusted edge is believed, and nothing is said', async () => {
    const { server, lines } = await serverWithLog(['127.0.0.1']);
    try {
      const id = await liveSpace(server);
      for (const path of [`/api/spaces/${id}/join`, '/api/spaces']) {
        const res = await request(`${server.url}${path}`, {
          method: path.endsWith('join') ? 'POST' : 'GET',
          headers: { 'x-forwarded-for': '198.51.100.7' },
        });
        assert.equal(res.statusCode, 200);
        await res.body.dump();
      }
      assert.deepEqual(warnings(lines), []);
      assert.deepEqual(readiness(await json(`${server.url}/readyz`)), { status: 'ready', warnings: undefined });
      assert.equal(await untrustedCount(server), 0);
    } finally {
      await server.close();
    }
  });
});
