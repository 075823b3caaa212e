/**
 * Tokens: forged, tampered, expired, not yet valid, for another space, and revoked by removal — all
 * refused over real HTTP. jose (an independent JWT implementation) verifies our tokens and signs
 * tokens the server accepts, so the format is standard HS256 JWT.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { PrefixedHmac } from '../src/control/prefixed-hmac.js';
import { createToken, TokenAuthority } from '../src/control/tokens.js';
import type { Identity, SpaceId } from '../src/ids.js';
import { createSpace, stageFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('tokens over HTTP', () => {
  let t: TestServer;
  let id: string;
  before(async () => {
    t = await startTestServer({ clockSkewSeconds: 30 });
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  const asHost = (token: string) => t.api.call('PATCH', `/api/spaces/${id}`, { token, body: { title: 'x' } });

  test('a token signed with another secret is refused as token_invalid', async () => {
    const forged = createToken({ apiKey: t.server.credentials.apiKey, apiSecret: 'x'.repeat(40), identity: 'h', space: id, role: 'host' });
    const res = await asHost(forged);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
  });

  test('a token whose payload was edited after signing is refused', async () => {
    const listener = t.token(id, 'someone', 'listener');
    const [header, , signature] = listener.split('.');
    const payload = { ...JSON.parse(Buffer.from(listener.split('.')[1]!, 'base64url').toString()), operator: true };
    const res = await asHost(`${header}.${b64(payload)}.${signature}`);
    assert.equal(res.body.error.code, 'token_invalid');
  });

  test('an unsigned token (alg none) is refused', async () => {
    const payload = { iss: t.server.credentials.apiKey, sub: 'operator', iat: 0, exp: 2 ** 31, operator: true };
    const res = await asHost(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
    assert.equal(res.body.error.code, 'token_invalid');
  });

  test('a token from an unknown API key is refused', async () => {
    const token = createToken({
      apiKey: 'someone-else',
      apiSecret: t.server.credentials.apiSecret,
      identity: 'h',
      space: id,
      role: 'host',
    });
    assert.equal((await asHost(token)).body.error.code, 'token_invalid');
  });

  test('garbage, a wrong scheme and a missing token are told apart', async () => {
    assert.equal((await asHost('not-a-jwt')).body.error.code, 'token_invalid');
    const basic = await t.api.call('PATCH', `/api/spaces/${id}`, {
      headers: { authorization: 'Basic Zm9vOmJhcg==' },
      body: { title: 'x' },
    });
    assert.equal(basic.body.error.code, 'token_invalid');
    const none = await t.api.call('PATCH', `/api/spaces/${id}`, { body: { title: 'x' } });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'token_missing');
  });

  test('an expired token is refused as token_expired, but small clock skew is tolerated', async () => {
    const hourAgo = Date.now() - 3600_000;
    const expired = t.token(id, 'h', 'host', { now: hourAgo, ttlSeconds: 60 });
    const res = await asHost(expired);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_expired');

    const justExpired = t.token(id, 'h', 'host', { now: Date.now() - 70_000, ttlSeconds: 60 });
    assert.equal((await asHost(justExpired)).status, 200, 'expired 10 s ago is within the 30 s skew');
  });

  test('a token that is not valid yet is refused', async () => {
    const future = t.token(id, 'h', 'host', { now: Date.now() + 3600_000 });
    assert.equal((await asHost(future)).body.error.code, 'token_invalid');
  });

  test('a token for another space is refused as token_wrong_space', async () => {
    const other = await createSpace(t, { live: true });
    const res = await asHost(t.token(other, 'h', 'host'));
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'token_wrong_space');
  });

  test('a removed identity cannot come back with its old token, a new token, or a join', async () => {
    const fx = await stageFixture(t, { live: true });
    const removed = await t.api.post(`/api/spaces/${fx.id}/participants/s/remove`, { token: fx.tokens.host });
    assert.equal(removed.status, 200);

    const oldToken = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: fx.tokens.speaker });
    assert.equal(oldToken.status, 403);
    assert.equal(oldToken.body.error.code, 'identity_removed');

    const fresh = t.token(fx.id, 's', 'speaker');
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/stage`, { token: fresh })).body.error.code, 'identity_removed');
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/join`, { token: fresh })).body.error.code, 'identity_removed');
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/requests`, { token: fresh })).body.error.code, 'identity_removed');

    const minted = await t.api.post(`/api/spaces/${fx.id}/tokens`, { token: t.operator, body: { identity: 's', role: 'speaker' } });
    assert.equal(minted.status, 403);
    assert.equal(minted.body.error.code, 'identity_removed');
  });

  test('a speaker moved to the audience needs a new invitation: tokens issued before the move no longer seat it', async () => {
    const fx = await stageFixture(t, { live: true });
    await t.api.post(`/api/spaces/${fx.id}/participants/s/move-to-audience`, { token: fx.tokens.host });

    const again = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: fx.tokens.speaker });
    assert.equal(again.status, 403);
    assert.equal(again.body.error.code, 'permission_denied');
  });

  test('a token issued in the future (iat beyond the skew) is refused', async () => {
    const ahead = t.token(id, 'h', 'host', { now: Date.now() + 40_000, ttlSeconds: 3600 });
    const res = await asHost(ahead);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'token_invalid');
    // createToken sets nbf from iat (refused as not valid yet); a token without nbf, for its iat alone.
    const secret = new TextEncoder().encode(t.server.credentials.apiSecret);
    const noNbf = await new SignJWT({ space: id, role: 'host' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(t.server.credentials.apiKey)
      .setSubject('h')
      .setIssuedAt(Math.floor(Date.now() / 1000) + 3600)
      .setExpirationTime('2h')
      .sign(secret);
    const refused = await asHost(noNbf);
    assert.equal(refused.body.error.code, 'token_invalid');
    assert.match(refused.body.error.message, /issued in the future/);
    const withinSkew = t.token(id, 'h', 'host', { now: Date.now() + 20_000 });
    assert.equal((await asHost(withinSkew)).status, 200, 'an issuer 20 s ahead is within the 30 s skew');
  });
  test('host tokens are only minted for the identity that hosts the space', async () => {
    const res = await t.api.post(`/api/spaces/${id}/tokens`, { token: t.operator, body: { identity: 'mallory', role: 'host' } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'not_the_host');
  });

  test('a listener token from join is a standard HS256 JWT that jose verifies', async () => {
    const joined = await t.api.post(`/api/spaces/${id}/join`);
    const secret = new TextEncoder().encode(t.server.credentials.apiSecret);
    const { payload } = await jwtVerify(joined.body.token, secret, { algorithms: ['HS256'], issuer: t.server.credentials.apiKey });
    assert.equal(payload.sub, joined.body.identity);
    assert.equal(payload.space, id);
    assert.equal(payload.role, 'listener');
    assert.equal(decodeProtectedHeader(joined.body.token).alg, 'HS256');
  });

  test('a token signed by jose is accepted by the server', async () => {
    const secret = new TextEncoder().encode(t.server.credentials.apiSecret);
    const token = await new SignJWT({ space: id, role: 'host', name: 'Hana' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(t.server.credentials.apiKey)
      .setSubject('h')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(secret);
    assert.equal((await asHost(token)).status, 200);
  });
});

describe('TokenAuthority', () => {
  const creds = { apiKey: 'k1', apiSecret: 's'.repeat(32) };
  const authority = new TokenAuthority([creds], 0);

  test('verify compares signatures of equal length in constant time and refuses a one-character change', () => {
    const token = createToken({ ...creds, identity: 'a', space: 'sp', role: 'listener' });
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    assert.throws(() => authority.verify(`${token.slice(0, -1)}${last}`), { code: 'token_invalid' });
  });

  test('tokens that claim no space are refused unless they are operator tokens', () => {
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: 'k1', sub: 'a', iat: 1, exp: 2 ** 31 })}`;
    const sig = createHmac('sha256', creds.apiSecret).update(body).digest('base64url');
    assert.throws(() => authority.verify(`${body}.${sig}`), { code: 'token_invalid' });
  });

  test('createToken refuses a short secret and a malformed identity', () => {
    assert.throws(() => createToken({ apiKey: 'k', apiSecret: 'short', identity: 'a' }), /at least 32/);
    assert.throws(() => createToken({ ...creds, identity: '../etc' }), /not a valid identity/);
  });
});

describe('listener tokens', () => {
  test('mintListener writes the same claims createToken would, for keys and identities of every length, and jose verifies them', async () => {
    // Api keys of lengths 1–9 move the cut in the claims (see ListenerPrefix) through all three
    // remainders; a non-ASCII key and a secret longer than a SHA-256 block take the rarer paths.
    const keys = [...Array.from({ length: 9 }, (_, i) => 'k'.repeat(i + 1)), 'clé-é'];
    for (const [n, apiKey] of keys.entries()) {
      const apiSecret = n % 2 === 0 ? 's'.repeat(32 + n) : 'S'.repeat(100);
      const authority = new TokenAuthority([{ apiKey, apiSecret }], 0);
      for (const identity of ['a', 'anon-abcdefghijklmnop', `x${'y'.repeat(127)}`]) {
        const token = authority.mintListener(apiKey, identity as Identity, 'sp1' as SpaceId, 1_700_000_000, 1_700_003_600);
        const { payload } = await jwtVerify(token, new TextEncoder().encode(apiSecret), {
          algorithms: ['HS256'],
          currentDate: new Date(1_700_000_000_000),
        });
        assert.deepEqual(payload, { iss: apiKey, space: 'sp1', role: 'listener', iat: 1_700_000_000, exp: 1_700_003_600, sub: identity });
        assert.equal(authority.verify(token, 1_700_000_000_000).sub, identity);
      }
    }
  });
});

describe('PrefixedHmac', () => {
  test('equals node:crypto HMAC-SHA256 for random keys, prefixes and messages of every length around the block size', () => {
    const random = (n: number) => randomBytes(n).toString('base64url').slice(0, n);
    for (let prefixLength = 0; prefixLength <= 200; prefixLength += 7) {
      const key = randomBytes(1 + ((prefixLength * 13) % 150));
      const prefix = random(prefixLength);
      const signer = new PrefixedHmac(key, prefix, 140);
      for (let restLength = 0; restLength <= 140; restLength += 3) {
        const rest = random(restLength);
        assert.equal(
          signer.sign(rest),
          createHmac('sha256', key)
            .update(prefix + rest)
            .digest('base64url'),
          `prefix ${prefixLength}, rest ${restLength}`,
        );
      }
    }
  });

  test('signs RFC 4231 test cases 1-4, 6 and 7 (HMAC-SHA-256), however the message is split into prefix and rest', () => {
    const hex = (h: string) => Buffer.from(h, 'hex');
    const latin1 = (b: Buffer) => b.toString('latin1');
    // RFC 4231 section 4: key, data, HMAC-SHA-256 (case 5 is a truncated output, left out).
    const cases: Array<[Buffer, Buffer, string]> = [
      [hex('0b'.repeat(20)), Buffer.from('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
      [
        Buffer.from('Jefe'),
        Buffer.from('what do ya want for nothing?'),
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      ],
      [hex('aa'.repeat(20)), hex('dd'.repeat(50)), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
      [
        hex('0102030405060708090a0b0c0d0e0f10111213141516171819'),
        hex('cd'.repeat(50)),
        '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
      ],
      [
        hex('aa'.repeat(131)),
        Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'),
        '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
      ],
      [
        hex('aa'.repeat(131)),
        Buffer.from(
          'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
        ),
        '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
      ],
    ];
    for (const [n, [key, data, mac]] of cases.entries()) {
      const message = latin1(data);
      for (const split of [0, 1, Math.floor(message.length / 2), message.length]) {
        const signer = new PrefixedHmac(key, message.slice(0, split), 200);
        assert.equal(Buffer.from(signer.sign(message.slice(split)), 'base64url').toString('hex'), mac, `case ${n}, split at ${split}`);
      }
    }
  });

  test('refuses a rest longer than it was made for rather than signing part of it', () => {
    assert.throws(() => new PrefixedHmac(Buffer.from('k'), 'p', 10).sign('x'.repeat(11 + 2 * 64 + 1)), RangeError);
  });
});

describe('demotions against clocks that differ (a server allowing 1 s of skew)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ clockSkewSeconds: 1 });
  });
  after(() => t.close());

  test('a token from an issuer whose clock runs ahead, minted before a move to the audience, does not undo the move', async () => {
    const fx = await stageFixture(t, { live: true });
    // Minted just before the move by a clock 0.9 s ahead: its iat reads as after the move.
    const ahead = t.token(fx.id, 's', 'speaker', { now: Date.now() + 900 });
    await t.api.post(`/api/spaces/${fx.id}/participants/s/move-to-audience`, { token: fx.tokens.host });
    const undo = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: ahead });
    assert.equal(undo.status, 403, JSON.stringify(undo.body));
    assert.match(undo.body.error.message, /within the 1 s allowed for clocks that differ/);

    // Issued later than the move by more than the skew: a new invitation by token.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/stage`, { token: t.token(fx.id, 's', 'speaker') })).status, 200);
  });

  test('a dismissed co-host cannot come back as co-host with a co-host token minted ahead of the dismissal', async () => {
    const fx = await stageFixture(t, { live: true });
    assert.equal((await t.api.post(`/api/spaces/${fx.id}/participants/s/appoint-cohost`, { token: fx.tokens.host })).status, 200);
    const ahead = t.token(fx.id, 's', 'cohost', { now: Date.now() + 900 });
    const dismissed = await t.api.post(`/api/spaces/${fx.id}/participants/s/dismiss-cohost`, { token: fx.tokens.host });
    assert.equal(dismissed.status, 200, JSON.stringify(dismissed.body));
    assert.equal((await t.api.call('DELETE', `/api/spaces/${fx.id}/stage`, { token: ahead })).status, 200);
    const back = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: ahead });
    assert.equal(back.status, 403, JSON.stringify(back.body));
  });
});
