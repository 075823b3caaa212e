/**
 * Hostile input, generated (issue 25, item 9): fast-check drives three targets against a real
 * server, 10,000 inputs each.
 * - The HTTP API, every operation of the OpenAPI document the server serves: path ids valid or not,
 *   any query, bodies mutated from valid ones (fields replaced by any JSON, dropped, added) or any
 *   JSON or text at all, and any of the tokens a caller can hold. No answer is a 5xx; every error is
 *   the documented shape with a registered code. Requests whose token cannot act (none, forged,
 *   expired, another space's) change nothing: the spaces, their state documents and moderation logs
 *   read the same after.
 * - The stage's `/rtc` protocol: any JSON, valid messages mutated, any text, before and after
 *   authentication. The server answers with coded errors or closes the socket, never crashes, and
 *   the stage reads the same after.
 * - SDP offers: real Chromium 156 and Firefox 99 offers (test/fixtures) mutated line by line — lines dropped,
 *   duplicated, swapped, values replaced — through the offer policy (10,000 each) and offered by a
 *   speaker to the server (300 each: each answered one opens a WebRTC session): a coded refusal or an answer,
 *   never a crash or an internal_error; the server stays healthy.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { createToken } from '../src/control/tokens.js';
import { ERRORS, RostrumError } from '../src/errors.js';
import { checkOffer } from '../src/stage/sdp-policy.js';
import { createSpace } from './helpers/fixture.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 25);
/**
 * The real offers mutated, each with its own seeds: Chromium 156's from the web app's stage (four
 * m-lines: the microphone and three receivers), and a Firefox 99 offer as published in a public
 * issue thread (session-level fingerprint, `UDP` in capitals, no candidates: Firefox trickles them),
 * its video section taken out as an audio-only page's offer has none.
 */
const OFFERS: Array<[browser: string, fixture: string, seed: number]> = [
  ['Chromium', 'chromium-156-offer.sdp', 0],
  ['Firefox', 'firefox-99-offer.sdp', 10],
];
/** Offers of each browser through a server: each answered one opens a WebRTC session (fewer, heavier inputs). */
const SERVER_OFFERS = 300;
const CODES = new Set(Object.keys(ERRORS));

let t: TestServer;
let live: string;
let scheduled: string;
let ended: string;

interface Operation {
  method: string;
  path: string;
  body: unknown;
}

let operations: Operation[];

before(async () => {
  // Limits high enough that the fuzz reaches the routes (the limits have tests of their own).
  // No seat keeper: the fixtures' speakers hold their seats without a socket for the whole run.
  t = await startTestServer({
    writeLimit: 1_000_000,
    spaceCreateLimit: 1_000_000,
    reactionLimit: 1_000_000,
    heartbeatLimit: 1_000_000,
    stageGraceMs: 0,
  });
  live = await createSpace(t, { live: true, title: 'Live' });
  scheduled = await createSpace(t, { live: false, title: 'Scheduled' });
  ended = await createSpace(t, { live: true, title: 'Ended' });
  assert.equal((await t.api.post(`/api/spaces/${ended}/end`, { token: t.token(ended, 'h', 'host') })).status, 200);
  for (const who of ['s1', 's2']) {
    assert.equal((await t.api.post(`/api/spaces/${live}/stage`, { token: t.token(live, who, 'speaker') })).status, 200);
  }
  const doc = (await t.api.get('/api/openapi.json')).body as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: p,
      body: validBody(p, method.toUpperCase(), op.requestBody?.content?.['application/json']?.schema),
    })),
  );
  assert.ok(operations.length >= 30, `the document lists the API (${operations.length} operations)`);
});
after(() => t?.close());

/** A body that passes the operation's schema, as a starting point for mutations (fields with examples or simple types). */
function validBody(p: string, method: string, schema: unknown): unknown {
  if (p === '/api/spaces' && method === 'POST') return { title: 'Fuzz', host: { identity: 'fz', name: 'Fuzz' } };
  const s = schema as { type?: string; properties?: Record<string, { type?: string; enum?: unknown[] }>; required?: string[] } | undefined;
  if (s?.type !== 'object' || !s.properties) return undefined;
  const body: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(s.properties)) {
    if (prop.enum) body[key] = prop.enum[0];
    else if (prop.type === 'string') body[key] = 'x';
    else if (prop.type === 'integer' || prop.type === 'number') body[key] = 1;
    else if (prop.type === 'boolean') body[key] = true;
  }
  return body;
}

