import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import { AesGcm } from '../src/stage/srtp/aes-gcm.js';

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
