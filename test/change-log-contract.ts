/**
 * The ChangeLog contract: one suite against the interface, run for every implementation with two
 * "nodes" on one engine (test/change-log.test.ts): what one appends, the other follows, in order,
 * never its own, and a follower that joined late sees only what came after.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChangeEntry, ChangeLog } from '../src/bus/change-log.js';
import type { Identity, SpaceId } from '../src/ids.js';

export interface ChangeLogPair {
  /** Two nodes' logs on one engine. */
  a: ChangeLog;
  b: ChangeLog;
  close(): Promise<void>;
}

const entry = (node: string, seq: number, space = 's1'): ChangeEntry => ({
  spaceId: space as SpaceId,
  node,
  epoch: 3,
  seq,
  ops: [{ op: 'space.update', patch: { title: `t${seq}` } }],
  events: [['participant.unmuted', { spaceId: space as SpaceId, identity: `who${seq}` as Identity }]],
});

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function runChangeLogContract(name: string, open: () => Promise<ChangeLogPair>): void {
  describe(`ChangeLog contract: ${name}`, () => {
    test('what one node appends the other follows, whole and in order, and never its own', async () => {
      const { a, b, close } = await open();
      try {
        const atA: ChangeEntry[] = [];
        const atB: ChangeEntry[] = [];
        a.follow((e) => atA.push(e));
        b.follow((e) => atB.push(e));
        await new Promise((resolve) => setTimeout(resolve, 100));
        const sent = Array.from({ length: 50 }, (_, i) => entry('node-a', i + 1, i % 2 ? 's1' : 's2'));
        for (const e of sent) a.append(e);
        await until(() => atB.length === 50, 'b to follow 50 entries');
        assert.deepEqual(atB, sent);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(atA, [], 'a node does not follow its own entries');
      } finally {
        await close();
      }
    });

    test('append returns at once, before anything is delivered', async () => {
      const { a, b, close } = await open();
      try {
        const atB: ChangeEntry[] = [];
        b.follow((e) => atB.push(e));
        await new Promise((resolve) => setTimeout(resolve, 100));
        a.append(entry('node-a', 1));
        assert.equal(atB.length, 0, 'not inside the writer’s call');
        await until(() => atB.length === 1, 'delivery');
      } finally {
        await close();
      }
    });

    test('a follower sees what was appended after it joined, not before; a disposed follower sees nothing more', async () => {
      const { a, b, close } = await open();
      try {
        a.append(entry('node-a', 1));
        await new Promise((resolve) => setTimeout(resolve, 200));
        const atB: ChangeEntry[] = [];
        const stop = b.follow((e) => atB.push(e));
        await new Promise((resolve) => setTimeout(resolve, 200));
        a.append(entry('node-a', 2));
        await until(() => atB.length === 1, 'the second entry');
        assert.equal(atB[0]!.seq, 2);
        stop();
        a.append(entry('node-a', 3));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(atB.length, 1);
        assert.equal(a.healthy(), true);
      } finally {
        await close();
      }
    });
  });
}