/** Everything a space's outsiders could have changed: the spaces, their documents and their logs. */
async function snapshot(): Promise<string> {
  const parts: unknown[] = [];
  for (const id of [live, scheduled, ended]) {
    const state = (await t.api.get(`/api/spaces/${id}/state`)).body as Record<string, unknown>;
    // Counters that move by themselves (listeners by the clock) are not state an outsider changed.
    const { listeners: _l, peakListeners: _p, ...rest } = state;
    const log = (await t.api.get(`/api/spaces/${id}/actions?limit=500`, { token: t.token(id, 'h', 'host') })).body;
    parts.push(rest, log);
  }
  // Anyone may join and be counted: the tallies are not state an outsider changed either.
  const { spaces } = (await t.api.get('/api/spaces?limit=200', { token: t.operator })).body as { spaces: Array<Record<string, unknown>> };
  parts.push(spaces.map(({ peakListeners: _p, totalListeners: _t, ...rest }) => rest));
  return JSON.stringify(parts);
}

/** Tokens that can do nothing to these spaces: none, forged, expired, for another space. */
const outsiderToken = fc.constantFrom<() => string | undefined>(
  () => undefined,
  () => `${t.token(live, 'h', 'host').slice(0, -6)}AAAAAA`,
  () => t.token(live, 'h', 'host', { now: Date.now() - 7 * 86_400_000, ttlSeconds: 60 }),
  () => createToken({ ...t.server.credentials, space: 'zzzzzzzzzzzz', identity: 'h', role: 'host' }),
  () => 'not-a-token',
  () => `${'a'.repeat(30)}.${'b'.repeat(30)}.${'c'.repeat(43)}`,
);

const anyJson = fc.jsonValue({ maxDepth: 3 });
const idLike = fc.oneof(
  fc
    .constantFrom(
      () => live,
      () => scheduled,
      () => ended,
    )
    .map((f) => f()),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('..%2f..%2fetc%2fpasswd', '%00', 'a'.repeat(300), '%E0%A4%A', '__proto__', 'constructor'),
);

/** A request: an operation, its path filled, maybe a query, a body (mutated, any JSON, or text). */
const request = fc.record({
  op: fc.integer({ min: 0, max: 1000 }),
  ids: fc.array(idLike, { minLength: 3, maxLength: 3 }),
  query: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }), { nil: undefined }),
  body: fc.oneof(
    fc.constant<'valid'>('valid'),
    fc.record({ replace: fc.string({ maxLength: 10 }), with: anyJson }),
    fc.record({ drop: fc.nat() }),
    anyJson.map((json) => ({ json })),
    fc.string({ maxLength: 200 }).map((text) => ({ text })),
  ),
});

function bodyFor(op: Operation, shape: unknown): { body?: string; type?: string } {
  const s = shape as 'valid' | { replace: string; with: unknown } | { drop: number } | { json: unknown } | { text: string };
  const base = (op.body ?? {}) as Record<string, unknown>;
  if (s === 'valid') return op.body === undefined ? {} : { body: JSON.stringify(base), type: 'application/json' };
  if ('replace' in s) {
    const keys = Object.keys(base);
    const key = keys.length > 0 && s.replace.length % 2 === 0 ? keys[s.replace.length % keys.length]! : s.replace;
    return { body: JSON.stringify({ ...base, [key]: s.with }), type: 'application/json' };
  }
  if ('drop' in s) {
    const keys = Object.keys(base);
    const { [keys[s.drop % Math.max(1, keys.length)] ?? '']: _gone, ...rest } = base;
    return { body: JSON.stringify(rest), type: 'application/json' };
  }
  if ('json' in s) return { body: JSON.stringify(s.json), type: 'application/json' };
  return { body: s.text, type: s.text.length % 3 === 0 ? 'text/plain' : 'application/json' };
}

async function send(
  op: Operation,
  ids: string[],
  query: Record<string, string> | undefined,
  body: { body?: string; type?: string },
  token: string | undefined,
) {
  let i = 0;
  const filled = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(ids[i++ % ids.length]!));
  const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body.type) headers['content-type'] = body.type;
  // Headers within 10 s (a blocking playlist request is held at most three target durations).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  const response = await fetch(`${t.url}${filled}${qs}`, {
    method: op.method,
    headers,
    signal: controller.signal,
    ...(body.body !== undefined && op.method !== 'GET' && op.method !== 'HEAD' ? { body: body.body } : {}),
  });
  clearTimeout(timer);
  const text = await readSome(response);
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, url: `${op.method} ${filled}${qs}` };
}

/** The body, or its first 64 KB: a live stream (/listen/<id>.aac) never ends, and is let go. */
async function readSome(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const deadline = Date.now() + 2000;
  while (bytes < 65_536 && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), deadline - Date.now())),
    ]);
    if (!next || next.done) break;
    chunks.push(next.value);
    bytes += next.value.length;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).toString('utf8');
}

