/**
 * The rate counters' contract, run against each implementation: a key gets its limit per window and
 * no more (the refusal says how long until it may come back), keys are independent, a window ends,
 * memory is bounded — and, on several nodes sharing a limit, a key spread over all of them still
 * gets about its limit in all (within one sync interval's requests), not the limit on each.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RateCounting } from '../../src/api/rate-counter.js';

export interface RateNodes {
  /** One counter per node, all for the same limit: `max` per `windowMs`, at most `capacity` keys each. */
  counters(max: number, windowMs: number, capacity: number): RateCounting[];
  /** Shares what each node counted (a no-op for one node alone). */
  sync(): Promise<void>;
  cleanup(): Promise<void>;
}

let keys = 0;
const fresh = (name: string) => `${name}-${process.pid}-${++keys}`;

export function runRateCounterContract(name: string, open: () => Promise<RateNodes>): void {
  describe(`rate counter contract: ${name}`, () => {
    const using = async (work: (n: RateNodes) => Promise<void>) => {
      const n = await open();
      try {
        await work(n);
      } finally {
        await n.cleanup();
      }
    };

    test('one node: a key gets its limit in a window, the next is refused until the window ends; other keys are not', () =>
      using(async (n) => {
        const [c] = n.counters(5, 60_000, 1000);
        const key = fresh('a');
        const now = Date.now();
        for (let i = 0; i < 5; i++) assert.equal(c!.hit(key, now), 0, `request ${i + 1} allowed`);
        const wait = c!.hit(key, now + 1000);
        assert.ok(wait > 0 && wait <= 59_000, `refused for ${wait} ms`);
        assert.equal(c!.hit(fresh('b'), now), 0, 'another key has its own count');
      }));

    test('a window ends: the key is allowed again', () =>
      using(async (n) => {
        const [c] = n.counters(2, 400, 1000);
        const key = fresh('w');
        assert.equal(c!.hit(key, Date.now()), 0);
        assert.equal(c!.hit(key, Date.now()), 0);
        assert.ok(c!.hit(key, Date.now()) > 0);
        await n.sync();
        await sleep(500);
        assert.equal(c!.hit(key, Date.now()), 0, 'a new window');
      }));

    test('memory is bounded: beyond its capacity a counter forgets the keys whose windows began first', () =>
      using(async (n) => {
        const [c] = n.counters(3, 60_000, 100);
        for (let i = 0; i < 1000; i++) c!.hit(fresh('many'), Date.now());
        assert.ok(c!.size <= 100, `${c!.size} keys remembered`);
      }));

    test('all nodes together: a key spread over them gets about its limit in all, not the limit on each', () =>
      using(async (n) => {
        const max = 30;
        const nodes = n.counters(max, 60_000, 1000);
        const key = fresh('spread');
        let allowed = 0;
        // Requests in rounds, one per node each, shared between rounds (as the nodes do every 250 ms).
        for (let round = 0; round < 40; round++) {
          for (const c of nodes) if (c.hit(key, Date.now()) === 0) allowed++;
          await n.sync();
        }
        assert.ok(allowed >= max, `${allowed} allowed: at least the limit`);
        assert.ok(allowed <= max + nodes.length, `${allowed} allowed of ${40 * nodes.length}: at most one round over the limit`);
      }));
  });
}
