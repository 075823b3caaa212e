/**
 * The contract every Roster keeps (roster.ts), run against each (roster.test.ts) with as many nodes as
 * it has: named listeners listed newest first, a page at a time, across nodes; anonymous ones never;
 * a name gone a window after its last sighting, kept by sightings on any node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Roster } from '../src/audience/roster.js';
import type { Identity, SpaceId } from '../src/ids.js';

export interface RosterNodes {
  nodes: Roster[];
  windowMs: number;
  cleanup(): Promise<void>;
}

let spaces = 0;
const newSpace = () => `roster-${process.pid}-${++spaces}` as SpaceId;
const who = (s: string) => s as Identity;

export function runRosterContract(name: string, open: () => Promise<RosterNodes>): void {
  async function withNodes(body: (r: RosterNodes) => Promise<void>): Promise<void> {
    const r = await open();
    try {
      await body(r);
    } finally {
      await r.cleanup();
    }
  }

  /** What every node batched, sent (a second's batch goes out by itself; here, at once). */
  const flushAll = async (nodes: Roster[]) => {
    for (const n of nodes) await n.flush();
  };

  describe(`Roster contract: ${name}`, () => {
    test('named listeners joined on any node are listed newest first; anonymous ones never', () =>
      withNodes(async ({ nodes }) => {
        const space = newSpace();
        const t0 = Date.now();
        for (const [i, node] of nodes.entries()) node.joined(space, who(`named-${i}`), `Name ${i}`, t0 + i * 10);
        for (const node of nodes) node.seen(space, who('anonymous-1'), t0 + 50);
        await flushAll(nodes);
        const page = await nodes[0]!.list(space, t0 + 100, 50);
        assert.deepEqual(
          page.listeners.map((l) => [l.identity, l.name]),
          nodes.map((_, i) => [`named-${i}`, `Name ${i}`]).reverse(),
        );
        assert.equal(page.next, null);
        assert.deepEqual((await nodes[nodes.length - 1]!.list(newSpace(), t0, 10)).listeners, []);
      }));

    test('pages cover every named listener once, in order, ties broken by identity', () =>
      withNodes(async ({ nodes }) => {
        const space = newSpace();
        const t0 = Date.now();
        for (let i = 0; i < 25; i++)
          nodes[i % nodes.length]!.joined(space, who(`l-${String(i).padStart(2, '0')}`), `L ${i}`, t0 + Math.floor(i / 4));
        await flushAll(nodes);
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await nodes[pages % nodes.length]!.list(space, t0 + 50, 10, after);
          assert.ok(page.listeners.length <= 10);
          seen.push(...page.listeners.map((l) => l.identity));
          if (!page.next) break;
          after = page.next;
        }
        const expected = Array.from({ length: 25 }, (_, i) => ({ id: `l-${String(i).padStart(2, '0')}`, at: t0 + Math.floor(i / 4) }))
          .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
          .map((e) => e.id);
        assert.deepEqual(seen, expected);
      }));

    test('a name goes a window after its last sighting; a sighting on any node keeps it; joining again keeps its place', () =>
      withNodes(async ({ nodes, windowMs }) => {
        const space = newSpace();
        const t0 = Date.now();
        const last = nodes[nodes.length - 1]!;
        nodes[0]!.joined(space, who('stays'), 'Stays', t0);
        nodes[0]!.joined(space, who('goes'), 'Goes', t0 + 1);
        last.seen(space, who('stays'), t0 + windowMs - 100);
        last.joined(space, who('stays'), 'Stays again', t0 + windowMs - 50);
        await flushAll(nodes);
        const page = await nodes[0]!.list(space, t0 + windowMs + 200, 10);
        assert.deepEqual(
          page.listeners.map((l) => [l.identity, l.joinedAt]),
          [['stays', t0]],
        );
      }));
  });
}
