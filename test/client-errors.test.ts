/**
 * Requests Node answers before any route runs, over raw sockets (issue 25): a body sent a byte at a
 * time was never cut off (no request timeout), and a malformed request or oversized headers got an
 * answer in Fastify's shape, not the API's. Now: 408 request_timeout within the configured limit,
 * 400 bad_request, 431 headers_too_large, each `{"error":{"code","message"}}`, the connection
 * closed after it, and the server answering others throughout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ requestTimeoutMs: 1000 });
});
after(() => t.close());

/** Writes `chunks` (a function may write more over time), reads to the end; the answer and how long it took. */
async function raw(write: (socket: net.Socket) => void): Promise<{ status: number; body: any; ms: number }> {
  const { hostname, port } = new URL(t.url);
  const socket = net.connect(Number(port), hostname);
  const started = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.once('connect', () => write(socket));
  await new Promise((resolve) => socket.once('close', resolve));
  const [head = '', body = ''] = text.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: body ? JSON.parse(body) : null, ms: performance.now() - started };
}

test('a body sent a byte at a time is cut off with 408 request_timeout within the limit, and others are served meanwhile', async () => {
  let timer: NodeJS.Timeout | undefined;
  const slow = raw((socket) => {
    socket.write(`POST /api/spaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    timer = setInterval(() => socket.writable && socket.write(' '), 200);
  });
  assert.equal((await t.api.get('/healthz')).status, 200, 'served while the slow body trickles');
  const answer = await slow;
  clearInterval(timer);
  assert.equal(answer.status, 408);
  assert.deepEqual(Object.keys(answer.body.error), ['code', 'message']);
  assert.equal(answer.body.error.code, 'request_timeout');
  // The limit (1 s) plus at most one check (a quarter of it), with room for a busy machine.
  assert.ok(answer.ms >= 1000 && answer.ms < 4000, `cut off after ${Math.round(answer.ms)} ms`);
});

test('a malformed request gets 400 bad_request and oversized headers 431 headers_too_large, in the API shape', async () => {
  const malformed = await raw((socket) => socket.write('HELLO THERE\r\n\r\n'));
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, 'bad_request');
  const huge = await raw((socket) => socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
  assert.equal(huge.status, 431);
  assert.equal(huge.body.error.code, 'headers_too_large');
  assert.equal((await t.api.get('/healthz')).status, 200);
});
