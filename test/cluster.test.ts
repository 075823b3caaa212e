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
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { type LocalCluster, startLocalCluster } from '../src/cluster/local/cluster.js';
import { rank } from '../src/cluster/ownership.js';
import type { Role } from '../src/control/model.js';
import { createToken } from '../src/control/tokens.js';
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

  test('a space created through node A that node B runs: listeners through A and through the edge hear its speaker and are counted on every node; a mute sent to A reaches B’s stage', async () => {
    const [a] = c.nodes;
    const live = c.nodes.map((n) => n.id);
    const token = (space: string, identity: string, role: Role) =>
      createToken({ apiKey: c.apiKey, apiSecret: c.apiSecret, identity, space, role, ttlSeconds: 600 });
    const post = (url: string, path: string, bearer?: string) =>
      fetch(`${url}${path}`, { method: 'POST', headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    let space = '';
    for (let i = 0; i < 20 && !space; i++) {
      const res = await fetch(`${a!.url}/api/spaces`, {
        method: 'POST',
        headers: { authorization: `Bearer ${c.operatorToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `Through ${a!.id} ${i}`, host: { identity: 'h', name: 'Hana' }, startNow: true }),
      });
      assert.equal(res.status, 201);
      const created = ((await res.json()) as { id: string }).id;
      if (rank(created, live)[0] !== a!.id) space = created;
    }
    assert.ok(space, 'a space ranked to another node');
    const { value: b } = await until(
      'another node runs it',
      async () =>
        (
          (await (await fetch(`${a!.url}/api/spaces/${space}`, { headers: { authorization: `Bearer ${c.operatorToken()}` } })).json()) as {
            ownerNode?: string;
          }
        ).ownerNode,
      (o) => o !== undefined && o !== a!.id,
      10_000,
    );
    const speakerToken = token(space, 's', 'speaker');
    assert.equal((await post(a!.url, `/api/spaces/${space}/stage`, speakerToken)).status, 200);
    assert.equal((await post(a!.url, `/api/spaces/${space}/participants/s/unmute`, speakerToken)).status, 200);
    const speaker = await SpeakerBot.join({ server: a!.url, token: speakerToken, toneHz: 660 });
    try {
      // One listener joins and heartbeats through A, another through the edge.
      const listeners: Array<{ via: string; token: string }> = [];
      for (const via of [a!.url, edge]) {
        const res = await post(via, `/api/spaces/${space}/join`);
        assert.equal(res.status, 200);
        listeners.push({ via, token: ((await res.json()) as { token: string }).token });
      }
      for (const l of listeners) assert.equal((await post(l.via, `/api/spaces/${space}/heartbeat`, l.token)).status, 204);
      await sleep(1500);
      const heard = await Promise.all(listeners.map((l) => ListenerBot.listen({ server: l.via, space, seconds: 4, ffmpeg })));
      for (const [i, { report }] of heard.entries()) {
        assert.ok(
          report.tones.some((t) => Math.abs(t.hz - 660) <= 5),
          `the speaker is heard through ${listeners[i]!.via}: ${JSON.stringify(report.tones)}`,
        );
      }
      // The count is merged across nodes once a second; every node's state document has both.
      for (const n of c.nodes) {
        await until(
          `${n.id} counts both listeners`,
          async () => ((await (await fetch(`${n.url}/api/spaces/${space}/state`)).json()) as { listeners: number }).listeners,
          (count) => count >= 2,
          5000,
        );
      }
      const muted = await post(a!.url, `/api/spaces/${space}/participants/s/mute`, token(space, 'h', 'host'));
      assert.equal(muted.status, 200);
      assert.equal(muted.headers.get('x-rostrum-node'), b, 'run by the node that runs the space');
      await until(
        'the speaker is told it was muted on the stage of the node that runs the space',
        async () => speaker.messages.some((m) => m.type === 'muted'),
        (told) => told,
        3000,
      );
    } finally {
      await speaker.close();
    }
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
    const resumedText = await (await fetch(`${edge}/hls/${id}/index.m3u8`)).text();
    assert.ok(resumedText.includes('#EXT-X-GAP'), `the playlist marks the dead owner's last segment missing: ${resumedText}`);
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
      (r) => r.record as { msn: number; run: number; discontinuity: boolean; pdt: number; parts: number[]; gap?: true },
    );
    await db.end();
    assert.deepEqual(
      records.map((r) => r.msn),
      records.map((_, i) => i),
      'the recording has no hole in its numbering',
    );
    const resumed = records.findLastIndex((r) => r.discontinuity);
    assert.ok(resumed > 1, 'the recording continues after the take-over');
    // The segment the dead owner was making is marked missing, not numbered again (its parts' URLs stay its own).
    assert.equal(records[resumed - 1]!.gap, true, 'a gap before the successor’s first segment');
    const lost = records[resumed - 2]!;
    const hole = records[resumed]!.pdt - (lost.pdt + lost.parts.reduce((a, b) => a + b, 0) * 1000);
    console.log(
      `# kill -9 ${victim.id}: ${successor} runs the space ${tookMs} ms later; the playlist has parts again at ${tookMs + playableMs} ms; a listener joining then hears the bot speaker from the part it starts on, ${heardAt - killedAt} ms after the kill; a listener playing across it heard ${report.longestSilenceMs + report.stallMs} ms without the speaker (silence ${report.longestSilenceMs} ms, the chime rests 800 ms by itself, + stalls ${report.stallMs} ms, ${report.stalls}×; errors ${JSON.stringify(report.errors)}); media sequence ${sequenceBefore} → ${sequenceAfter}; the recording kept ${resumed - 1} segments before the kill, a gap, and ${records.length - resumed} after, with a hole of ${hole} ms`,
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
    test(`${engine === 'redis' ? 'Redis' : 'PostgreSQL'} stopped for ${OUTAGE_S} s mid-space: a listener plays on without a stall, joins keep being answered, it comes back without restarts and the counts reconcile`, async () => {
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
      // Counts reconcile: the listeners who joined meanwhile (spread over the nodes by the edge) are in every node's count.
      const counts: number[] = [];
      for (const n of c.nodes) {
        const { value } = await until(
          `${n.id} counts the ${joins} listeners who joined while ${engine} was away`,
          async () => ((await (await fetch(`${n.url}/api/spaces/${id}/state`)).json()) as { listeners: number }).listeners,
          (count) => count >= joins,
          10_000,
        );
        counts.push(value);
      }
      console.log(
        `# ${engine} away ${OUTAGE_S} s: ${joins} joins answered, no stall in ${report.seconds} s of listening; then every node counts them (${counts.join(', ')})`,
      );
    });
  }
});
