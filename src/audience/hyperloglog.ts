/**
 * HyperLogLog (Flajolet et al. 2007) with 2^14 one-byte registers: ≈0.8 % standard error in 16 KiB,
 * whatever the number of listeners, and mergeable by taking register maxima.
 *
 * Written here because the npm HLL packages we found are unmaintained or hash with a 32-bit
 * function that saturates in the millions; this one takes 46 bits of cyrb53 (14 index + 32 rank).
 */
export const HLL_PRECISION = 14;
const M = 1 << HLL_PRECISION;
const ALPHA = 0.7213 / (1 + 1.079 / M);

/** A hashed item: which register, and the rank (leading zeros + 1) it offers. */
export interface HllHash {
  index: number;
  rank: number;
}

/** cyrb53's two 32-bit lanes, mixed; public-domain algorithm by bryc. */
export function hashForHll(value: string): HllHash {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return { index: (h1 >>> 0) & (M - 1), rank: Math.clz32(h2 >>> 0) + 1 };
}

export class HyperLogLog {
  readonly registers = new Uint8Array(M);

  add(hash: HllHash): void {
    if (this.registers[hash.index]! < hash.rank) this.registers[hash.index] = hash.rank;
  }

  clear(): void {
    this.registers.fill(0);
  }

  /** The estimated number of distinct items in the union of this and `others`. */
  estimate(...others: HyperLogLog[]): number {
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < M; i++) {
      let r = this.registers[i]!;
      for (const o of others) if (o.registers[i]! > r) r = o.registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = (ALPHA * M * M) / sum;
    // Small-range correction: linear counting is near exact while many registers are empty.
    if (raw <= 2.5 * M && zeros > 0) return Math.round(M * Math.log(M / zeros));
    return Math.round(raw);
  }
}
