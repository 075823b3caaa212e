/**
 * The cluster suite: `npm run cluster`'s cluster (src/cluster/local/cluster.ts — redis-server,
 * PostgreSQL, three Rostrum processes, two nginx edges from deploy/nginx/, a live demo space with its
 * bot speaker) under the real `rostrum loadtest`, split over both edges, at growing crowds:
 *
 * - what a listener costs at the origin at steady state: requests that reached a node (the edges'
 *   access logs: a line with an upstream address) per listener per second, over a window as long as
 *   a heartbeat interval, beside what it costs at the edge;
 * - the same with larger crowds of pages only (join, state document, heartbeats: no media), 1 k →
 *   5 k, which this box can simulate where it cannot simulate 5 k LL-HLS players: the origin's view;
 * - what a join or a heartbeat costs Redis: the nodes' `rostrum_crowd_redis_commands_total` per
 *   sighting (joins + heartbeats the nodes answered);
 * - join throughput of a node on the cluster's engines against the same node embedded;
 * - the failover gap: kill -9 the node that runs the space, and the time until a listener joining at
 *   the same URL hears the bot speaker again (it rejoins by itself).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { type SegmentRecord, segmentDuration } from '../src/broadcast/playlist.js';
import { type LocalCluster, startLocalCluster } from '../src/cluster/local/cluster.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { median } from './join.js';
import { ROOT, track } from './processes.js';
import { type Figure, judge } from './results.js';
import { createLiveSpace, startRostrum } from './rostrum.js';
import { runWrk, type WrkResult } from './wrk.js';

export interface ClusterSettings {
  /** Simulated listeners per step, all edges together. */
  steps: number[];
  rampSeconds: number;
  /** Measured after the ramp; at least one heartbeat interval (50 s), so every listener's heartbeat is in it. */
  steadySeconds: number;
  /** Simulated listeners per step that fetch no media (pages only), all edges together. */
  pageSteps: number[];
  /** Join throughput: alternating wrk rounds on an embedded node and on a node of the cluster, and their length. */
  joinRounds: number;
  joinSeconds: number;
}

export interface ClusterStep {
  listeners: number;
  media: 'parts' | 'none';
  joined: number;
  heardAudio: number;
  stalls: number;
  edgeRequestsPerListenerSecond: number;
  originRequestsPerListenerSecond: number;
  originRequestsPerSecond: number;
  sightings: number;
  redisCommands: number;
  redisCommandsPerSighting: number;
  /** The state document's count on each node at the end, against the listeners simulated. */
  counts: number[];
}

/** Join throughput of one node on the cluster's engines against the same node on the embedded default. */
export interface JoinComparison {
  rounds: Array<{ embedded: WrkResult; scaledOut: WrkResult }>;
  embeddedRps: number;
  scaledOutRps: number;
  /** The median of each round's scaled-out ÷ embedded. */
  ratio: number;
}

export interface ClusterMeasurement {
  joins: JoinComparison | undefined;
  /** LL-HLS players. */
  steps: ClusterStep[];
  /** Pages only (join, state document, heartbeats): a larger crowd as the origin sees it behind the edges. */
  pageSteps: ClusterStep[];
  failover:
    | {
        killed: string;
        successor: string;
        ownerMs: number;
        playableMs: number;
        heardMs: number;
        /** The listener playing across the kill: its longest silence (media) and its stalls. */
        silenceMs: number;
        stallMs: number;
        recordingHoleMs: number;
        recorded: number;
      }
    | undefined;
  problems: string[];
}

