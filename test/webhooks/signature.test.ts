/**
 * Standard Webhooks signatures, checked both ways against the `standardwebhooks` package (the
 * specification's own TypeScript implementation): what Rostrum signs it verifies, and what it signs
 * Rostrum's verifyWebhook (the SDK's) accepts; plus the refusals a receiver relies on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { newSecret, sign, signedHeaders, verifyWebhook, WebhookVerificationError } from '../../src/webhooks/signature.js';

test('what Rostrum signs, the standardwebhooks package verifies, for any body and id', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\s,]/.test(s)),
      fc.json(),
      (id, body) => {
        const secret = newSecret();
        const headers = signedHeaders(secret, id, body);
        assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
      },
    ),
    { numRuns: 300 },
  );
});

test('what the standardwebhooks package signs, verifyWebhook accepts', () => {
  const secret = newSecret();
  const body = JSON.stringify({ type: 'space.live', timestamp: new Date().toISOString(), sequence: 2, data: { space: { id: 'abc' } } });
  const at = new Date();
  const signature = new Webhook(secret).sign('evt_1', at, body);
  assert.equal(signature, sign(secret, 'evt_1', Math.floor(at.getTime() / 1000), body), 'the same signature');
  const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
  assert.deepEqual(verifyWebhook(secret, headers, body), JSON.parse(body));
  // Fetch's Headers, and several signatures (a secret being rotated) of which one is ours.
  const rotated = new Headers({ ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${signature}` });
  assert.deepEqual(verifyWebhook(secret, rotated, Buffer.from(body)), JSON.parse(body));
});

test('verifyWebhook refuses a changed body, another secret, an old or future timestamp, and missing headers', () => {
  const secret = newSecret();
  const body = '{"type":"space.ended"}';
  const headers = signedHeaders(secret, 'evt_2', body);
  const refused = (h: Record<string, string>, b = body, s = secret, now?: number) =>
    assert.throws(() => verifyWebhook(s, h, b, now), WebhookVerificationError);
  refused(headers, '{"type":"space.live"}');
  refused(headers, body, newSecret());
  refused(headers, body, secret, Date.now() + 6 * 60_000);
  refused(headers, body, secret, Date.now() - 6 * 60_000);
  refused({ ...headers, 'webhook-signature': 'v2,whatever' });
  refused({ ...headers, 'webhook-id': 'evt_3' });
  const { 'webhook-timestamp': _, ...noTimestamp } = headers;
  refused(noTimestamp);
  // The package refuses the same.
  assert.throws(() => new Webhook(secret).verify('{"type":"space.live"}', headers));
});
