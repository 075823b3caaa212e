/**
 * `rostrum loadtest` as an operator runs it: a real CLI process rehearses a live space of a real
 * server (its own process) with 200 simulated listeners and 2 bot speakers for 20 s, and its report
 * says every listener got audio, nobody stalled, and the server's count is within 2 %. Also: it
 * refuses a target that is not loopback.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createToken } from '../src/control/tokens.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { Api } from './helpers/http.js';
import { runCli as cli, spawnServer, tempDir } from './helpers/server.js';

test('200 listeners and 2 bot speakers for 20 s: every listener hears audio, no stalls, the count within 2 %', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const id = (await new Api(server.url).post('/api/spaces', { token: operator, body: { title: 'Rehearsal', startNow: true } })).body
      .id as string;
    const json = path.join(dataDir, 'report.json');
    const html = path.join(dataDir, 'report');
    const run = await cli(
      [
        'loadtest',
        '--space',
        id,
        '--listeners',
        '200',
        '--ramp',
        '5',
        '--duration',
        '20',
        '--speakers',
        '2',
        '--reactions-per-min',
        '1',
        '--json',
        json,
        '--report',
        html,
      ],
      { ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
    assert.equal(report.joined, 200);
    assert.equal(report.speakers, 2);
    assert.equal(report.heardAudio, 200, 'every listener got audio');
    assert.equal(report.stalls, 0, 'no stalls');
    const { reported, simulated } = report.listenerCount;
    assert.ok(
      // Counted in listeners, not as a ratio: 196 of 200 is within 2 %, and 1 − 0.98 is not ≤ 0.02 in floating point.
      reported !== null && Math.abs(reported - simulated) <= simulated * 0.02,
      // With what went wrong on the way (a listener whose heartbeats failed drops out of the count).
      JSON.stringify({ count: report.listenerCount, errors: report.errors, requests: report.requests }),
    );
    assert.deepEqual(
      Object.keys(report.errors).filter((k) => k !== '304'),
      [],
      `no errors: ${JSON.stringify(report.errors)}`,
    );
    assert.ok(report.joinMs && report.timeToFirstAudioMs && report.originRequestsPerSecond! > 0);
    assert.ok(report.series.length >= 19, 'a point a second for the charts');
    const page = fs.readFileSync(path.join(html, 'index.html'), 'utf8');
    assert.ok(
      page.includes('<svg') && !/<script|https?:\/\/(?!127)/.test(page.replace(/http:\/\/www\.w3\.org[^"]*/g, '')),
      'the HTML report opens offline',
    );
    assert.match(run.stdout, /200\/200 joined, 200 heard audio/);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

test('a target that is not loopback is refused without --allow-remote', async () => {
  const run = await cli(['loadtest', '--space', 'x', '--listeners', '1', '--duration', '1', '--server', 'http://192.0.2.1:8080'], {});
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /not a loopback address; pass --allow-remote/);
});
