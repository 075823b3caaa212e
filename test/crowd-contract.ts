/**
 * The contract every Crowd keeps, run against each (crowd.test.ts) with as many nodes as it has (one
 * for the local one): listeners counted once however many nodes saw them, within HyperLogLog's error,
 * gone a window after their last heartbeat while the total stays; reactions summed across nodes from
 * what the space kept.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Crowd } from '../src/audience/crowd.js';
import type { SpaceId } from '../src/ids.js';

export interface CrowdNodes {
  /** One Crowd per node, all counting the same spaces. */
  nodes: Crowd[];
  /** Their counting window, ms. */
  windowMs: number;
  cleanup(): Promise<void>;
}

let spaces = 0;
const newSpace = () => `crowd-${process.pid}-${++spaces}` as SpaceId;

export function runCrowdContract(name: string, open: () => Promise<CrowdNodes>): void {
  async function withNodes(body: (c: CrowdNodes) => Promise<void>): Promise<void> {
    const c = await open();
    try {
      await body(c);
    } finally {
      await c.cleanup();
    }
  }
  const flushAll = async (nodes: Crowd[]) => {
    for (const n of nodes) await n.flush();
    for (const n of nodes) await n.flush(); // the second round reads back what every node sent
  };

  describe(`Crowd contract: ${name}`, () => {
    test('20,000 listeners joining across the nodes are counted on every node within 2 %', () =>
      withNodes(async ({ nodes }) => {
        const space = newSpace();
        const now = Date.now();
        for (let i = 0; i < 20_000; i++) nodes[i % nodes.length]!.seen(space, `listener-${i}`, now, true);
        await flushAll(nodes);
        for (const [i, n] of nodes.entries()) {
          const count = n.listeners(space, Date.now());
          assert.ok(Math.abs(count - 20_000) / 20_000 <= 0.02, `node ${i} counts ${count}`);
          const { peak, total } = n.tallies(space, Date.now());
          assert.ok(Math.abs(total - 20_000) / 20_000 <= 0.02, `node ${i} total ${total}`);
          assert.ok(peak >= count * 0.98, `node ${i} peak ${peak}`);
        }
      }));

    test('one listener heartbeating to every node, many times, is one listener', () =>
      withNodes(async ({ nodes }) => {
        const space = newSpace();
        for (let round = 0; round < 5; round++) for (const n of nodes) n.seen(space, 'the-same-one', Date.now(), round === 0);
        await flushAll(nodes);
        for (const n of nodes) assert.equal(n.listeners(space, Date.now()), 1);
      }));

    test('a listener who stops heartbeating is gone after a window; the total unique stays', () =>
      withNodes(async ({ nodes, windowMs }) => {
        const space = newSpace();
        for (let i = 0; i < 100; i++) nodes[i % nodes.length]!.seen(space, `l-${i}`, Date.now(), true);
        await flushAll(nodes);
        assert.ok(nodes[0]!.listeners(space, Date.now()) >= 98);
        await sleep(windowMs + 200);
        // One keeps heartbeating.
        nodes[nodes.length - 1]!.seen(space, 'l-7', Date.now(), false);
        await flushAll(nodes);
        for (const n of nodes) {
          assert.equal(n.listeners(space, Date.now()), 1);
          assert.ok(n.tallies(space, Date.now()).total >= 98);
        }
      }));

    test('reactions sent to different nodes add up, from what the space kept', () =>
      withNodes(async ({ nodes }) => {
        const space = newSpace();
        const kept = { '👏': 10, '🔥': 2 };
        for (const [i, n] of nodes.entries()) {
          for (let k = 0; k <= i; k++) n.react(space, '👏', kept);
          n.react(space, '🔥', kept);
        }
        await flushAll(nodes);
        const claps = 10 + (nodes.length * (nodes.length + 1)) / 2;
        for (const n of nodes) {
          const totals = n.reactions(space)!;
          assert.equal(totals['👏'], claps);
          assert.equal(totals['🔥'], 2 + nodes.length);
        }
      }));
  });
}