/** Sums a Prometheus counter's samples whose labels match. */
function sumMetric(text: string, name: string, labelMatch = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (labelMatch && !rest.includes(labelMatch)) continue;
    sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

async function nodeCounters(c: LocalCluster): Promise<{ commands: number; sightings: number }> {
  let commands = 0;
  let sightings = 0;
  for (const n of c.nodes) {
    const text = await (await fetch(`${n.url}/metrics`)).text();
    commands += sumMetric(text, 'rostrum_crowd_redis_commands_total');
    sightings += sumMetric(text, 'rostrum_listener_joins_total');
    sightings += sumMetric(text, 'rostrum_http_request_duration_seconds_count', 'route="/api/spaces/:id/heartbeat"');
  }
  return { commands, sightings };
}

async function loadtest(
  edge: string,
  space: string,
  listeners: number,
  media: 'parts' | 'none',
  settings: ClusterSettings,
  json: string,
  log: (l: string) => void,
) {
  const child = track(
    spawn(
      process.execPath,
      [
        path.join(ROOT, 'bin/rostrum.js'),
        'loadtest',
        '--server',
        edge,
        '--space',
        space,
        '--listeners',
        String(listeners),
        '--ramp',
        String(settings.rampSeconds),
        '--duration',
        String(settings.rampSeconds + settings.steadySeconds + 5),
        '--media',
        media,
        '--json',
        json,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) if (!/^\s*\d+ s/.test(line)) log(`loadtest ${edge}: ${line}`);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`rostrum loadtest exited with ${code}: ${stderr.slice(-2000)}`);
  return JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
}

/**
 * The same `rostrum serve` twice, beside the running cluster: once on the embedded default, once as a
 * fourth node of the cluster (its PostgreSQL and Redis), each with a live space of its own; wrk joins
 * on each in alternating rounds (the join limits set out of reach, as in the join suite).
 */
async function compareJoins(c: LocalCluster, settings: ClusterSettings, log: (line: string) => void): Promise<JoinComparison> {
  const embedded = await startRostrum();
  const scaledOut = await startRostrum([], {
    ROSTRUM_DATABASE_URL: c.databaseUrl,
    ROSTRUM_REDIS_URL: c.redis.url,
    ROSTRUM_API_KEY: c.apiKey,
    ROSTRUM_API_SECRET: c.apiSecret,
    ROSTRUM_NODE_ID: 'node-joins',
  });
  try {
    const urls = {
      embedded: `${embedded.url}/api/spaces/${await createLiveSpace(embedded, 'joins, embedded')}/join`,
      scaledOut: `${scaledOut.url}/api/spaces/${await createLiveSpace(scaledOut, 'joins, scaled out')}/join`,
    };
    const load = (url: string, seconds: number, check?: string) =>
      runWrk({ url, threads: 1, connections: 64, durationSeconds: seconds, ...(check ? { check } : {}) });
    for (const [name, url] of Object.entries(urls)) {
      const sane = await load(url, 2, '"token":"ey');
      log(
        `joins, ${name}: sanity ${Math.round(sane.requestsPerSecond)} req/s, ${sane.bad} of ${sane.checked} bad, ${sane.failures} failures`,
      );
      if (sane.failures > 0 || (sane.bad ?? 0) > 0 || !sane.checked) throw new Error(`joins on the ${name} node failed their sanity run`);
    }
    const rounds: JoinComparison['rounds'] = [];
    for (let i = 0; i < settings.joinRounds; i++) {
      const round = {
        embedded: await load(urls.embedded, settings.joinSeconds),
        scaledOut: await load(urls.scaledOut, settings.joinSeconds),
      };
      rounds.push(round);
      log(
        `joins round ${i + 1}: embedded ${Math.round(round.embedded.requestsPerSecond)} req/s, on PostgreSQL + Redis ${Math.round(round.scaledOut.requestsPerSecond)} req/s`,
      );
    }
    return {
      rounds,
      embeddedRps: median(rounds.map((r) => r.embedded.requestsPerSecond)),
      scaledOutRps: median(rounds.map((r) => r.scaledOut.requestsPerSecond)),
      ratio: median(rounds.map((r) => r.scaledOut.requestsPerSecond / r.embedded.requestsPerSecond)),
    };
  } finally {
    await scaledOut.stop();
    await embedded.stop();
  }
}

export async function measureCluster(settings: ClusterSettings, log: (line: string) => void): Promise<ClusterMeasurement> {
  const problems: string[] = [];
  const c = await startLocalCluster({ nodes: 3, edges: 2, say: log });
  try {
    let joins: JoinComparison | undefined;
    try {
      joins = await compareJoins(c, settings, log);
    } catch (err) {
      problems.push(`join throughput: ${(err as Error).message}`);
    }
    const space = c.demo!.spaceId;
    const ffmpeg = findFfmpeg(undefined);
    const step = async (listeners: number, media: 'parts' | 'none'): Promise<ClusterStep> => {
      log(
        `${listeners} simulated listeners (${media === 'parts' ? 'LL-HLS players' : 'pages only: join, state document, heartbeats'}) over ${c.edges.length} edges: ${settings.rampSeconds} s ramp, ${settings.steadySeconds} s measured`,
      );
      const before = await nodeCounters(c);
      const startedAt = Date.now() / 1000;
      const reports = await Promise.all(
        c.edges.map((e, i) =>
          loadtest(
            e.url,
            space,
            Math.round(listeners / c.edges.length),
            media,
            settings,
            path.join(c.dir, `load-${media}-${listeners}-${i}.json`),
            log,
          ),
        ),
      );
      const after = await nodeCounters(c);
      const from = startedAt + settings.rampSeconds + 2;
      const to = from + settings.steadySeconds;
      let edgeRequests = 0;
      let originRequests = 0;
      for (const e of c.edges) {
        for (const line of e.log()) {
          if (line.time < from || line.time >= to) continue;
          edgeRequests++;
          if (line.upstreamAddr !== '-') originRequests++;
        }
      }
      const counts = await Promise.all(
        c.nodes.map(async (n) => ((await (await fetch(`${n.url}/api/spaces/${space}/state`)).json()) as { listeners: number }).listeners),
      );
      const sightings = after.sightings - before.sightings;
      const redisCommands = after.commands - before.commands;
      const result: ClusterStep = {
        listeners,
        media,
        joined: reports.reduce((s, r) => s + r.joined, 0),
        heardAudio: reports.reduce((s, r) => s + r.heardAudio, 0),
        stalls: reports.reduce((s, r) => s + r.stalls, 0),
        edgeRequestsPerListenerSecond: edgeRequests / (listeners * settings.steadySeconds),
        originRequestsPerListenerSecond: originRequests / (listeners * settings.steadySeconds),
        originRequestsPerSecond: originRequests / settings.steadySeconds,
        sightings,
        redisCommands,
        redisCommandsPerSighting: sightings > 0 ? redisCommands / sightings : 0,
        counts,
      };
      log(`${JSON.stringify(result)}`);
      if (result.joined < listeners * 0.99) problems.push(`${listeners} listeners (${media}): only ${result.joined} joined`);
      await sleep(settings.rampSeconds * 1000); // the step's listeners drop out of the count meanwhile
      return result;
    };
    const steps: ClusterStep[] = [];
    for (const listeners of settings.steps) steps.push(await step(listeners, 'parts'));
    const pageSteps: ClusterStep[] = [];
    for (const listeners of settings.pageSteps) pageSteps.push(await step(listeners, 'none'));

    // Failover: kill -9 the node that runs the space; a listener joining at the same URL hears the bot again.
    const edge = c.edges[0]!.url;
    const owner = async () => {
      const res = await fetch(`${edge}/api/spaces/${space}`, { headers: { authorization: `Bearer ${c.operatorToken()}` } });
      return res.ok ? ((await res.json()) as { ownerNode?: string }).ownerNode : undefined;
    };
    const killed = (await owner())!;
    const victim = c.nodes.find((n) => n.id === killed)!;
    // A listener playing across the kill through the edge, as a player would: what it hears is the gap.
    const across = ListenerBot.listen({ server: edge, space, seconds: 24, ffmpeg });
    await sleep(4000);
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    let successor: string | undefined;
    let ownerMs = 0;
    let playableMs = 0;
    let heardMs = 0;
    const deadline = killedAt + 30_000;
    // In order: another node runs the space; its playlist (from a node, not an edge's cache) has parts;
    // a listener joining through the edge then hears the bot speaker (audio made after the kill).
    while (!successor && Date.now() < deadline) {
      const o = await owner().catch(() => undefined);
      if (o && o !== killed) {
        successor = o;
        ownerMs = Date.now() - killedAt;
      } else await sleep(50);
    }
    const direct = c.nodes.find((n) => n.id !== killed)!.url;
    while (successor && !playableMs && Date.now() < deadline) {
      const res = await fetch(`${direct}/hls/${space}/index.m3u8`).catch(() => undefined);
      if (res?.status === 200 && (await res.text()).includes('#EXT-X-PART:')) playableMs = Date.now() - killedAt;
      else await sleep(50);
    }
    await sleep(1100); // the edge's cached playlist (1 s) is the new owner's from here on
    while (playableMs && !heardMs && Date.now() < deadline) {
      const started = Date.now();
      const { report } = await ListenerBot.listen({ server: edge, space, seconds: 1, ffmpeg }).catch(() => ({ report: { tones: [] } }));
      if (report.tones.length > 0) heardMs = started - killedAt;
    }
    if (!heardMs) problems.push('after kill -9 of the owner, the bot speaker was not heard again within 30 s');
    const { report } = await across;
    if (report.discontinuities < 1) problems.push("the listener playing across the kill did not play the new owner's audio");
    // What the recording kept: the hole between the last segment stored before the kill and the successor's first.
    const db = new pg.Client({ connectionString: c.databaseUrl });
    await db.connect();
    const records = (await db.query('SELECT record FROM recording_segments WHERE space_id = $1 ORDER BY msn', [space])).rows.map(
      (r) => r.record as SegmentRecord,
    );
    await db.end();
    const resumed = records.findLastIndex((r) => r.discontinuity);
    // Before the successor's first segment: the gap where the dead owner's last segment was (never numbered again).
    const lost = records.slice(0, resumed).findLast((r) => !r.gap);
    const recordingHoleMs = lost ? records[resumed]!.pdt - (lost.pdt + segmentDuration(lost) * 1000) : Number.NaN;
    return {
      joins,
      steps,
      pageSteps,
      failover: successor
        ? {
            killed,
            successor,
            ownerMs,
            playableMs,
            heardMs,
            silenceMs: report.longestSilenceMs,
            stallMs: report.stallMs,
            recordingHoleMs,
            recorded: records.length,
          }
        : undefined,
      problems,
    };
  } finally {
    await c.stop();
  }
}

export function clusterFigures(m: ClusterMeasurement): Figure[] {
  const figs: Figure[] = [];
  if (m.joins) {
    figs.push(
      judge({
        id: 'cluster.join_throughput_ratio',
        name: 'join throughput of a node on PostgreSQL + Redis, against the same node on the embedded default',
        value: m.joins.scaledOutRps,
        unit: 'req/s',
        reference: m.joins.embeddedRps,
        ratio: m.joins.ratio,
        goal: { on: 'ratio', op: '>=', target: 0.7 },
        note: `wrk -t1 -c64, ${m.joins.rounds.length} alternating rounds; the same rostrum serve as a fourth node of the running cluster and alone on SQLite, each joining listeners to a live space of its own; the ratio is the median of each round's`,
      }),
    );
  }
  for (const s of m.steps) {
    figs.push(
      judge({
        id: `cluster.origin_per_listener.${s.listeners}`,
        name: `origin requests per listener per second, ${s.listeners} listeners over 2 edges (average)`,
        value: s.originRequestsPerListenerSecond,
        unit: 'req/s',
        reference: s.edgeRequestsPerListenerSecond,
        ratio: s.edgeRequestsPerListenerSecond > 0 ? s.originRequestsPerListenerSecond / s.edgeRequestsPerListenerSecond : null,
        goal: null,
        note: `reference: edge requests per listener per second. ${s.originRequestsPerSecond.toFixed(1)} origin req/s in all, part of it per edge whatever the crowd (the broadcast and the state document, fetched once per edge); ${s.joined} joined, ${s.heardAudio} heard audio, ${s.stalls} stalls; each node's state document counted ${s.counts.join(', ')}`,
      }),
      judge({
        id: `cluster.redis_per_sighting.${s.listeners}`,
        name: `Redis commands per join or heartbeat, ${s.listeners} listeners (average)`,
        value: s.redisCommandsPerSighting,
        unit: '',
        reference: null,
        ratio: null,
        goal: null,
        note: `${s.redisCommands} commands for ${s.sightings} joins and heartbeats: at most two a second per space per node, whatever the crowd`,
      }),
    );
  }
  const first = m.steps[0];
  const last = m.steps.at(-1);
  if (first && last && last !== first) {
    const listeners = last.listeners - first.listeners;
    const perListener = (last.originRequestsPerSecond - first.originRequestsPerSecond) / listeners;
    figs.push(
      judge({
        id: 'cluster.origin_per_added_listener',
        name: `origin requests per second each added listener costs (${first.listeners} → ${last.listeners})`,
        value: perListener,
        unit: 'req/s',
        reference:
          (last.edgeRequestsPerListenerSecond * last.listeners - first.edgeRequestsPerListenerSecond * first.listeners) / listeners,
        ratio: null,
        goal: null,
        note: `reference: edge requests per second each added listener costs. The origin's total went ${first.originRequestsPerSecond.toFixed(1)} → ${last.originRequestsPerSecond.toFixed(1)} req/s: what grows with the crowd is one heartbeat per listener per 55 s. Information: with players, 500 added listeners move the origin's total by ~10 req/s, within what the generator's own stalls (players retrying) move it on this box; the goal is judged on the pages-only series below (1 k → 5 k)`,
      }),
    );
    const sightings = last.sightings - first.sightings;
    figs.push(
      judge({
        id: 'cluster.redis_per_added_sighting',
        name: `Redis commands each added join or heartbeat costs (${first.listeners} → ${last.listeners})`,
        value: sightings > 0 ? (last.redisCommands - first.redisCommands) / sightings : 0,
        unit: '',
        reference: null,
        ratio: null,
        goal: { on: 'value', op: '<=', target: 0.1 },
        note: `${first.redisCommands} → ${last.redisCommands} commands for ${first.sightings} → ${last.sightings} joins and heartbeats (batched once a second per space per node)`,
      }),
    );
  }
  for (const s of m.pageSteps) {
    figs.push(
      judge({
        id: `cluster.pages_origin_${s.listeners}`,
        name: `origin requests per second, ${s.listeners} listeners' pages over 2 edges`,
        value: s.originRequestsPerSecond,
        unit: 'req/s',
        reference: s.edgeRequestsPerListenerSecond * s.listeners,
        ratio: s.originRequestsPerListenerSecond / s.edgeRequestsPerListenerSecond,
        goal: null,
        note: `reference: the edges' requests a second. Pages only (join, the state document each second, a heartbeat each 55 s), no media: the origin's view of a crowd this box cannot also play to; ${s.originRequestsPerListenerSecond.toFixed(4)} origin requests per listener per second; ${s.joined} joined; each node counted ${s.counts.join(', ')}`,
      }),
    );
  }
  const pagesFirst = m.pageSteps[0];
  const pagesLast = m.pageSteps.at(-1);
  if (pagesFirst && pagesLast && pagesLast !== pagesFirst) {
    const added = pagesLast.listeners - pagesFirst.listeners;
    figs.push(
      judge({
        id: 'cluster.pages_origin_per_added_listener',
        name: `origin requests per second each added listener costs (${pagesFirst.listeners} → ${pagesLast.listeners}, pages only)`,
        value: (pagesLast.originRequestsPerSecond - pagesFirst.originRequestsPerSecond) / added,
        unit: 'req/s',
        reference:
          (pagesLast.edgeRequestsPerListenerSecond * pagesLast.listeners -
            pagesFirst.edgeRequestsPerListenerSecond * pagesFirst.listeners) /
          added,
        ratio: null,
        goal: { on: 'value', op: '<=', target: 0.02 },
        note: `reference: edge requests per second each added listener costs. The origin's total: ${m.pageSteps.map((p) => `${p.originRequestsPerSecond.toFixed(1)} at ${p.listeners}`).join(', ')} req/s — flat but for one heartbeat per listener per 55 s`,
      }),
      judge({
        id: 'cluster.pages_origin_per_listener',
        name: `origin requests per listener per second, ${pagesLast.listeners} listeners over 2 edges`,
        value: pagesLast.originRequestsPerListenerSecond,
        unit: 'req/s',
        reference: pagesLast.edgeRequestsPerListenerSecond,
        ratio: pagesLast.originRequestsPerListenerSecond / pagesLast.edgeRequestsPerListenerSecond,
        goal: { on: 'value', op: '<=', target: 0.02 },
        note: 'reference: edge requests per listener per second (pages only: the state document each second, cached at the edge). With players, each edge also fetches each part and playlist once, whatever its crowd (≈ 10 req/s an edge)',
      }),
    );
  }
  if (m.failover) {
    figs.push(
      judge({
        id: 'cluster.failover_gap_heard',
        name: 'kill -9 of the owner → the gap a listener playing across it hears',
        value: (m.failover.silenceMs + m.failover.stallMs) / 1000,
        unit: 's',
        reference: null,
        ratio: null,
        goal: { on: 'value', op: '<=', target: 5 },
        note: `a listener bot playing through the edge from 4 s before the kill: its longest silence ${m.failover.silenceMs} ms (the demo chime rests 800 ms by itself, so this counts high) + its playback stalls ${m.failover.stallMs} ms. ${m.failover.killed} killed; ${m.failover.successor} ran the space after ${(m.failover.ownerMs / 1000).toFixed(1)} s, its playlist had new parts after ${(m.failover.playableMs / 1000).toFixed(1)} s (same URL and numbering, after a discontinuity); the recording kept ${m.failover.recorded} segments with a hole of ${(m.failover.recordingHoleMs / 1000).toFixed(1)} s`,
      }),
      judge({
        id: 'cluster.failover_join_heard',
        name: 'kill -9 of the owner → a listener joining at the same URL hears the speaker',
        value: m.failover.heardMs / 1000,
        unit: 's',
        reference: null,
        ratio: null,
        goal: null,
        note: '1 s listens through the edge until one heard the bot speaker (it rejoins the stage by itself): the value is when that listen began',
      }),
    );
  }
  return figs;
}
