/**
 * `rostrum loadtest` as an operator runs it: a real CLI process rehearses a live space of a real
 * server (its own process) with 200 simulated listeners and 2 bot speakers for 20 s, and its report
 * says every listener got audio, nobody stalled, and the server's count is within 2 %. A rehearsal
 * of a start under attack: a join flood from its own thread, a trickle of joins before it, a space
 * taken live during it, the stage pinged by phase, and both event loops' delays a second. Also: it
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

test('a start under attack: the flood is sent and answered in full, with its reference, phases and both event loops timed', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(server.url);
    const live = (await api.post('/api/spaces', { token: operator, body: { title: 'On air', startNow: true } })).body.id as string;
    const later = (await api.post('/api/spaces', { token: operator, body: { title: 'Starting' } })).body.id as string;
    const json = path.join(dataDir, 'attack.json');
    const run = await cli(
      [
        ...['loadtest', '--space', live, '--listeners', '30', '--profile', 'flash', '--duration', '13'],
        ...['--speakers', '1', '--go-live', later, '--flood', '200', '--flood-at', '6', '--flood-seconds', '4', '--json', json],
      ],
      { ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
    const flood = report.flood!;
    // Open loop: exactly the rate for the flood's length, whatever the answers.
    assert.equal(flood.sent, 800);
    assert.equal(flood.answered + flood.timeouts + flood.networkErrors, flood.sent, JSON.stringify(flood));
    assert.equal(
      Object.values(flood.byCode).reduce((a, b) => a + b, 0),
      flood.answered,
    );
    assert.ok(flood.answerMs && flood.answerMs.p99 > 0);
    assert.equal(typeof flood.generatorLagP99Ms, 'number', "the flood's thread times its own lateness");
    // The reference: 10 a second from second 3 to 4 s before the flood.
    assert.equal(report.joinsBeforeFlood?.sent, 20);
    assert.equal(report.joinsBeforeFlood?.answered, 20);
    assert.deepEqual(Object.keys(report.stage!.phases), ['before', 'flood', 'after']);
    for (const phase of ['before', 'flood', 'after']) assert.ok(report.stage!.phases[phase], `pings answered ${phase} the flood`);
    assert.equal(report.starts.length, 1);
    assert.ok(report.starts[0]!.firstPartMs! > 0, 'the space went live and played');
    const flooded = report.series.filter((s) => (s.flood?.sent ?? 0) > 0);
    assert.ok(flooded.length >= 3, 'the flood a second, for the charts');
    assert.ok(report.series.filter((s) => s.serverLagP99Ms !== undefined).length >= 10, "the server's event-loop delay a second");
    assert.ok(
      report.series.every((s) => typeof s.generatorLagP99Ms === 'number'),
      "the generator's own a second",
    );
    assert.match(run.stdout, /flood thread: {3}event-loop delay p99 [\d.]+ ms/);
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
