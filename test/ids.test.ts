/** Generated ids are safe everywhere they travel: URLs, file names, and command lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isIdentity, isSpaceId, newListenerIdentity, newSpaceId } from '../src/ids.js';

test('space ids are 12 letters and digits, so a command line never reads one as an option', () => {
  const ids = Array.from({ length: 20_000 }, () => newSpaceId());
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9]{12}$/);
    assert.ok(isSpaceId(id));
  }
  assert.equal(new Set(ids).size, ids.length, 'no collisions in 20,000');
  const firstChars = new Set(ids.map((id) => id[0]));
  assert.equal(firstChars.size, 62, 'every character appears in the first position');
});

test('anonymous listener identities are distinct and valid identities', () => {
  const ids = Array.from({ length: 20_000 }, () => newListenerIdentity());
  for (const id of ids) assert.ok(isIdentity(id), id);
  assert.equal(new Set(ids).size, ids.length);
});
