/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): a secret is `whsec_` and base64 of
 * its key bytes; a message is signed as `v1,` + base64 of HMAC-SHA256(key, `${id}.${timestamp}.${body}`),
 * sent in `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (space-separated
 * signatures, so a rotated secret can sign beside the old one). Written here (a dozen lines over
 * node:crypto) rather than taken from the `standardwebhooks` package, which the SDK would then pull
 * into every operator's backend; test/webhooks/signature.test.ts checks both ways against that package.
 */
import crypto from 'node:crypto';

const PREFIX = 'whsec_';
/** How far a message's timestamp may be from the receiver's clock (the specification's 5 minutes). */
export const TOLERANCE_SECONDS = 5 * 60;

/** A new signing secret: 24 random bytes. */
export function newSecret(): string {
  return `${PREFIX}${crypto.randomBytes(24).toString('base64')}`;
}

function key(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

/** The `v1,` signature of one message. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${crypto.createHmac('sha256', key(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The three headers a delivery carries. */
export function signedHeaders(secret: string, id: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, body) };
}

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

type Headers = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function header(headers: Headers, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function')
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verifies a delivery as a receiver should: the headers are present, the timestamp is within five
 * minutes of now, and one of the signatures is ours (compared in constant time). Returns the parsed
 * body; throws WebhookVerificationError otherwise. `body` is the raw request body, as received.
 */
export function verifyWebhook(secret: string, headers: Headers, body: string | Buffer, now = Date.now()): unknown {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - seconds) > TOLERANCE_SECONDS) {
    throw new WebhookVerificationError('the timestamp is malformed or too far from now');
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const expected = Buffer.from(sign(secret, id, seconds, text).slice(3), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) return JSON.parse(text);
  }
  throw new WebhookVerificationError('no signature matches');
}
