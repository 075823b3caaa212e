/**
 * The edge tier, shipped and tested: two real nginx edges, each running deploy/nginx/edge.conf as
 * shipped (only the origin, the port and the cache/temp directories replaced), in front of one live
 * Rostrum. At the same time, 20 simulated LL-HLS listeners play through one edge and 200 through the
 * other for 30 s. Each listener behaves like a player: the live playlist, the init segment and the
 * latest whole segment, then for every part a blocking reload (`?_HLS_msn=M&_HLS_part=P`) followed
 * by the part itself. From each edge's access log: how many requests reached the origin per object.
 * Request collapsing means every object and every blocking-reload URL went to the origin at most once
 * per edge, however many listeners asked, so 200 listeners cost the origin what 20 do.
 *
 * One exception, by design: the live playlist without a query (max-age=1) is fetched again once its
 * second is up, and requests arriving during that refresh go to the origin too (edge.conf does not
 * serve playlists stale while updating; the second test shows why). Listeners ask for it to tune in.
 * The crowds run in worker threads, so that they do not starve the origin's event loop.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createSpace } from './helpers/fixture.js';
import { type EdgeLogLine, type NginxEdge, startEdge } from './helpers/nginx.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';

const RUN_MS = 30_000;
/** Listeners start spread over this long, as a crowd arrives. */
const RAMP_MS = 2_000;
const PART_S = 0.256;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const PART_RE = /#EXT-X-PART:[^\n]*URI="(\d+)\.(\d+)\.m4s"/g;
const HINT_RE = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"/;
const MAP_RE = /#EXT-X-MAP:URI="([^"]+)"/g;
const SEGMENT_RE = /^(\d+\.m4s)$/gm;

interface ListenerStats {
  requests: number;
  parts: number;
  errors: Record<string, number>;
  /** Every response carried X-Cache-Status. */
  cacheHeader: boolean;
}

