/**
 * The shipped pieces work together as shipped: an origin with the HTTP settings of deploy/rostrum.env
 * (the edge on the same machine trusted; every limit at its default) behind the shipped nginx edge,
 * and 1,000 simulated listeners — the real `rostrum loadtest`, from 50 loopback addresses as a crowd
 * comes from many — join through the edge. Every one of them hears the broadcast, and the origin does
 * not warn of an untrusted proxy. (Before the shipped settings trusted the edge, the origin saw every
 * join as the edge's one address and its per-address limit kept 896 of the 1,000 out.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../src/control/tokens.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { Api } from './helpers/http.js';
import { type NginxEdge, startEdge } from './helpers/nginx.js';
import { type ChildServer, ROOT, runCli, spawnServer, tempDir } from './helpers/server.js';

/** The settings of deploy/rostrum.env that hold on any machine: HTTP behind the edge, not this server's addresses. */
function shippedHttpSettings(): Record<string, string> {
  const text = fs.readFileSync(path.join(ROOT, 'deploy/rostrum.env'), 'utf8');
  const all = Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^ROSTRUM_[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const { ROSTRUM_HOST, ROSTRUM_TRUST_PROXY, ROSTRUM_DRAIN_GRACE_MS, ROSTRUM_DRAIN_MS } = all;
  assert.ok(ROSTRUM_HOST && ROSTRUM_TRUST_PROXY, 'the shipped settings name the host and the trusted edge');
  return {
    ROSTRUM_HOST,
    ROSTRUM_TRUST_PROXY,
    ROSTRUM_DRAIN_GRACE_MS: ROSTRUM_DRAIN_GRACE_MS ?? '',
    ROSTRUM_DRAIN_MS: ROSTRUM_DRAIN_MS ?? '',
  };
}

describe('1,000 listeners through the shipped edge, in front of an origin as shipped', () => {
  const dataDir = tempDir();
  let server: ChildServer;
  let edge: NginxEdge;
  let id: string;

  before(async () => {
    server = await spawnServer(dataDir, {
      ...shippedHttpSettings(),
      // spawnServer raises per-address limits for tests from one address; here they are the defaults.
      ROSTRUM_JOIN_LIMIT: '',
      ROSTRUM_ADDRESS_WRITE_LIMIT: '',
      ROSTRUM_REQUEST_LIMIT: '',
      ROSTRUM_LOG_LEVEL: 'info',
    });
    edge = await startEdge(new URL(server.url).host);
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const created = await new Api(server.url).post('/api/spaces', { token: operator, body: { title: 'Through the edge', startNow: true } });
    id = created.body.id;
  });
  after(async () => {
    await edge?.stop();
    server?.child.kill('SIGTERM');
    await server?.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('every listener joins and hears the broadcast; nothing is refused; the origin trusts the edge', async () => {
    const json = path.join(dataDir, 'report.json');
    const run = await runCli(
      [
        'loadtest',
        '--server',
        edge.url,
        '--space',
        id,
        '--listeners',
        '1000',
        '--ramp',
        '10',
        '--duration',
        '30',
        '--speakers',
        '1',
        '--json',
        json,
      ],
      { ROSTRUM_DATA: dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
    const summary = JSON.stringify({ joined: report.joined, heard: report.heardAudio, errors: report.errors, stalls: report.stalls });
    assert.equal(report.joined, 1000, summary);
    assert.equal(report.heardAudio, 1000, `every listener heard audio: ${summary}`);
    assert.equal(report.errors['429'] ?? 0, 0, `no join was rate-limited as the edge's one address: ${summary}`);
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { warnings?: unknown };
    assert.equal(ready.warnings, undefined, `no untrusted-proxy warning: ${JSON.stringify(ready)}`);
  });
});
