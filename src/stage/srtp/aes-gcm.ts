/**
 * AES-GCM (NIST SP 800-38D) for SRTP packets, with the key set up once per SRTP context.
 *
 * Written by hand because node:crypto cannot do this cheaply: its GCM is one-shot per IV, so every
 * packet needs a new native cipher object (createCipheriv + setAAD + update + final + getAuthTag:
 * ≈ 7 µs for a 100-byte packet, the largest single cost of a forwarding stage, which seals ~1,800
 * packets a second). Here the AES block cipher stays native — one long-lived AES-ECB cipher turns
 * each packet's counter blocks into key stream in a single call — and only GHASH, the GF(2^128)
 * authenticator, is JavaScript, with an 8-bit multiplication table per key (Shoup's method: 16 table
 * lookups per 16-byte block). Tested against node:crypto's aes-*-gcm on random inputs, and through
 * the SRTP sender and receiver against RFC 7714's section 16 test vectors (AES-128 and AES-256).
 */
import { type Cipher, createCipheriv, timingSafeEqual } from 'node:crypto';

export const GCM_TAG_LENGTH = 16;
export const GCM_IV_LENGTH = 12;

/**
 * Z·x for a field element held as four big-endian 32-bit words (GCM's bit order: the first bit of the
 * first byte is x^0). Shifts right one bit; a bit falling off the end folds back as R = 0xE1 << 120.
 */
function timesX(z: Uint32Array, at: number): void {
  const carry = z[at + 3]! & 1;
  z[at + 3] = (z[at + 3]! >>> 1) | (z[at + 2]! << 31);
  z[at + 2] = (z[at + 2]! >>> 1) | (z[at + 1]! << 31);
  z[at + 1] = (z[at + 1]! >>> 1) | (z[at]! << 31);
  z[at] = (z[at]! >>> 1) ^ (carry ? 0xe1000000 : 0);
}

/**
 * What shifting a byte off the end by eight places folds back into the top word: REDUCE[b] for the
 * low byte b of the element being multiplied by x^8 (the other three words stay zero).
 */
const REDUCE = (() => {
  const table = new Uint32Array(256);
  const z = new Uint32Array(4);
  for (let b = 0; b < 256; b++) {
    z.fill(0);
    z[3] = b;
    for (let i = 0; i < 8; i++) timesX(z, 0);
    table[b] = z[0]!;
  }
  return table;
})();

export class AesGcm {
  private readonly ecb: Cipher;
  /** byte·H for every byte value (the byte as the element's first 8 coefficients), 4 words each. */
  private readonly table = new Uint32Array(256 * 4);
  private readonly scratch = Buffer.alloc(16);
  private readonly expected = Buffer.alloc(GCM_TAG_LENGTH);
  /** Counter blocks for one packet, grown as needed. */
  private counters = Buffer.alloc(16 * 16);
  // The running GHASH value, as four words (kept in fields so the hot loop allocates nothing).
  private y0 = 0;
  private y1 = 0;
  private y2 = 0;
  private y3 = 0;

  constructor(key: Buffer) {
    if (![16, 24, 32].includes(key.length)) throw new RangeError(`an AES key is 16, 24 or 32 bytes, not ${key.length}`);
    this.ecb = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    this.ecb.setAutoPadding(false);
    const h = this.ecb.update(Buffer.alloc(16));
    const t = this.table;
    // The byte 0x80 is x^0 (1), so its entry is H; each bit further right is one more factor of x.
    for (let w = 0; w < 4; w++) t[128 * 4 + w] = h.readUInt32BE(w * 4);
    for (let i = 64; i >= 1; i >>= 1) {
      t.copyWithin(i * 4, i * 2 * 4, i * 2 * 4 + 4);
      timesX(t, i * 4);
    }
    for (let i = 2; i < 256; i <<= 1) {
      for (let j = 1; j < i; j++) for (let w = 0; w < 4; w++) t[(i + j) * 4 + w] = t[i * 4 + w]! ^ t[j * 4 + w]!;
    }
  }

  /**
   * Encrypts `plaintext` and authenticates it with `aad`, writing ciphertext then the 16-byte tag
   * into `out` at `at` (out may be plaintext's own buffer at the same place: it works in place).
   */
  seal(iv: Buffer, aad: Buffer, plaintext: Buffer, out: Buffer, at: number): void {
    const keyStream = this.keyStream(iv, plaintext.length);
    for (let i = 0; i < plaintext.length; i++) out[at + i] = plaintext[i]! ^ keyStream[16 + i]!;
    this.writeTag(keyStream, aad, out.subarray(at, at + plaintext.length), out, at + plaintext.length);
  }

