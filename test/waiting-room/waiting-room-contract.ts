/**
 * The waiting room's contract, on one node and on several sharing their lines: newcomers beyond the
 * space's admission rate (all nodes together) get places in line, numbered in order; a ticket that
 * comes back before its turn keeps its place, and after it is let in once — on whichever node it
 * comes back to; forged, altered and other spaces' tickets are refused with coded errors.
 */
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Arrival, WaitingRoom } from '../../src/audience/waiting-room.js';
import type { SpaceId } from '../../src/ids.js';

export interface WaitingRoomNodes {
  /** One waiting room per node, all for the same cluster, at `rate` admissions a second per space in all. */
  rooms(rate: number): WaitingRoom[];
  /** Shares the nodes' lines (a no-op on one node). */
  sync(): Promise<void>;
  cleanup(): Promise<void>;
}

export const KEY = createSecretKey(Buffer.alloc(32, 7));
let spaces = 0;
const fresh = () => `wr-${process.pid}-${++spaces}` as SpaceId;
const code = (err: unknown) => (err as { code?: string }).code;

export function runWaitingRoomContract(name: string, open: () => Promise<WaitingRoomNodes>): void {
  describe(`waiting room contract: ${name}`, () => {
    const using = async (work: (n: WaitingRoomNodes) => Promise<void>) => {
      const n = await open();
      try {
        await work(n);
      } finally {
        await n.cleanup();
      }
    };

    test('newcomers beyond the rate of all nodes together get places in line, in order on each node', () =>
      using(async (n) => {
        const rooms = n.rooms(6);
        const space = fresh();
        const arrivals: Arrival[][] = rooms.map(() => []);
        for (let i = 0; i < 6 * 3; i++) arrivals[i % rooms.length]!.push(rooms[i % rooms.length]!.arrive(space));
        const direct = arrivals.flat().filter((a) => a.admit).length;
        assert.equal(direct, 6, 'the rate is for all nodes together');
        for (const [i, mine] of arrivals.entries()) {
          const places = mine.flatMap((a) => (a.admit ? [] : [a.grant.position]));
          assert.deepEqual(
            places,
            places.map((_, k) => k + 1),
            `node ${i}: places 1, 2, 3…`,
          );
        }
      }));

    test('a ticket back before its turn keeps its place; after it, it is let in once, wherever it comes back', () =>
      using(async (n) => {
        const rooms = n.rooms(6);
        const space = fresh();
        // Use up the first node's direct admissions; its next newcomer is first in its line.
        let first: Arrival = rooms[0]!.arrive(space);
        while (first.admit) first = rooms[0]!.arrive(space);
        assert.equal(first.grant.position, 1);
        const ticket = first.grant.ticket;
        await n.sync();
        const early = await rooms.at(-1)!.comeBack(space, ticket);
        assert.equal(early.admit, false, 'not yet');
        if (!early.admit) assert.equal(early.grant.position, 1, 'still first');
        // The line moves at its node's share of the rate: one place takes at most a second.
        await sleep(1100);
        await n.sync();
        const back = await rooms.at(-1)!.comeBack(space, ticket);
        assert.equal(back.admit, true, 'let in');
        for (const [i, room] of rooms.entries()) {
          await assert.rejects(
            Promise.resolve().then(() => room.comeBack(space, ticket)),
            (err) => code(err) === 'ticket_used',
            `used, on node ${i}`,
          );
        }
      }));

    test('forged, altered and other spaces’ tickets are refused', () =>
      using(async (n) => {
        const rooms = n.rooms(1);
        const space = fresh();
        let queued: Arrival = rooms[0]!.arrive(space);
        while (queued.admit) queued = rooms[0]!.arrive(space);
        const ticket = queued.grant.ticket;
        const [body, mac] = ticket.split('.') as [string, string];
        const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { q: number };
        const altered = `${Buffer.from(JSON.stringify({ ...claims, q: claims.q + 1 })).toString('base64url')}.${mac}`;
        for (const room of rooms) {
          for (const bad of ['nonsense', `${body}.AAAA`, altered]) {
            await assert.rejects(
              Promise.resolve().then(() => room.comeBack(space, bad)),
              (err) => code(err) === 'ticket_invalid',
              bad,
            );
          }
          await assert.rejects(
            Promise.resolve().then(() => room.comeBack(fresh(), ticket)),
            (err) => code(err) === 'ticket_invalid',
          );
        }
      }));
  });
}
