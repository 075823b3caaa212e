/**
 * Receive coalescing (media/receive-coalescing.ts): engaged by a high packet rate and released by a
 * low one; while engaged the thread wakes at most once per window, and datagrams from a real socket
 * arrive in batches, none lost. The end-to-end check (a stage of five speakers engages it in the
 * media worker, which still forwards their audio) is in stage-loudest.test.ts.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ReceiveCoalescing } from '../src/media/receive-coalescing.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CHECK_MS = 50;

/** How many times a 1 ms interval fires in `ms`: about once a millisecond unless the thread sleeps. */
async function wakeups(ms: number): Promise<number> {
  let fired = 0;
  const timer = setInterval(() => fired++, 1);
  await sleep(ms);
  clearInterval(timer);
  return fired;
}

/** A packet counter that runs at `perSecond` while `running` (bumped by a 5 ms timer). */
function packetSource(perSecond: number) {
  const source = { count: 0, running: true };
  let last = performance.now();
  let owed = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (source.running) owed += ((now - last) * perSecond) / 1000;
    last = now;
    source.count += Math.floor(owed);
    owed -= Math.floor(owed);
  }, 5);
  return { source, stop: () => clearInterval(timer) };
}

test('a high packet rate engages it, and the thread then wakes at most once per window; a low rate releases it', async () => {
  const { source, stop } = packetSource(1000);
  const coalescing = new ReceiveCoalescing(10, () => source.count, CHECK_MS);
  try {
    assert.equal(coalescing.engageRate, 200);
    await sleep(CHECK_MS * 3);
    assert.equal(coalescing.engaged, true);
    const engaged = await wakeups(300);
    // 300 ms at one wake-up per 10 ms window is 30; a free-running 1 ms interval fires ~250+ times.
    assert.ok(engaged <= 45, `${engaged} timer turns in 300 ms while engaged`);
    source.running = false;
    await sleep(CHECK_MS * 3);
    assert.equal(coalescing.engaged, false);
    const released = await wakeups(300);
    assert.ok(released >= 150, `${released} timer turns in 300 ms once released`);
    assert.equal(coalescing.engagements, 1);
  } finally {
    coalescing.stop();
    stop();
  }
});

test('below its rate (a conversation of two or three voices) it never engages', async () => {
  const { source, stop } = packetSource(150);
  const coalescing = new ReceiveCoalescing(10, () => source.count, CHECK_MS);
  try {
    await sleep(CHECK_MS * 6);
    assert.equal(coalescing.engaged, false);
    assert.equal(coalescing.engagements, 0);
  } finally {
    coalescing.stop();
    stop();
  }
});

test('datagrams from a real socket arrive in batches while it is engaged, and none is lost', async () => {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const arrivals: number[] = [];
  socket.on('message', () => arrivals.push(performance.now()));
  // Another thread sends a datagram every 2 ms (500 a second) for 600 ms.
  const sender = new Worker(
    `const { createSocket } = require('node:dgram');
     const { workerData } = require('node:worker_threads');
     const s = createSocket('udp4');
     let n = 0;
     const t = setInterval(() => {
       s.send(Buffer.alloc(100, n), workerData.port, '127.0.0.1');
       if (++n === 300) { clearInterval(t); setTimeout(() => s.close(), 50); }
     }, 2);`,
    { eval: true, workerData: { port: socket.address().port } },
  );
  const coalescing = new ReceiveCoalescing(10, () => arrivals.length, CHECK_MS);
  try {
    await once(sender, 'exit');
    await sleep(100);
    assert.equal(arrivals.length, 300, 'every datagram was read');
    assert.ok(coalescing.engagements >= 1);
    // Once engaged (after the first check), arrivals come in batches: a batch is read in one turn.
    const engagedFrom = arrivals[0]! + CHECK_MS * 2;
    const late = arrivals.filter((at) => at >= engagedFrom);
    let batches = 0;
    for (let i = 0; i < late.length; i++) if (i === 0 || late[i]! - late[i - 1]! > 1) batches++;
    assert.ok(late.length >= 100, `${late.length} datagrams after it engaged`);
    assert.ok(batches <= late.length / 3, `${late.length} datagrams in ${batches} batches`);
  } finally {
    coalescing.stop();
    socket.close();
  }
});

test('a window outside 1–20 ms is refused', () => {
  assert.throws(() => new ReceiveCoalescing(0, () => 0), RangeError);
  assert.throws(() => new ReceiveCoalescing(25, () => 0), RangeError);
  assert.throws(() => new ReceiveCoalescing(2.5, () => 0), RangeError);
});