/** One simulated LL-HLS player, until `until` (epoch ms); it finishes the request in flight, then stops. */
async function listen(base: string, id: string, until: number, stats: ListenerStats): Promise<void> {
  const get = async (file: string): Promise<string | undefined> => {
    stats.requests++;
    try {
      const response = await fetch(`${base}/hls/${id}/${file}`, { signal: AbortSignal.timeout(10_000) });
      const body = Buffer.from(await response.arrayBuffer());
      if (!response.headers.get('x-cache-status')) stats.cacheHeader = false;
      if (response.status !== 200) {
        stats.errors[`HTTP ${response.status}`] = (stats.errors[`HTTP ${response.status}`] ?? 0) + 1;
        return undefined;
      }
      return file.includes('.m3u8') ? body.toString('utf8') : '';
    } catch (err) {
      const name = (err as Error).name;
      stats.errors[name] = (stats.errors[name] ?? 0) + 1;
      return undefined;
    }
  };
  const hintOf = (text: string): [number, number] | undefined => {
    const hint = HINT_RE.exec(text);
    return hint ? [Number(hint[1]), Number(hint[2])] : undefined;
  };
  const mapOf = (text: string): string | undefined => [...text.matchAll(MAP_RE)].at(-1)?.[1];

  let next: [number, number] | undefined;
  let init: string | undefined;
  while (Date.now() < until) {
    if (!next) {
      // Tune in: the live playlist, its init segment, the latest whole segment; then follow the parts.
      const text = await get('index.m3u8');
      if (text === undefined) {
        await sleep(250);
        continue;
      }
      init = mapOf(text);
      if (init) await get(init);
      const segment = [...text.matchAll(SEGMENT_RE)].at(-1)?.[1];
      if (segment) await get(segment);
      next = hintOf(text);
      continue;
    }
    const [msn, part] = next;
    const text = await get(`index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
    if (text === undefined) {
      next = undefined;
      await sleep(250);
      continue;
    }
    const map = mapOf(text);
    if (map && map !== init) {
      init = map;
      await get(map);
    }
    const parts = [...text.matchAll(PART_RE)].map((m): [number, number] => [Number(m[1]), Number(m[2])]);
    const at = parts.findIndex(([m, p]) => m === msn && p === part);
    if (at < 0) {
      stats.errors.unlisted = (stats.errors.unlisted ?? 0) + 1;
      next = undefined;
      continue;
    }
    if ((await get(`${msn}.${part}.m4s`)) !== undefined) stats.parts++;
    next = parts[at + 1] ?? hintOf(text);
  }
}

async function crowd(base: string, id: string, listeners: number, startAt: number): Promise<ListenerStats[]> {
  const until = startAt + RUN_MS;
  return Promise.all(
    Array.from({ length: listeners }, async (_, i) => {
      const stats: ListenerStats = { requests: 0, parts: 0, errors: {}, cacheHeader: true };
      await sleep(startAt + (i * RAMP_MS) / listeners - Date.now());
      await listen(base, id, until, stats);
      return stats;
    }),
  );
}

interface CrowdJob {
  base: string;
  id: string;
  listeners: number;
}

/**
 * A crowd plays in a worker thread (this file, see the end), so that it does not take the event loop
 * from the origin, which mixes and packages the broadcast in this process. Resolves once the worker
 * has loaded; `run(startAt)` then plays and resolves with each listener's stats.
 */
async function crowdWorker(job: CrowdJob): Promise<{ run(startAt: number): Promise<ListenerStats[]> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { crowd: job } });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`crowd worker exited with ${code}`)));
  });
  failed.catch(() => {});
  await Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]);
  return {
    run: async (startAt) => {
      worker.postMessage(startAt);
      const stats = await Promise.race([new Promise<ListenerStats[]>((resolve) => worker.once('message', resolve)), failed]);
      await worker.terminate();
      return stats;
    },
  };
}

type Kind = 'live playlist' | 'blocking reload' | 'part' | 'segment' | 'init' | 'other';

function kindOf(file: string): Kind {
  if (file === 'index.m3u8') return 'live playlist';
  if (file.startsWith('index.m3u8?')) return 'blocking reload';
  if (/^\d+\.\d+\.m4s$/.test(file)) return 'part';
  if (/^\d+\.m4s$/.test(file)) return 'segment';
  if (/^init-\d+\.mp4$/.test(file)) return 'init';
  return 'other';
}

interface EdgeSummary {
  listeners: number;
  clientRequests: number;
  originRequests: number;
  objects: number;
  maxOriginPerObject: number;
  blockingUrls: number;
  maxOriginPerBlockingUrl: number;
  livePlaylistOrigin: number;
  /** Seconds from the first listener's tune-in request for the live playlist to the last one's. */
  tuneInSpreadS: number;
  /**
   * The live playlist's refreshes at the origin: its origin fetches, those that started while an
   * earlier one was still in flight counted with it (requests arriving during a refresh go too).
   */
  livePlaylistRefreshes: number;
  /** Client requests answered from the cache after waiting on the cache lock (a HIT that took ≥ 0.4 s). */
  lockWaits: number;
  /** How much later than the first listener at this edge the others got each part (after the ramp). */
  partLateP50Ms: number;
  partLateP95Ms: number;
  cacheStatus: Record<string, number>;
  byKind: Record<string, { client: number; origin: number }>;
}

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

type Summary = EdgeSummary & { perUri: Map<string, number> };

/** How far apart the earliest and latest of `times` are. */
function spread(times: number[]): number {
  return times.length === 0 ? 0 : Math.max(...times) - Math.min(...times);
}

/** Origin fetches grouped by overlap: a fetch that started before the current group's first one ended joins it. */
function refreshes(fetches: EdgeLogLine[]): number {
  // nginx logs a request when it ends ($msec); it started $request_time before.
  const spans = fetches.map((l) => ({ start: l.time - l.requestTime, end: l.time })).sort((x, y) => x.start - y.start);
  let count = 0;
  let inFlightUntil = Number.NEGATIVE_INFINITY;
  for (const { start, end } of spans) {
    if (start <= inFlightUntil) continue;
    count++;
    inFlightUntil = end;
  }
  return count;
}

/** `steadyFrom`: epoch ms from which every listener is playing (for the lateness figures). */
function summarise(lines: EdgeLogLine[], id: string, listeners: number, steadyFrom: number): Summary {
  const prefix = `/hls/${id}/`;
  const hls = lines.filter((l) => l.uri.startsWith(prefix));
  const livePlaylist = hls.filter((l) => l.uri === `${prefix}index.m3u8`);
  const perUri = new Map<string, number>();
  const byKind: EdgeSummary['byKind'] = {};
  const cacheStatus: Record<string, number> = {};
  const clients = new Set<string>();
  for (const line of hls) {
    const file = line.uri.slice(prefix.length);
    const kind = kindOf(file);
    byKind[kind] ??= { client: 0, origin: 0 };
    const entry = byKind[kind];
    const fresh = !clients.has(line.connection); // a background subrequest repeats its request's connection/number
    if (fresh) {
      clients.add(line.connection);
      entry.client++;
    }
    cacheStatus[line.cacheStatus] = (cacheStatus[line.cacheStatus] ?? 0) + 1;
    perUri.set(line.uri, (perUri.get(line.uri) ?? 0) + (line.upstreamAddr !== '-' ? 1 : 0));
    if (line.upstreamAddr !== '-') entry.origin++;
  }
  const fileOf = (uri: string) => uri.slice(prefix.length);
  const media = [...perUri].filter(([uri]) => ['part', 'segment', 'init'].includes(kindOf(fileOf(uri))));
  const blocking = [...perUri].filter(([uri]) => kindOf(fileOf(uri)) === 'blocking reload');
  const partLines = hls.filter((l) => kindOf(fileOf(l.uri)) === 'part');
  const firstServed = new Map<string, number>();
  for (const l of partLines) firstServed.set(l.uri, Math.min(l.time, firstServed.get(l.uri) ?? Number.POSITIVE_INFINITY));
  const late = partLines.filter((l) => l.time * 1000 >= steadyFrom).map((l) => (l.time - firstServed.get(l.uri)!) * 1000);
  return {
    listeners,
    clientRequests: clients.size,
    originRequests: hls.filter((l) => l.upstreamAddr !== '-').length,
    objects: media.length,
    maxOriginPerObject: Math.max(0, ...media.map(([, n]) => n)),
    blockingUrls: blocking.length,
    maxOriginPerBlockingUrl: Math.max(0, ...blocking.map(([, n]) => n)),
    livePlaylistOrigin: perUri.get(`${prefix}index.m3u8`) ?? 0,
    tuneInSpreadS: spread(livePlaylist.map((l) => l.time)),
    livePlaylistRefreshes: refreshes(livePlaylist.filter((l) => l.upstreamAddr !== '-')),
    lockWaits: hls.filter((l) => l.cacheStatus === 'HIT' && l.requestTime >= 0.4).length,
    partLateP50Ms: quantile(late, 0.5),
    partLateP95Ms: quantile(late, 0.95),
    cacheStatus,
    byKind,
    perUri,
  };
}

async function seat(t: TestServer, id: string, who: string, toneHz: number): Promise<SpeakerBot> {
  const token = t.token(id, who, 'speaker');
  assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
  return SpeakerBot.join({ server: t.url, token, toneHz });
}

if (isMainThread) describeEdge();
else if (workerData?.crowd) {
  const job = workerData.crowd as CrowdJob;
  parentPort!.once('message', (startAt: number) => {
    crowd(job.base, job.id, job.listeners, startAt).then((stats) => parentPort!.postMessage(stats));
  });
  parentPort!.postMessage('ready');
}

function describeEdge(): void {
  describe('the nginx edge (deploy/nginx/edge.conf)', () => {
    let t: TestServer;
    let id: string;
    let speaker: SpeakerBot | undefined;
    let small: NginxEdge;
    let large: NginxEdge;
    /** /hls/ requests that reached the origin, counted by the origin itself, and those still in flight. */
    const atOrigin = { total: 0, inFlight: 0, counting: false };

    before(async () => {
      t = await startTestServer();
      id = await createSpace(t, { live: true, title: 'Edge test' });
      const origin = new URL(t.url).host;
      [speaker, small, large] = await Promise.all([seat(t, id, 's', 440), startEdge(origin), startEdge(origin)]);
      // The broadcast is on air once the live playlist lists a few parts.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const text = await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text();
        if ((text.match(PART_RE) ?? []).length >= 4) break;
        await sleep(100);
      }
      t.server.app.server.on('request', (request: IncomingMessage, response) => {
        if (!atOrigin.counting || !request.url?.startsWith('/hls/')) return;
        atOrigin.total++;
        atOrigin.inFlight++;
        response.once('close', () => atOrigin.inFlight--);
      });
    });
    after(async () => {
      await Promise.all([small?.stop(), large?.stop()]);
      await speaker?.close();
      await t?.close();
    });

    test('20 and 200 LL-HLS listeners at once: every object and blocking reload reaches the origin at most once per edge', async (ctx) => {
      const workers = await Promise.all([
        crowdWorker({ base: small.url, id, listeners: 20 }),
        crowdWorker({ base: large.url, id, listeners: 200 }),
      ]);
      atOrigin.counting = true;
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const startAt = Date.now() + 100;
      const [few, many] = (await Promise.all(workers.map((w) => w.run(startAt)))) as [ListenerStats[], ListenerStats[]];
      // Every request has been answered; wait for the origin to finish and nginx to log the last lines.
      const originLines = () =>
        [small, large].reduce((sum, edge) => sum + edge.log().filter((l) => l.uri.startsWith('/hls/') && l.upstreamAddr !== '-').length, 0);
      const settle = Date.now() + 8000;
      while ((atOrigin.inFlight > 0 || originLines() < atOrigin.total) && Date.now() < settle) await sleep(50);
      atOrigin.counting = false;

      loop.disable();
      const a = summarise(small.log(), id, 20, startAt + RAMP_MS + 1000);
      const b = summarise(large.log(), id, 200, startAt + RAMP_MS + 1000);
      const cells = (s: EdgeSummary) => [
        s.listeners,
        s.clientRequests,
        s.originRequests,
        s.objects,
        s.maxOriginPerObject,
        s.blockingUrls,
        s.maxOriginPerBlockingUrl,
        s.livePlaylistOrigin,
        `${((100 * s.lockWaits) / s.clientRequests).toFixed(0)} %`,
        `${s.partLateP50Ms.toFixed(0)}/${s.partLateP95Ms.toFixed(0)} ms`,
      ];
      const header = [
        'listeners',
        'client',
        'origin',
        'objects',
        'max/obj',
        'blk URLs',
        'max/URL',
        'live pl.',
        'lock wait',
        'late p50/p95',
      ];
      const row = (values: unknown[]) => values.map((v) => String(v).padStart(10)).join(' ');
      const table = [
        `edge request collapsing: ${RUN_MS / 1000} s, both crowds at once, one edge each; "origin" = requests that reached Rostrum`,
        row(header),
        row(cells(a)),
        row(cells(b)),
        'client/origin: requests at the edge / sent on to Rostrum; objects: parts, segments, init segments; max/obj, max/URL: most',
        'origin fetches of one object / of one blocking-reload URL; live pl.: origin fetches of the live playlist; lock wait: client',
        'requests that waited ≥ 0.4 s on the cache lock; late: how long after the first listener at the edge the others got a part',
        `origin ${(b.originRequests / a.originRequests).toFixed(2)}× for ${(b.clientRequests / a.clientRequests).toFixed(1)}× the client requests`,
        `by kind (client/origin), 20: ${JSON.stringify(a.byKind)}`,
        `by kind (client/origin), 200: ${JSON.stringify(b.byKind)}`,
        `cache status, 20: ${JSON.stringify(a.cacheStatus)}; 200: ${JSON.stringify(b.cacheStatus)}`,
        `origin's event loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms`,
      ];
      for (const line of table) ctx.diagnostic(line);
      const resultsFile = process.env.ROSTRUM_EDGE_RESULTS; // e.g. bench/results/edge-collapsing.json
      if (resultsFile) {
        const strip = ({ perUri: _, ...rest }: Summary) => rest;
        const json = { runSeconds: RUN_MS / 1000, edges: [strip(a), strip(b)] };
        fs.writeFileSync(path.resolve(ROOT, resultsFile), `${JSON.stringify(json, null, 2)}\n`);
      }

      // The players played: no errors, parts all along, X-Cache-Status on every response.
      const expectedParts = ((RUN_MS - RAMP_MS) / 1000 / PART_S) * 0.75;
      for (const [s, stats] of [
        [a, few],
        [b, many],
      ] as const) {
        const errors = stats.filter((l) => Object.keys(l.errors).length > 0).map((l) => l.errors);
        assert.deepEqual(errors, [], `${s.listeners} listeners: no errors`);
        const fewest = Math.min(...stats.map((l) => l.parts));
        assert.ok(fewest >= expectedParts, `${s.listeners} listeners: each played ≥ ${expectedParts.toFixed(0)} parts (${fewest})`);
        assert.ok(
          stats.every((l) => l.cacheHeader),
          'every response carries X-Cache-Status',
        );
        const sent = stats.reduce((sum, l) => sum + l.requests, 0);
        assert.equal(s.clientRequests, sent, `${s.listeners} listeners: the access log holds every request they sent`);
      }
      // The access logs account for every request the origin saw.
      assert.equal(a.originRequests + b.originRequests, atOrigin.total, 'origin requests in the logs = /hls/ requests at the origin');

      for (const s of [a, b]) {
        const twice = [...s.perUri].filter(([uri, n]) => n > 1 && kindOf(uri.slice(`/hls/${id}/`.length)) !== 'live playlist');
        assert.deepEqual(twice, [], `${s.listeners} listeners: no object and no blocking reload went to the origin twice`);
        assert.equal(s.maxOriginPerObject, 1);
        assert.equal(s.maxOriginPerBlockingUrl, 1);
        assert.ok(s.objects >= 100, `${s.listeners} listeners: 30 s of parts were played (${s.objects} objects)`);
        // The exception: the live playlist (max-age=1) is fetched again once its second is up, and the
        // requests arriving during that refresh go to the origin too. Listeners ask for it to tune in.
        // nginx keeps it until the next whole second (its expiry has a second's granularity), so the
        // tune-ins see at most one refresh per second boundary they span, plus the first miss. How many
        // requests ride along with a refresh depends on how long the origin takes to answer, not on a rule.
        const tuneInS = Math.max(RAMP_MS / 1000, s.tuneInSpreadS);
        assert.ok(
          s.livePlaylistRefreshes <= Math.ceil(tuneInS) + 2,
          `live playlist refreshed at the origin ${s.livePlaylistRefreshes} times (${s.livePlaylistOrigin} fetches; tune-ins over ${s.tuneInSpreadS.toFixed(1)} s)`,
        );
      }
      assert.ok(
        b.clientRequests >= 8 * a.clientRequests,
        `10× the listeners, ~10× the requests (${b.clientRequests} vs ${a.clientRequests})`,
      );
      assert.ok(b.originRequests <= 1.5 * a.originRequests, `about the same origin requests (${b.originRequests} vs ${a.originRequests})`);
    });

    test('through the edge: a live playlist is never old, its _HLS_ query is in the key and nothing else is, 404s are not kept, the state document is cached and writes are not, text is compressed, /rtc upgrades', async () => {
      // Last fetched through this edge ~30 s ago: the edge must not answer with that copy.
      const hintAt = async (base: string) =>
        HINT_RE.exec(await (await fetch(`${base}/hls/${id}/index.m3u8`)).text())!
          .slice(1)
          .map(Number);
      const [msn, part] = (await hintAt(small.url)) as [number, number];
      const [liveMsn, livePart] = (await hintAt(t.url)) as [number, number];
      const behind = (liveMsn - msn) * 8 + (livePart - part);
      // max-age=1 allows up to four parts (1.024 s), plus one produced between the two fetches.
      assert.ok(behind <= 5, `the edge's live playlist is current (${behind} parts behind the origin's)`);
      const blocking = `${small.url}/hls/${id}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`;
      const first = await fetch(blocking);
      await first.text();
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-cache-status'), 'MISS');
      assert.equal(first.headers.get('cache-control'), 'public, max-age=6', "the origin's Cache-Control passes through");
      const again = await fetch(blocking);
      assert.equal(again.headers.get('x-cache-status'), 'HIT');
      assert.equal(await again.text(), await (await fetch(blocking)).text());
      const other = await fetch(`${small.url}/hls/${id}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}&_HLS_skip=NO`);
      await other.text();
      assert.equal(other.headers.get('x-cache-status'), 'MISS', 'another _HLS_ query is another cache entry');
      // A CDN's token or a cache-buster names no other object: the same entry, never another origin fetch.
      for (const junk of ['token=abc', 'cb=1', 'cb=2']) {
        const decorated = await fetch(`${blocking}&${junk}`);
        await decorated.text();
        assert.equal(decorated.status, 200);
        assert.equal(decorated.headers.get('x-cache-status'), 'HIT', `?${junk} is the same cache entry`);
      }

      // A part already out (the last one listed): the hinted one would block at the origin until it
      // exists, and a repeat fetch racing nginx's write of that first answer into its cache is a MISS.
      const listed = [...(await (await fetch(`${t.url}/hls/${id}/index.m3u8`)).text()).matchAll(PART_RE)].at(-1)!;
      const partUrl = `${small.url}/hls/${id}/${listed[1]}.${listed[2]}.m4s`;
      await (await fetch(partUrl)).arrayBuffer();
      const cached = await fetch(partUrl);
      await cached.arrayBuffer();
      assert.equal(cached.headers.get('x-cache-status'), 'HIT');
      assert.equal(cached.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.equal(cached.headers.get('access-control-allow-origin'), '*');

      const gzipped = await fetch(`${small.url}/hls/${id}/index.m3u8`, { headers: { 'accept-encoding': 'gzip' } });
      await gzipped.text();
      assert.equal(gzipped.headers.get('content-encoding'), 'gzip', 'playlists are compressed at the edge');
      // Scripts pass through uncached, compressed once by the origin as the client asked.
      const page = await (await fetch(`${small.url}/s/${id}`)).text();
      const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(page)?.[1];
      assert.ok(script, 'the page names its script');
      for (const coding of ['br', 'gzip']) {
        const js = await fetch(`${small.url}${script}`, { headers: { 'accept-encoding': coding } });
        await js.arrayBuffer();
        assert.equal(js.headers.get('content-encoding'), coding, `the page's script goes out as ${coding}`);
      }

      for (let i = 0; i < 2; i++) {
        const missing = await fetch(`${small.url}/hls/${id}/999999.m4s`);
        await missing.text();
        assert.equal(missing.status, 404);
        assert.equal(missing.headers.get('x-cache-status'), 'MISS', 'a 404 (no-store) is not kept');
      }

      // The state document every listener polls: one origin fetch a second per edge, 304s from the edge.
      const stateUrl = `${small.url}/api/spaces/${id}/state`;
      const state = await fetch(stateUrl);
      await state.text();
      assert.equal(state.status, 200);
      assert.match(
        state.headers.get('x-cache-status') ?? '',
        /^(MISS|HIT|EXPIRED|REVALIDATED|UPDATING|STALE)$/,
        'the state document is cached',
      );
      const repeat = await fetch(stateUrl, { headers: { 'if-none-match': state.headers.get('etag') ?? '' } });
      await repeat.text();
      assert.equal(repeat.status, 304, 'a matching ETag is answered 304');
      // The origin (in this process) was just under the listeners' load: a join may be shed for a
      // moment (503 + Retry-After), and a client then comes back, as ours do.
      let joined = await fetch(`${small.url}/api/spaces/${id}/join`, { method: 'POST' });
      for (let retry = 0; joined.status === 503 && retry < 5; retry++) {
        await joined.text();
        await new Promise((resolve) => setTimeout(resolve, Number(joined.headers.get('retry-after') ?? 1) * 1000));
        joined = await fetch(`${small.url}/api/spaces/${id}/join`, { method: 'POST' });
      }
      const body = await joined.text();
      assert.equal(joined.status, 200, `POSTs pass: ${body}`);
      assert.equal(joined.headers.get('x-cache-status'), null);

      const socket = new WebSocket(`ws://127.0.0.1:${small.port}/rtc`);
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      socket.close();
    });
  });
}
