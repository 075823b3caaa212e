/**
 * LoopPressure (api/loop-pressure.ts), the event-loop figures the priority lanes shed by: an idle
 * loop is under both limits; a loop blocked again and again reads as delayed and as fully used.
 * The lanes acting on it, over HTTP, are in lanes.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopPressure, SAMPLE_MS } from '../src/api/loop-pressure.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Blocks the loop in `ms` slices for `total` ms, letting it turn between slices. */
async function blockInSlices(ms: number, total: number): Promise<void> {
  const until = Date.now() + total;
  while (Date.now() < until) {
    const sliceEnd = Date.now() + ms;
    while (Date.now() < sliceEnd) {
      // nothing else runs, as under a flood
    }
    await turn();
  }
}

test('an idle loop is under both limits', async () => {
  const pressure = new LoopPressure({ maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0.9 });
  try {
    await sleep(SAMPLE_MS * 3);
    assert.ok(pressure.delayMs < 20, `delay ${pressure.delayMs} ms`);
    assert.ok(pressure.utilization < 0.5, `utilisation ${pressure.utilization}`);
    assert.equal(pressure.over(), undefined);
  } finally {
    pressure.stop();
  }
});

test('a loop blocked 200 ms at a time is over the delay limit (checked first) and reads as fully used', async () => {
  const pressure = new LoopPressure({ maxEventLoopDelayMs: 100, maxEventLoopUtilization: 0.9 });
  try {
    await blockInSlices(200, SAMPLE_MS * 5);
    assert.ok(pressure.delayMs > 100, `delay ${pressure.delayMs} ms`);
    assert.ok(pressure.utilization > 0.9, `utilisation ${pressure.utilization}`);
    assert.equal(pressure.over()?.kind, 'eventLoopDelay');
  } finally {
    pressure.stop();
  }
});

test('with the delay unchecked (0), the same loop is over the utilisation limit; with neither, over nothing', async () => {
  const byUse = new LoopPressure({ maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.9 });
  const unchecked = new LoopPressure({ maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 });
  try {
    await blockInSlices(200, SAMPLE_MS * 5);
    assert.equal(byUse.over()?.kind, 'eventLoopUtilization');
    assert.equal(unchecked.over(), undefined);
  } finally {
    byUse.stop();
    unchecked.stop();
  }
});
