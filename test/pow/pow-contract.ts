/**
 * The proof of work's coordination contract, run against each implementation: a solution is spent
 * once in the whole cluster, the operator's newest setting reaches every node, and the cluster asks
 * for the highest level a live node asks for — directly, and through ProofOfWork on each node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PowCoordination } from '../../src/audience/pow-coordination.js';
import { ProofOfWork } from '../../src/audience/proof-of-work.js';

export interface PowNodes {
  /** One coordination per node (one for the embedded default). */
  nodes: PowCoordination[];
  cleanup(): Promise<void>;
}

let signatures = 0;
const fresh = () => `sig-${process.pid}-${Date.now()}-${++signatures}`;
const SECRETS = { signature: 's'.repeat(32), key: 'k'.repeat(32) };

export function runPowContract(name: string, open: () => Promise<PowNodes>): void {
  describe(`proof-of-work coordination contract: ${name}`, () => {
    const using = async (work: (n: PowNodes) => Promise<void>) => {
      const n = await open();
      try {
        await work(n);
      } finally {
        await n.cleanup();
      }
    };
    const inTwoMinutes = () => Math.floor(Date.now() / 1000) + 120;

    test('a solution is spent once, on whichever node it comes back to', () =>
      using(async ({ nodes }) => {
        const sig = fresh();
        assert.equal(await nodes[0]!.spend(sig, inTwoMinutes()), true, 'first use');
        for (const node of nodes) assert.equal(await node.spend(sig, inTwoMinutes()), false, 'used');
        assert.equal(await nodes.at(-1)!.spend(fresh(), inTwoMinutes()), true, 'another solution');
      }));

    test('two joins with the same solution at once: exactly one is admitted', () =>
      using(async ({ nodes }) => {
        const sig = fresh();
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => nodes[i % nodes.length]!.spend(sig, inTwoMinutes())));
        assert.equal(results.filter(Boolean).length, 1);
      }));

    test("the operator's newest setting reaches every node; an older one does not replace it", () =>
      using(async ({ nodes }) => {
        const at = Date.now();
        await nodes[0]!.exchange(0, { mode: 'on', level: 3, at });
        for (const node of nodes) assert.deepEqual((await node.exchange(0)).setting, { mode: 'on', level: 3, at });
        await nodes.at(-1)!.exchange(0, { mode: 'off', level: 0, at: at + 1 });
        await nodes[0]!.exchange(0, { mode: 'on', level: 5, at: at - 10 });
        for (const node of nodes) assert.equal((await node.exchange(0)).setting?.mode, 'off');
      }));

    test('the cluster asks for the highest level a node asks for', () =>
      using(async ({ nodes }) => {
        await nodes[0]!.exchange(2);
        const { clusterLevel } = await nodes.at(-1)!.exchange(0);
        assert.equal(clusterLevel, nodes.length > 1 ? 2 : 0);
        assert.equal((await nodes[0]!.exchange(1)).clusterLevel, 1, 'a node lowering its own level lowers it');
      }));

    test('ProofOfWork on each node: switched on at one, required at all; auto pressure on one raises all', () =>
      using(async ({ nodes }) => {
        const pows = nodes.map((c) => new ProofOfWork(SECRETS, { mode: 'auto', baseDifficulty: 1000, pressurePerSecond: 5 }, Date.now, c));
        pows[0]!.set('on', 2);
        for (const p of pows) await p.share();
        for (const p of pows) assert.deepEqual(p.status(), { mode: 'on', required: true, level: 2, difficulty: 4000 });
        pows.at(-1)!.set('auto');
        // Shared once a second: a setting made on the last node reaches the others at their next share.
        for (let round = 0; round < 2; round++) for (const p of pows) await p.share();
        for (const p of pows) assert.equal(p.status().mode, 'auto');
        // Pressure on the first node only, for three seconds: its auto mode switches on, and with it the cluster's.
        for (let s = 0; s < 3; s++) {
          for (let i = 0; i < 10; i++) pows[0]!.notePressure();
          for (const p of pows) p.tick();
        }
        for (const p of pows) await p.share();
        for (const p of pows) await p.share();
        for (const p of pows) assert.equal(p.status().required, true, 'required on every node');
      }));
  });
}
