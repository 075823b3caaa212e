/**
 * The cluster as `npm run cluster` starts it (src/cluster/local/cluster.ts): redis-server, PostgreSQL,
 * three Rostrum processes and an nginx edge from deploy/nginx/, a live demo space with its bot
 * speaker. What a node's failure does to a live space: kill -9 its owner (another node takes it and
 * the same playlist URL plays again, the bot back on stage), stop an owner past its lease and let it
 * run again (its writes are refused by epoch and it gives the space up), stop Redis and then
 * PostgreSQL for a while (ROSTRUM_TEST_OUTAGE_SECONDS, 10 by default) (the broadcast never stops and joins keep being answered).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { type LocalCluster, startLocalCluster } from '../src/cluster/local/cluster.js';
import { ffmpeg } from './helpers/media.js';

/** How long each engine is stopped: 10 s in CI (the suite's time budget); ROSTRUM_TEST_OUTAGE_SECONDS=30 for the 30 s. */
const OUTAGE_S = Number(process.env.ROSTRUM_TEST_OUTAGE_SECONDS ?? 10);

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await read().catch(() => undefined as T);
    if (value !== undefined && ok(value)) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('a cluster of three nodes behind an nginx edge, on PostgreSQL and Redis', () => {
  let c: LocalCluster;
  let edge: string;
  let id: string;
  const ownerNode = async (): Promise<string | undefined> => {
    const res = await fetch(`${edge}/api/spaces/${id}`, { headers: { authorization: `Bearer ${c.operatorToken()}` } });
    return res.ok ? ((await res.json()) as { ownerNode?: string }).ownerNode : undefined;
  };
  const nodeNamed = (name: string) => c.nodes.find((n) => n.id === name)!;
  const listen = (seconds: number) => ListenerBot.listen({ server: edge, space: id, seconds, ffmpeg });

  before(async () => {
    c = await startLocalCluster({ nodes: 3, edges: 1 });
    edge = c.edges[0]!.url;
    id = c.demo!.spaceId;
    await until(
      'the demo speaker is on the air',
      async () => (await listen(2)).report.tones.length,
      (n) => n > 0,
      20_000,
    );
  });
  after(() => c?.stop());

  test('the demo space is run by one node, which every node names, and the edge plays its bot speaker', async () => {
    const owner = await ownerNode();
    assert.ok(owner && c.nodes.some((n) => n.id === owner), `ownerNode ${owner}`);
    for (const n of c.nodes) {
      const res = await fetch(`${n.url}/api/spaces/${id}`, { headers: { authorization: `Bearer ${c.operatorToken()}` } });
      assert.equal(((await res.json()) as { ownerNode: string }).ownerNode, owner, `${n.id} names the owner`);
    }
    const { report } = await listen(4);
    assert.equal(report.stalls, 0);
    assert.ok(report.tones.length > 0, 'the bot speaker is heard');
  });

  test('kill -9 the owner: another node runs the space within seconds, the same playlist URL plays on with its numbering, the bot is back on stage, the recording continues', async () => {
    const victim = nodeNamed((await ownerNode())!);
    const before = await (await fetch(`${edge}/hls/${id}/index.m3u8`)).text();
    const sequenceBefore = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(before)?.[1]);
    // A listener playing across the take-over, as a player would (it keeps reloading the same URL).
    const across = listen(24);
    await sleep(4000);
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    await victim.exited();
    const { value: successor, ms: tookMs } = await until(
      'another node runs it',
      ownerNode,
      (o) => o !== undefined && o !== victim.id,
      15_000,
    );
    // The first new part at the same URL, through the edge.
    const { ms: playableMs } = await until(
      'the playlist plays again',
      async () => {
        const res = await fetch(`${edge}/hls/${id}/index.m3u8`);
        return res.status === 200 ? (await res.text()).includes('#EXT-X-PART:') : false;
      },
      (ok) => ok,
      15_000,
    );
    // The bot speaker rejoins by itself (its socket closed with its node): heard again at the same URL.
    let heardAt = 0;
    await until(
      'the bot speaker is heard again',
      async () => {
        const started = Date.now();
        const { report } = await listen(2);
        if (report.tones.length > 0) heardAt = started;
        return report.tones.length;
      },
      (n) => n > 0,
      20_000,
    );
    const stage = (await (await fetch(`${edge}/api/spaces/${id}/state`)).json()) as { stage: Array<{ identity: string }> };
    assert.ok(
      stage.stage.some((m) => m.identity === 'demo-bot'),
      'the bot is on stage',
    );
    // The same broadcast goes on: its numbering continues after a discontinuity, not from 0 again.
    const afterText = await (await fetch(`${edge}/hls/${id}/index.m3u8`)).text();
    const sequenceAfter = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(afterText)?.[1]);
    assert.ok(sequenceAfter >= sequenceBefore, `media sequence ${sequenceBefore} → ${sequenceAfter}`);
    assert.ok(afterText.includes('#EXT-X-DISCONTINUITY'), 'a discontinuity marks the take-over');
    const { report } = await across;
    assert.ok(
      report.tones.length > 0 && report.discontinuities >= 1,
      `the listener played across the take-over: ${JSON.stringify(report)}`,
    );
    // What the recording kept: every segment stored before the kill, then the successor's after a hole.
    const db = new pg.Client({ connectionString: c.databaseUrl });
    await db.connect();
    const records = (await db.query('SELECT record FROM recording_segments WHERE space_id = $1 ORDER BY msn', [id])).rows.map(
      (r) => r.record as { msn: number; run: number; discontinuity: boolean; pdt: number; parts: number[] },
    );
    await db.end();
    assert.deepEqual(
      records.map((r) => r.msn),
      records.map((_, i) => i),
      'the recording has no hole in its numbering',
    );
    const resumed = records.findLastIndex((r) => r.discontinuity);
    assert.ok(resumed > 0, 'the recording continues after the take-over');
    const lost = records[resumed - 1]!;
    const hole = records[resumed]!.pdt - (lost.pdt + lost.parts.reduce((a, b) => a + b, 0) * 1000);
    console.log(
      `# kill -9 ${victim.id}: ${successor} runs the space ${tookMs} ms later; the playlist has parts again at ${tookMs + playableMs} ms; a listener joining then hears the bot speaker from the part it starts on, ${heardAt - killedAt} ms after the kill; a listener playing across it heard ${report.longestSilenceMs + report.stallMs} ms without the speaker (silence ${report.longestSilenceMs} ms, the chime rests 800 ms by itself, + stalls ${report.stallMs} ms, ${report.stalls}×; errors ${JSON.stringify(report.errors)}); media sequence ${sequenceBefore} → ${sequenceAfter}; the recording kept ${resumed} segments before the kill and ${records.length - resumed} after, with a hole of ${hole} ms`,
    );
    await victim.start(); // back for the next tests, as a follower
  });

  test('an owner stopped past its lease (SIGSTOP) and resumed: its writes are refused by epoch, it gives the space up, one owner remains', async () => {
    const victim = nodeNamed((await ownerNode())!);
    const db = new pg.Client({ connectionString: c.databaseUrl });
    await db.connect();
    try {
      const epochOf = async () => Number((await db.query('SELECT owner_epoch FROM spaces WHERE id = $1', [id])).rows[0].owner_epoch);
      const before = await epochOf();
      victim.signal('SIGSTOP');
      const { value: successor } = await until(
        'another node takes the space',
        ownerNode,
        (o) => o !== undefined && o !== victim.id,
        15_000,
      );
      assert.equal(await epochOf(), before + 1, 'one take-over, one epoch');
      const logBefore = fs.readFileSync(victim.logFile, 'utf8').length;
      victim.signal('SIGCONT');
      await until(
        `${victim.id} lets the space go`,
        async () => fs.readFileSync(victim.logFile, 'utf8').slice(logBefore),
        (log) => log.includes('this node no longer runs the space'),
        5000,
      );
      await sleep(2000);
      assert.equal(await ownerNode(), successor, 'the successor still runs it');
      assert.equal(await epochOf(), before + 1, 'nobody took it again');
      const { report } = await listen(3);
      assert.ok(report.tones.length > 0);
    } finally {
      victim.signal('SIGCONT');
      await db.end();
    }
  });

  for (const engine of ['redis', 'postgres'] as const) {
    test(`${engine === 'redis' ? 'Redis' : 'PostgreSQL'} stopped for ${OUTAGE_S} s mid-space: a listener plays on without a stall, joins keep being answered, and it comes back without restarts`, async () => {
      const server = engine === 'redis' ? c.redis : c.postgres;
      const listening = listen(OUTAGE_S + 5);
      await sleep(2000);
      await server.stop();
      let joins = 0;
      try {
        const until = Date.now() + OUTAGE_S * 1000;
        while (Date.now() < until) {
          const res = await fetch(`${edge}/api/spaces/${id}/join`, { method: 'POST' });
          assert.equal(res.status, 200, `a join while ${engine} is away: ${res.status} ${await res.text()}`);
          joins++;
          await sleep(500);
        }
      } finally {
        await server.start();
      }
      const { report } = await listening;
      assert.equal(report.stalls, 0, `no stall while ${engine} was away`);
      assert.deepEqual(report.errors, {});
      await until(
        `every node says ${engine} answers again`,
        async () => {
          const ready = await Promise.all(
            c.nodes.map(async (n) => (await (await fetch(`${n.url}/readyz`)).json()) as { engines: Record<string, { up: boolean }> }),
          );
          return ready.every((r) => r.engines[engine]?.up);
        },
        (ok) => ok,
        15_000,
      );
      console.log(`# ${engine} away ${OUTAGE_S} s: ${joins} joins answered, no stall in ${report.seconds} s of listening`);
    });
  }
});
