import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { AesGcm } from '../src/stage/srtp/aes-gcm.js';
import { GcmSrtpReceiver, GcmSrtpSender } from '../src/stage/srtp/gcm-srtp-session.js';

function reference(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv(`aes-${key.length * 8}-gcm` as 'aes-128-gcm', key, iv);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

test('AesGcm seals exactly as node:crypto aes-gcm does, for random keys, lengths and data', () => {
  for (const keyLength of [16, 32]) {
    for (let round = 0; round < 300; round++) {
      const key = randomBytes(keyLength);
      const gcm = new AesGcm(key);
      for (let n = 0; n < 3; n++) {
        const iv = randomBytes(12);
        const aad = randomBytes(round < 40 ? round : randomInt(0, 80));
        const plaintext = randomBytes(round < 40 ? round : randomInt(0, 1300));
        const out = Buffer.alloc(plaintext.length + 16);
        gcm.seal(iv, aad, plaintext, out, 0);
        assert.deepEqual(out, reference(key, iv, aad, plaintext), `key ${keyLength * 8} bits, aad ${aad.length}, data ${plaintext.length}`);
      }
    }
  }
});

test('AesGcm opens what node:crypto sealed, and refuses a changed byte, header or tag', () => {
  const key = randomBytes(16);
  const gcm = new AesGcm(key);
  for (let round = 0; round < 200; round++) {
    const iv = randomBytes(12);
    const aad = randomBytes(randomInt(12, 40));
    const plaintext = randomBytes(randomInt(1, 400));
    const sealed = reference(key, iv, aad, plaintext);
    const ciphertext = sealed.subarray(0, plaintext.length);
    const tag = sealed.subarray(plaintext.length);
    const out = Buffer.alloc(plaintext.length);
    assert.equal(gcm.open(iv, aad, ciphertext, tag, out, 0), true);
    assert.deepEqual(out, plaintext);

    const flip = (b: Buffer) => {
      const c = Buffer.from(b);
      c[randomInt(0, c.length)]! ^= 1 << randomInt(0, 8);
      return c;
    };
    const untouched = Buffer.alloc(plaintext.length, 7);
    assert.equal(gcm.open(iv, aad, flip(ciphertext), tag, untouched, 0), false, 'a changed payload byte');
    assert.equal(gcm.open(iv, flip(aad), ciphertext, tag, untouched, 0), false, 'a changed header byte');
    assert.equal(gcm.open(iv, aad, ciphertext, flip(tag), untouched, 0), false, 'a changed tag');
    assert.equal(gcm.open(flip(iv), aad, ciphertext, tag, untouched, 0), false, 'another IV');
    assert.equal(gcm.open(iv, aad, ciphertext, tag.subarray(0, 15), untouched, 0), false, 'a short tag');
    assert.ok(
      untouched.every((b) => b === 7),
      'nothing is written for a packet that is not authentic',
    );
  }
});

test('AesGcm seals in place', () => {
  const key = randomBytes(16);
  const gcm = new AesGcm(key);
  const iv = randomBytes(12);
  const aad = randomBytes(12);
  const plaintext = randomBytes(90);
  const buffer = Buffer.alloc(12 + 90 + 16);
  plaintext.copy(buffer, 12);
  gcm.seal(iv, aad, buffer.subarray(12, 102), buffer, 12);
  assert.deepEqual(buffer.subarray(12), reference(key, iv, aad, plaintext));
});

/**
 * RFC 7714 section 16 (16.1.1 for AEAD_AES_128_GCM, 16.2.1 for AEAD_AES_256_GCM): the RTP packet
 * "Gallia est omnis divisa in partes tres", sequence number 0xf17b, SSRC 0x5501a0b2, ROC 0, sealed
 * with the session key and the salt "Quid pro quo" — through the SRTP sender and receiver the stage
 * uses, so the IV's making (salt xor SSRC, ROC, SEQ) is checked too.
 */
test('the SRTP sender and receiver give RFC 7714 section 16 test vectors (AES-128-GCM and AES-256-GCM)', () => {
  const hex = (h: string) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
  const header = hex('8040f17b 8041f8d3 5501a0b2');
  const payload = hex('47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573');
  const salt = hex('517569642070726f2071756f');
  const vectors: Array<[string, Buffer, Buffer]> = [
    [
      '16.1.1',
      hex('000102030405060708090a0b0c0d0e0f'),
      hex(`f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833
           899d7f27 beb16a91 52cf765e e4390cce`),
    ],
    [
      '16.2.1',
      hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
      hex(`32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b
           7aa3db36 dfffd6b0 f9bb7878 d7a76c13`),
    ],
  ];
  for (const [section, key, sealed] of vectors) {
    const packet = new GcmSrtpSender(key, salt).protect(header, payload);
    assert.equal(packet.toString('hex'), Buffer.concat([header, sealed]).toString('hex'), `RFC 7714 ${section}`);
    assert.deepEqual(new GcmSrtpReceiver(key, salt).unprotect(packet), Buffer.concat([header, payload]), `RFC 7714 ${section}, opened`);
  }
});
