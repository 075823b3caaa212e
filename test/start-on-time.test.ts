/**
 * The start-on-time test, bounded (the benchmark, bench/start-on-time.ts, runs it for 60 s and
 * judges the goals). A real server in its own process — admission 50 joins/s per space, the default
 * per-address limits, proof of work on auto — and the real `rostrum loadtest` CLI: 300 listeners
 * arrive at once on live space A (their wait in line measures the node's join capacity) and play
 * it; then joins to scheduled space B are flooded at 1,000/s, open loop, from 200 addresses, by
 * bots that ignore Retry-After; in the middle of the flood B goes live with a talking bot speaker.
 *
 * It checks what must hold whatever the machine's speed: the flood was ≥ 10× the measured
 * capacity, every flooder got an answer (no timeouts, no refused connections, no 5xx but 503),
 * the proof of work came on by itself, B's first part of audio came out, the stage's pings all
 * came back, none of A's listeners stalled, and the server's memory stayed bounded. Latencies are
 * checked here only against wide bounds that catch a broken path; their goals are the benchmark's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createToken } from '../src/control/tokens.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { Api } from './helpers/http.js';
import { runCli, spawnServer, tempDir } from './helpers/server.js';

test('a space goes live on time while its joins are flooded at 10× the capacity, and nobody listening notices', async () => {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir, {
    ROSTRUM_ADMISSION_RATE: '50',
    // The defaults: listeners and flooders come from many loopback addresses, as crowds do.
    ROSTRUM_JOIN_LIMIT: '100',
    ROSTRUM_ADDRESS_WRITE_LIMIT: '6000',
    ROSTRUM_POW: 'auto',
  });
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(server.url);
    const a = (await api.post('/api/spaces', { token: operator, body: { title: 'Already on air', startNow: true } })).body.id as string;
    const b = (await api.post('/api/spaces', { token: operator, body: { title: 'Starting at the top of the hour' } })).body.id as string;
    const json = path.join(dataDir, 'report.json');
    const run = await runCli(
      [
        'loadtest',
        '--space',
        a,
        '--listeners',
        '300',
        '--profile',
        'flash',
        '--duration',
        '26',
        '--flood',
        '1000',
        '--flood-at',
        '9',
        '--flood-seconds',
        '15',
        '--flood-addresses',
        '200',
        '--go-live',
        b,
        '--json',
        json,
      ],
      { ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir },
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;

    // The crowd on A waited in line: its pace is the node's join capacity, and the flood was ≥ 10× it.
    const capacity = report.joinCapacityPerSecond;
    assert.ok(capacity !== null && capacity >= 25 && capacity <= 100, `join capacity measured at about 50/s: ${capacity}`);
    const flood = report.flood!;
    assert.ok(flood.offeredPerSecond >= 10 * capacity, `flood ${flood.offeredPerSecond}/s vs capacity ${capacity}/s`);
    assert.ok(flood.sent >= 14_000 && flood.notSent === 0, `the generator kept up: ${flood.sent} sent, ${flood.notSent} not`);

    // Every flooder was answered, and not by a crash: no timeouts, no refused connections, no 5xx but 503.
    assert.equal(flood.answered, flood.sent, JSON.stringify(flood));
    assert.equal(flood.timeouts, 0);
    assert.equal(flood.networkErrors, 0);
    assert.equal(flood.serverErrors, 0, JSON.stringify(flood.byStatus));
    assert.ok(
      flood.answerMs && flood.answerMs.p99 < 1000,
      `flood answers p99 ${flood.answerMs?.p99} ms (goal < 100 ms, judged by the benchmark)`,
    );
    // The defences acted: a line for the first, then the proof of work came on by itself.
    assert.ok((flood.byCode.queued ?? 0) > 0, JSON.stringify(flood.byCode));
    assert.ok((flood.byCode.pow_required ?? 0) > flood.sent / 2, `most bots met the proof of work: ${JSON.stringify(flood.byCode)}`);

    // B went live during the flood, and its first part of audio came out.
    assert.equal(report.starts.length, 1);
    const start = report.starts[0]!;
    assert.ok(start.atSecond > 9 && start.atSecond < 24, `went live during the flood (at ${start.atSecond} s)`);
    assert.ok(start.firstPartMs !== null && start.firstPartMs < 5000, `first part ${start.firstPartMs} ms after go-live (goal ≤ 2 s)`);

    // The stage kept talking: every ping on its signalling socket came back.
    assert.ok(report.stage && report.stage.pings >= 90 && report.stage.lost === 0, JSON.stringify(report.stage));
    assert.ok(report.stage.rttMs && report.stage.rttMs.p99 < 1000, `stage RTT p99 ${report.stage.rttMs?.p99} ms`);
    // The bench's references, the same run without the flood: the stage before it, joins at a trickle.
    assert.ok(report.stage.phases.before && report.stage.phases.flood && report.stage.phases.after, JSON.stringify(report.stage.phases));
    assert.ok(report.joinsBeforeFlood && report.joinsBeforeFlood.answered >= 20, JSON.stringify(report.joinsBeforeFlood));

    // Nobody listening to A noticed: all of them heard it, nobody stalled, no errors.
    assert.equal(report.joined, 300);
    assert.equal(report.heardAudio, 300);
    assert.equal(report.stalls, 0, 'no stalls among the listeners already playing');
    assert.deepEqual(
      Object.keys(report.errors).filter((k) => k !== '304'),
      [],
      JSON.stringify(report.errors),
    );
    // Memory bounded: the flood left no per-request trace worth speaking of.
    const memory = report.serverMemoryMb!;
    assert.ok(memory.peak - memory.start < 200, `server memory ${memory.start} → ${memory.peak} MB`);
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
