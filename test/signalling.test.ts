/**
 * The stage signalling socket (`/rtc`) over a real WebSocket: who may open one, the pushes of stage
 * events, and bad input — malformed JSON, unknown messages, oversized messages, floods — answered
 * with coded errors while the server stays healthy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RTCPeerConnection } from 'werift';
import WebSocket from 'ws';
import { rtcConfig } from '../src/stage/rtc-config.js';
import { type StageFixture, stageFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Client {
  ws: WebSocket;
  messages: any[];
  /** Resolves with the first message (already received or to come) that matches. */
  next(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  send(value: unknown): void;
}

async function connect(t: TestServer, auth?: Record<string, unknown>): Promise<Client> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/rtc`);
  const messages: any[] = [];
  const waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const client: Client = {
    ws,
    messages,
    closed,
    send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
    next: (match, timeoutMs = 3000) =>
      new Promise((resolve, reject) => {
        const found = messages.find(match);
        if (found) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`no matching message; got ${JSON.stringify(messages)}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      }),
  };
  if (auth) client.send({ type: 'auth', ...auth });
  return client;
}

const errorCode = (code: string) => (m: any) => m.type === 'error' && m.error.code === code;

describe('stage signalling socket', () => {
  let t: TestServer;
  let fx: StageFixture;
  const clients: Client[] = [];
  const open = async (auth?: Record<string, unknown>) => {
    const c = await connect(t, auth);
    clients.push(c);
    return c;
  };

  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await t.close();
  });

  test('a speaker is welcomed with the stage, and hears of a mute by the host at once', async () => {
    fx = await stageFixture(t, { live: true });
    const speaker = await open({ token: fx.tokens.speaker });
    const welcome = await speaker.next((m) => m.type === 'welcome');
    assert.equal(welcome.identity, 's');
    assert.equal(welcome.role, 'speaker');
    assert.deepEqual(
      welcome.stage.map((m: any) => m.identity),
      ['h', 'c', 's', 's2'],
    );

    await t.api.post(`/api/spaces/${fx.id}/participants/h/mute`, { token: fx.tokens.host });

    const muted = await speaker.next((m) => m.type === 'muted');
    assert.deepEqual(muted, { type: 'muted', identity: 'h', by: 'h' });
    const stage = await speaker.next((m) => m.type === 'stage' && m.stage[0].muted);
    assert.equal(stage.stage[0].identity, 'h');
  });

  test('moderators hear of new requests to speak; the asker hears the outcome and is closed when declined', async () => {
    const f = await stageFixture(t, { live: true });
    const host = await open({ token: f.tokens.host });
    await host.next((m) => m.type === 'welcome');
    const asker = t.token(f.id, 'asker', 'listener');
    await t.api.post(`/api/spaces/${f.id}/requests`, { token: asker });
    assert.deepEqual(await host.next((m) => m.type === 'request'), { type: 'request', identity: 'asker', name: 'asker' });

    const waiting = await open({ token: asker });
    assert.equal((await waiting.next((m) => m.type === 'welcome')).role, 'listener');
    await t.api.post(`/api/spaces/${f.id}/participants/asker/decline`, { token: f.tokens.host });
    assert.equal((await waiting.next((m) => m.type === 'request_resolved')).outcome, 'declined');
    assert.equal((await waiting.closed).code, 1000);
  });

  test('a removed speaker is told and disconnected; a new socket for it is refused', async () => {
    const f = await stageFixture(t, { live: true });
    const speaker = await open({ token: f.tokens.speaker });
    await speaker.next((m) => m.type === 'welcome');

    await t.api.post(`/api/spaces/${f.id}/participants/s/remove`, { token: f.tokens.host });

    assert.equal((await speaker.next((m) => m.type === 'removed')).identity, 's');
    assert.equal((await speaker.closed).code, 1008);
    const again = await open({ token: t.token(f.id, 's', 'speaker') });
    await again.next(errorCode('identity_removed'));
    assert.equal((await again.closed).code, 1008);
  });

  test('leaving the stage closes the socket: off stage, a person is back in the crowd', async () => {
    const f = await stageFixture(t, { live: true });
    const speaker = await open({ token: f.tokens.speaker2 });
    await speaker.next((m) => m.type === 'welcome');
    const host = await open({ token: f.tokens.host });
    await host.next((m) => m.type === 'welcome');

    await t.api.call('DELETE', `/api/spaces/${f.id}/stage`, { token: f.tokens.speaker2 });

    assert.equal((await speaker.closed).code, 1000);
    const stage = await host.next((m) => m.type === 'stage' && !m.stage.some((x: any) => x.identity === 's2'));
    assert.ok(stage.stage.some((x: any) => x.identity === 'h'));
    assert.equal(host.ws.readyState, WebSocket.OPEN);
  });

  test('the end of the space is pushed and every socket closes', async () => {
    const f = await stageFixture(t, { live: true });
    const speaker = await open({ token: f.tokens.speaker });
    await speaker.next((m) => m.type === 'welcome');
    await t.api.post(`/api/spaces/${f.id}/end`, { token: f.tokens.host });
    await speaker.next((m) => m.type === 'ended');
    assert.equal((await speaker.closed).code, 1000);
  });

  test('a listener with no request, a forged token and a token for nothing are refused with codes', async () => {
    const f = await stageFixture(t, { live: true });
    const listener = await open({ token: f.tokens.listener });
    await listener.next(errorCode('not_on_stage'));
    assert.equal((await listener.closed).code, 1008);

    const forged = await open({ token: `${f.tokens.speaker.slice(0, -2)}xx` });
    await forged.next(errorCode('token_invalid'));

    const operator = await open({ token: t.operator });
    await operator.next(errorCode('validation_failed'));
  });

  test('bad messages get coded errors and the connection survives', async () => {
    const f = await stageFixture(t, { live: true });
    const c = await open({ token: f.tokens.speaker });
    await c.next((m) => m.type === 'welcome');

    c.send('{not json');
    await c.next(errorCode('invalid_json'));
    c.send({ type: 'offer', sdp: 'v=0' });
    await c.next(errorCode('validation_failed'));
    c.send({ type: 'ping', t: 'soon' });
    assert.equal(c.messages.filter(errorCode('validation_failed')).length >= 1, true);
    c.send({ type: 'ping', t: 42 });
    const pong = await c.next((m) => m.type === 'pong');
    assert.equal(pong.t, 42);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
  });

  test('bad offers are refused with validation_failed: video, no Opus, two microphones, too many candidates, no ICE credentials or fingerprint, a section without its own a=mid', async () => {
    const f = await stageFixture(t, { live: true });
    const c = await open({ token: f.tokens.speaker });
    await c.next((m) => m.type === 'welcome');
    const ice = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n';
    const fingerprint = `a=fingerprint:sha-256 ${Array.from({ length: 32 }, () => 'AB').join(':')}\r\n`;
    let mids = 0;
    const audio = (dir: string, codec = 'opus/48000/2', mid: string | null = String(mids++)) =>
      `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 ${codec}\r\na=${dir}\r\n${mid === null ? '' : `a=mid:${mid}\r\n`}`;
    const session = `v=0\r\n${ice}${fingerprint}`;
    const offers: Array<[string, RegExp]> = [
      [`${session}${audio('sendonly')}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\n`, /Only audio/],
      [`${session}${audio('sendonly', 'PCMU/8000')}`, /must offer Opus/],
      [`${session}${audio('sendonly')}${audio('sendonly')}`, /exactly one microphone/],
      [`${session}${audio('sendonly')}${'a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n'.repeat(11)}`, /At most 10 ICE candidates/],
      // Answered internal_error before: the WebRTC stack threw on it.
      [`v=0\r\n${fingerprint}${audio('sendonly')}`, /needs ICE credentials/],
      [`v=0\r\n${fingerprint}a=ice-ufrag:abcd\r\n${audio('sendonly')}`, /needs ICE credentials/],
      [`v=0\r\n${ice}${audio('sendonly')}`, /needs a DTLS fingerprint/],
      ['not sdp at all', /Not an SDP offer/],
      // A section without its a=mid made werift throw 'mid not assigned' (found by test/fuzz.test.ts).
      [`${session}${audio('sendonly', 'opus/48000/2', null)}`, /needs one a=mid/],
      [`${session}${audio('sendonly', 'opus/48000/2', 'x')}${audio('recvonly', 'opus/48000/2', 'x')}`, /Two sections have a=mid:x/],
    ];
    for (const [sdp] of offers) c.send({ type: 'offer', sdp });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refusals = c.messages.filter(errorCode('validation_failed'));
    assert.equal(refusals.length, offers.length, JSON.stringify(c.messages));
    for (const [i, [, reason]] of offers.entries()) assert.match(refusals[i].error.message, reason);
    assert.equal(c.messages.filter(errorCode('internal_error')).length, 0);
    assert.equal(c.ws.readyState, WebSocket.OPEN);
  });

  test('trickled candidates: only after an offer, only well-formed, at most 20 per offer', async () => {
    const f = await stageFixture(t, { live: true });
    const c = await open({ token: f.tokens.speaker });
    await c.next((m) => m.type === 'welcome');
    const line = (i: number) => `candidate:${i} 1 udp 2122260223 127.0.0.1 ${40000 + i} typ host generation 0`;
    c.send({ type: 'candidate', candidate: line(0), sdpMid: '0' });
    assert.match((await c.next(errorCode('validation_failed'))).error.message, /offer before/);
    c.messages.length = 0;

    // A real offer, sent before gathering (as a browser trickling ICE does), then its candidates.
    const pc = new RTCPeerConnection(rtcConfig(true));
    pc.addTransceiver('audio', { direction: 'sendonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const offer = await pc.createOffer();
    c.send({ type: 'offer', sdp: offer.sdp });
    for (const bad of ['candidate:1 1 udp 1 127.0.0.1 9 typ bogus', 'a=ssrc:1 cname:x', 'candidate:1 1 udp 1 1.2.3.4 99999999 typ host']) {
      c.send({ type: 'candidate', candidate: bad, sdpMid: '0' });
    }
    for (let i = 1; i <= 21; i++) c.send({ type: 'candidate', candidate: line(i), sdpMid: '0', sdpMLineIndex: 0 });
    c.send({ type: 'candidate', candidate: null });
    c.send({ type: 'candidate', candidate: line(99), sdpMid: '0', extra: true });
    await c.next((m) => m.type === 'answer', 5000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refusals = c.messages.filter(errorCode('validation_failed')).map((m) => m.error.message);
    assert.equal(refusals.filter((m) => /Not an ICE candidate/.test(m)).length, 3, JSON.stringify(refusals));
    assert.equal(refusals.filter((m) => /At most 20 trickled/.test(m)).length, 1, JSON.stringify(refusals));
    assert.equal(refusals.filter((m) => /Not a known message/.test(m)).length, 1, 'an unknown field fails the schema');
    assert.equal(refusals.length, 5, JSON.stringify(refusals));
    assert.equal(c.ws.readyState, WebSocket.OPEN);
    await pc.close();
  });

  test('one socket per identity: a newer one replaces the older (1008), so a token cannot hold many sockets or sessions', async () => {
    const f = await stageFixture(t, { live: true });
    const metric = async (name: string) =>
      Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await t.api.get('/metrics')).body)?.[1] ?? Number.NaN);
    const sessionsBefore = await metric('rostrum_rtc_sessions');
    const replacedBefore = await metric('rostrum_stage_sockets_replaced_total');
    const held: Client[] = [];
    const pcs: RTCPeerConnection[] = [];
    for (let i = 0; i < 12; i++) {
      const c = await open({ token: f.tokens.speaker });
      await c.next((m) => m.type === 'welcome');
      const pc = new RTCPeerConnection(rtcConfig(true));
      pc.addTransceiver('audio', { direction: 'sendonly' });
      c.send({ type: 'offer', sdp: (await pc.createOffer()).sdp });
      await c.next((m) => m.type === 'answer', 5000);
      held.push(c);
      pcs.push(pc);
    }
    for (const old of held.slice(0, -1)) {
      const closed = await old.closed;
      assert.equal(closed.code, 1008);
      assert.match(closed.reason, /replaced by a newer connection/);
    }
    assert.equal(held.at(-1)!.ws.readyState, WebSocket.OPEN, 'the newest holds the seat');
    // The media worker reports its sessions as they close: wait for the count to settle.
    let sessions = Number.NaN;
    for (const deadline = Date.now() + 3000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      sessions = (await metric('rostrum_rtc_sessions')) - sessionsBefore;
      if (sessions === 1) break;
    }
    assert.equal(sessions, 1, 'one WebRTC session for the identity');
    assert.equal((await metric('rostrum_stage_sockets_replaced_total')) - replacedBefore, 11);
    // Another identity on the same stage keeps its own socket.
    const other = await open({ token: f.tokens.speaker2 });
    await other.next((m) => m.type === 'welcome');
    assert.equal(held.at(-1)!.ws.readyState, WebSocket.OPEN);
    await Promise.all(pcs.map((pc) => pc.close()));
  });

  test('GET /rtc without a WebSocket upgrade answers 426 upgrade_required in the API shape (it was an empty 404)', async () => {
    const res = await t.api.get('/rtc');
    assert.equal(res.status, 426);
    assert.equal(res.body.error.code, 'upgrade_required');
  });

  test('a listener waiting on a request cannot publish audio', async () => {
    const f = await stageFixture(t, { live: true });
    const waiting = await open({ token: f.tokens.listener2 });
    await waiting.next((m) => m.type === 'welcome');
    waiting.send({ type: 'offer', sdp: 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n' });
    await waiting.next(errorCode('not_on_stage'));
  });

  test('a message over 64 KB closes the socket with 1009, and the server stays healthy', async () => {
    const f = await stageFixture(t, { live: true });
    const c = await open({ token: f.tokens.speaker });
    await c.next((m) => m.type === 'welcome');
    c.send({ type: 'ping', t: 1, pad: 'x'.repeat(70 * 1024) });
    assert.equal((await c.closed).code, 1009);
    assert.equal((await t.api.get('/healthz')).status, 200);
  });

  test('a message flood is refused with rate_limited, and a sustained one closes the socket', async () => {
    const f = await stageFixture(t, { live: true });
    const c = await open({ token: f.tokens.speaker });
    await c.next((m) => m.type === 'welcome');
    for (let i = 0; i < 400; i++) c.send({ type: 'ping', t: i });
    await c.next(errorCode('rate_limited'));
    assert.equal((await c.closed).code, 1008);
    const other = await open({ token: f.tokens.speaker2 });
    assert.equal((await other.next((m) => m.type === 'welcome')).identity, 's2', 'others are unaffected');
  });

  test('a socket that never authenticates is closed', { timeout: 10_000 }, async () => {
    const c = await open();
    c.send({ type: 'ping', t: 1 });
    await c.next(errorCode('token_missing'));
    assert.equal((await c.closed).code, 1008);
  });
});
