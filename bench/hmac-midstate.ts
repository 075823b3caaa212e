/**
 * Is the hand-written SHA-256 in control/prefixed-hmac.ts still worth its place? A listener token's
 * signature is HMAC-SHA256 over a per-space-and-second prefix plus a few dozen bytes of its own
 * (issue 25, item 8). node:crypto can also resume from a kept state: `Hash.prototype.copy()` of an
 * inner hash that has taken the key block and the prefix, and of an outer one after its key block —
 * two native copies, updates and digests per token. Both sign the same messages here, alternating
 * rounds in one process so the machine's noise falls on both; the hand-written one is kept only if
 * it is faster. Results: bench/results/hmac-midstate.json, and one line on stdout.
 *
 *   node dist/bench/hmac-midstate.js [--rounds N]
 */
import { createHash, createHmac, type Hash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PrefixedHmac } from '../src/control/prefixed-hmac.js';

/** HMAC-SHA256 resumed from node:crypto hash states kept after the key blocks and the prefix. */
export class CopiedHmac {
  private readonly inner: Hash;
  private readonly outer: Hash;

  constructor(key: Uint8Array, prefix: string) {
    const block = Buffer.alloc(64);
    block.set(key.length > 64 ? createHash('sha256').update(key).digest() : key);
    this.inner = createHash('sha256')
      .update(block.map((b) => b ^ 0x36))
      .update(prefix, 'latin1');
    this.outer = createHash('sha256').update(block.map((b) => b ^ 0x5c));
  }

  sign(rest: string): string {
    const inner = this.inner.copy().update(rest, 'latin1').digest();
    return this.outer.copy().update(inner).digest('base64url');
  }
}

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 10;
const perRound = 100_000;
const key = randomBytes(32);
// What a listener token's signed input looks like: the shared header and claims, then its own bytes.
const prefix = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"iss":"rostrum","space":"abcdefghijkl","role":"listener","iat":1765000000,"exp":1765021600,"sub":"').toString('base64url')}`;
const rests = Array.from({ length: 1024 }, () => randomBytes(30).toString('base64url'));
const signers = { handWritten: new PrefixedHmac(key, prefix, 128), nodeCopy: new CopiedHmac(key, prefix) };
for (const rest of rests.slice(0, 16)) {
  const expected = createHmac('sha256', key)
    .update(prefix + rest)
    .digest('base64url');
  for (const [name, signer] of Object.entries(signers)) if (signer.sign(rest) !== expected) throw new Error(`${name} signs wrongly`);
}

const ns: Record<keyof typeof signers, number[]> = { handWritten: [], nodeCopy: [] };
let sink = 0;
for (let round = 0; round < rounds; round++) {
  for (const name of (round % 2 ? ['nodeCopy', 'handWritten'] : ['handWritten', 'nodeCopy']) as Array<keyof typeof signers>) {
    const signer = signers[name];
    const started = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) sink += signer.sign(rests[i & 1023]!).length;
    ns[name].push(Number(process.hrtime.bigint() - started) / perRound);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  machine: `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}`,
  rounds,
  perRound,
  handWrittenNsPerToken: Math.round(median(ns.handWritten)),
  nodeCopyNsPerToken: Math.round(median(ns.nodeCopy)),
  ratio: Math.round((median(ns.handWritten) / median(ns.nodeCopy)) * 1000) / 1000,
  checksum: sink,
};
const out = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../bench/results/hmac-midstate.json');
fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `hand-written ${result.handWrittenNsPerToken} ns/token, node:crypto Hash.copy() ${result.nodeCopyNsPerToken} ns/token: ratio ${result.ratio} (${result.machine})`,
);