function assertShape(answer: { status: number; type: string; text: string; url: string }, body: string | undefined): void {
  assert.ok(answer.status < 500, `${answer.url} with ${body?.slice(0, 200)} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  if (answer.status >= 400 && answer.type.includes('json')) {
    const error = (JSON.parse(answer.text) as { error?: { code?: string; message?: string } }).error;
    assert.ok(error && CODES.has(error.code ?? '') && typeof error.message === 'string', `${answer.url}: ${answer.text.slice(0, 300)}`);
  }
}

describe('fuzzing', { timeout: 600_000 }, () => {
  test(`the HTTP API: ${RUNS} requests from outsiders — no 5xx, every error coded, nothing changed`, async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(request, outsiderToken, async (r, token) => {
        const op = operations[r.op % operations.length]!;
        const body = bodyFor(op, r.body);
        assertShape(await send(op, r.ids, r.query, body, token()), body.body);
      }),
      { numRuns: RUNS, seed: SEED, includeErrorInReport: true },
    );
    assert.equal(await snapshot(), before, 'requests that could not act changed nothing');
  });

  test(`the HTTP API: ${RUNS / 2} requests with the tokens of every role — no 5xx, every error coded`, async () => {
    const insiderToken = fc.constantFrom<() => string>(
      () => t.operator,
      () => t.token(live, 'h', 'host'),
      () => t.token(live, 's1', 'speaker'),
      () => t.token(live, 'l1', 'listener'),
      () => t.token(scheduled, 'h', 'host'),
      () => t.token(ended, 'h', 'host'),
    );
    await fc.assert(
      fc.asyncProperty(request, insiderToken, async (r, token) => {
        const op = operations[r.op % operations.length]!;
        // Ending or deleting the fixtures would end the run's other inputs early: they are exercised above.
        if (/\/end$|^DELETE \/api\/spaces\/\{id\}$/.test(`${op.method} ${op.path}`) && r.ids[0] === live) return;
        const body = bodyFor(op, r.body);
        assertShape(await send(op, r.ids, r.query, body, token()), body.body);
      }),
      { numRuns: RUNS / 2, seed: SEED + 1, includeErrorInReport: true },
    );
    assert.equal((await t.api.get('/healthz')).status, 200);
  });

  test(`the /rtc protocol: ${RUNS} messages — coded errors or a closed socket, never a crash, the stage unchanged`, async () => {
    const stageOf = async () => JSON.stringify(((await t.api.get(`/api/spaces/${live}/state`)).body as { stage: unknown }).stage);
    const stageBefore = await stageOf();
    let socket: { ws: WebSocket; authed: boolean } | undefined;
    const open = async (auth: string | undefined): Promise<{ ws: WebSocket; authed: boolean }> => {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/rtc`);
      ws.on('error', () => {});
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; error?: { code: string } };
        if (m.type === 'error') assert.ok(CODES.has(m.error?.code ?? ''), String(data));
      });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      if (auth) ws.send(JSON.stringify({ type: 'auth', token: auth }));
      return { ws, authed: auth !== undefined };
    };
    const message = fc.oneof(
      anyJson.map((j) => JSON.stringify(j)),
      fc.string({ maxLength: 300 }),
      fc
        .record({ type: fc.constantFrom('auth', 'ping', 'offer', 'candidate', 'mute', 'welcome'), extra: anyJson })
        .map(({ type, extra }) =>
          JSON.stringify({ type, ...(typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? extra : { value: extra }) }),
        ),
      fc
        .record({ candidate: fc.string({ maxLength: 120 }), mid: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()) })
        .map((c) => JSON.stringify({ type: 'candidate', candidate: `candidate:${c.candidate}`, sdpMid: c.mid, sdpMLineIndex: 0 })),
    );
    await fc.assert(
      fc.asyncProperty(message, fc.boolean(), async (text, authed) => {
        if (!socket || socket.ws.readyState !== WebSocket.OPEN || socket.authed !== authed) {
          socket?.ws.terminate();
          socket = await open(authed ? t.token(live, 's2', 'speaker') : undefined);
        }
        socket.ws.send(text);
      }),
      { numRuns: RUNS, seed: SEED + 2, includeErrorInReport: true },
    );
    socket?.ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await t.api.get('/healthz')).status, 200);
    assert.equal(await stageOf(), stageBefore, 'the stage reads the same');
  });

  for (const [browser, fixture, seed] of OFFERS) {
    test(`SDP offers: a real ${browser} offer mutated line by line — ${RUNS} through the offer policy, ${SERVER_OFFERS} through a server: a coded refusal or an answer, never a crash`, async (context) => {
      const offer = fs.readFileSync(path.join(ROOT, 'test/fixtures', fixture), 'utf8');
      const identity = `sdp-${browser.toLowerCase()}`;
      const lines = offer.split('\r\n').filter(Boolean);
      const mutation = fc.array(
        fc.oneof(
          fc.record({ drop: fc.nat() }),
          fc.record({ dup: fc.nat() }),
          fc.record({ swap: fc.tuple(fc.nat(), fc.nat()) }),
          fc.record({ at: fc.nat(), value: fc.string({ maxLength: 60 }) }),
          fc.record({ at: fc.nat(), number: fc.oneof(fc.integer(), fc.constant(2 ** 40), fc.constant(-1)) }),
        ),
        { minLength: 1, maxLength: 4 },
      );
      const mutate = (steps: Array<Record<string, unknown>>): string => {
        const l = [...lines];
        for (const step of steps) {
          const n = l.length;
          if (n === 0) break;
          if ('drop' in step) l.splice((step.drop as number) % n, 1);
          else if ('dup' in step) l.splice((step.dup as number) % n, 0, l[(step.dup as number) % n]!);
          else if ('swap' in step) {
            const [a, b] = (step.swap as [number, number]).map((i) => i % n) as [number, number];
            [l[a], l[b]] = [l[b]!, l[a]!];
          } else if ('value' in step) {
            const i = (step.at as number) % n;
            l[i] = `${l[i]!.split(/[:= ]/)[0]}:${step.value as string}`;
          } else {
            const i = (step.at as number) % n;
            l[i] = l[i]!.replace(/\d+/, String(step.number));
          }
        }
        return `${l.join('\r\n')}\r\n`;
      };
      // The offer policy alone, in process: every mutation passes or is a coded validation_failed.
      fc.assert(
        fc.property(mutation, (steps) => {
          try {
            checkOffer(mutate(steps));
          } catch (err) {
            assert.ok(err instanceof RostrumError && err.code === 'validation_failed', String(err));
          }
        }),
        { numRuns: RUNS, seed: SEED + 4 + seed, includeErrorInReport: true },
      );
      // A speaker's socket, opened again whenever the server closed it (its message limit, a refusal).
      let socket: { ws: WebSocket; replies: Array<{ type: string; error?: { code: string } }> } | undefined;
      const speaker = async () => {
        if (socket?.ws.readyState === WebSocket.OPEN) return socket;
        const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/rtc`);
        const replies: Array<{ type: string; error?: { code: string } }> = [];
        ws.on('message', (data) => replies.push(JSON.parse(String(data))));
        ws.on('error', () => {});
        await new Promise((resolve) => ws.once('open', resolve));
        ws.send(JSON.stringify({ type: 'auth', token: t.token(live, identity, 'speaker') }));
        while (!replies.some((m) => m.type === 'welcome')) {
          assert.ok(ws.readyState === WebSocket.OPEN, `welcomed: ${JSON.stringify(replies)}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        socket = { ws, replies };
        return socket;
      };
      // A speaker of its own, on stage now (the fuzz before may have moved the fixtures' speakers).
      const seated = await t.api.post(`/api/spaces/${live}/stage`, { token: t.token(live, identity, 'speaker') });
      assert.equal(seated.status, 200, JSON.stringify(seated.body));
      const runs = SERVER_OFFERS;
      let answered = 0;
      let closed = 0;
      const refusals = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(mutation, async (steps) => {
          // Offered again after a pause while the socket's message limit (20 a second) refuses it.
          let got: { type: string; error?: { code: string } } | undefined;
          for (let attempt = 0; attempt < 50; attempt++) {
            const { ws, replies } = await speaker();
            const before = replies.length;
            ws.send(JSON.stringify({ type: 'offer', sdp: mutate(steps) }));
            const deadline = Date.now() + 10_000;
            const reply = () => replies.slice(before).find((m) => m.type === 'answer' || m.type === 'error');
            while (!reply() && ws.readyState === WebSocket.OPEN) {
              assert.ok(Date.now() < deadline, 'every offer is answered, refused, or its socket closed');
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
            got = reply();
            if (got?.error?.code !== 'rate_limited') break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          if (!got) closed++;
          else if (got.type === 'answer') answered++;
          else {
            assert.ok(CODES.has(got.error?.code ?? '') && got.error?.code !== 'internal_error', JSON.stringify(got));
            refusals.set(got.error!.code, (refusals.get(got.error!.code) ?? 0) + 1);
          }
        }),
        { numRuns: runs, seed: SEED + 3 + seed, includeErrorInReport: true },
      );
      socket?.ws.close();
      assert.ok(closed < runs / 2, `most offers are answered or refused on an open socket (${closed} of ${runs} closed)`);
      const seen = JSON.stringify(Object.fromEntries(refusals));
      context.diagnostic(`${answered} of ${runs} offers answered, ${closed} sockets closed; refused: ${seen}`);
      assert.ok(
        answered > 0 && answered < runs,
        `some mutations still make a valid offer, some do not (${answered} of ${runs} answered; refused: ${seen})`,
      );
      assert.equal((await t.api.get('/healthz')).status, 200);
    });
  }
});