  /**
   * Checks `tag` over `aad` and `ciphertext` and decrypts into `out` at `at`. Returns false (and writes
   * nothing) when the packet is not authentic.
   */
  open(iv: Buffer, aad: Buffer, ciphertext: Buffer, tag: Buffer, out: Buffer, at: number): boolean {
    const keyStream = this.keyStream(iv, ciphertext.length);
    const expected = this.expected;
    this.writeTag(keyStream, aad, ciphertext, expected, 0);
    if (tag.length !== GCM_TAG_LENGTH || !timingSafeEqual(tag, expected)) return false;
    for (let i = 0; i < ciphertext.length; i++) out[at + i] = ciphertext[i]! ^ keyStream[16 + i]!;
    return true;
  }

  /** E(K, J0) followed by the key stream for `length` bytes: the counter blocks J0, J0+1, … in one call. */
  private keyStream(iv: Buffer, length: number): Buffer {
    if (iv.length !== GCM_IV_LENGTH) throw new RangeError(`a GCM IV here is 12 bytes, not ${iv.length}`);
    const blocks = 1 + Math.ceil(length / 16);
    if (this.counters.length < blocks * 16) this.counters = Buffer.alloc(blocks * 16 * 2);
    const counters = this.counters;
    for (let b = 0; b < blocks; b++) {
      iv.copy(counters, b * 16);
      counters.writeUInt32BE(b + 1, b * 16 + 12);
    }
    return this.ecb.update(counters.subarray(0, blocks * 16));
  }

  /** The tag: GHASH(H, aad, ciphertext) xor E(K, J0), written at out[at..at+16]. */
  private writeTag(keyStream: Buffer, aad: Buffer, ciphertext: Buffer, out: Buffer, at: number): void {
    this.y0 = 0;
    this.y1 = 0;
    this.y2 = 0;
    this.y3 = 0;
    this.absorb(aad);
    this.absorb(ciphertext);
    // The lengths block: bit lengths of aad and ciphertext, 64 bits each (packets stay far below 2^32 bits).
    this.y1 ^= aad.length * 8;
    this.y3 ^= ciphertext.length * 8;
    this.multiply();
    out.writeInt32BE((this.y0 ^ keyStream.readInt32BE(0)) | 0, at);
    out.writeInt32BE((this.y1 ^ keyStream.readInt32BE(4)) | 0, at + 4);
    out.writeInt32BE((this.y2 ^ keyStream.readInt32BE(8)) | 0, at + 8);
    out.writeInt32BE((this.y3 ^ keyStream.readInt32BE(12)) | 0, at + 12);
  }

  /** Y = (Y xor block)·H for each 16-byte block of `data`, the last one zero-padded. */
  private absorb(data: Buffer): void {
    const full = data.length & ~15;
    for (let i = 0; i < full; i += 16) {
      this.y0 ^= data.readInt32BE(i);
      this.y1 ^= data.readInt32BE(i + 4);
      this.y2 ^= data.readInt32BE(i + 8);
      this.y3 ^= data.readInt32BE(i + 12);
      this.multiply();
    }
    if (full === data.length) return;
    const last = this.scratch.fill(0);
    data.copy(last, 0, full);
    this.y0 ^= last.readInt32BE(0);
    this.y1 ^= last.readInt32BE(4);
    this.y2 ^= last.readInt32BE(8);
    this.y3 ^= last.readInt32BE(12);
    this.multiply();
  }

  /** Y = Y·H, by Horner's rule over Y's bytes from the last: Z = Z·x^8 xor table[byte]. */
  private multiply(): void {
    const t = this.table;
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let w = 3; w >= 0; w--) {
      const word = w === 3 ? this.y3 : w === 2 ? this.y2 : w === 1 ? this.y1 : this.y0;
      for (let shift = 0; shift < 32; shift += 8) {
        const out = z3 & 0xff;
        z3 = (z3 >>> 8) | (z2 << 24);
        z2 = (z2 >>> 8) | (z1 << 24);
        z1 = (z1 >>> 8) | (z0 << 24);
        z0 = (z0 >>> 8) ^ REDUCE[out]!;
        const e = ((word >>> shift) & 0xff) * 4;
        z0 ^= t[e]!;
        z1 ^= t[e + 1]!;
        z2 ^= t[e + 2]!;
        z3 ^= t[e + 3]!;
      }
    }
    this.y0 = z0;
    this.y1 = z1;
    this.y2 = z2;
    this.y3 = z3;
  }
}
