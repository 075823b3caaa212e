/**
 * Access tokens: compact JWTs (RFC 7519) signed with HS256 by the operator's API secret, like
 * LiveKit's. The operator's backend mints them with `createToken`; the server checks one on every
 * privileged request and mints one per listener join.
 *
 * Why by hand and not with `jose`: on Node 20 jose signs and verifies HMAC through WebCrypto, which
 * measured ~90 µs per sign and ~67 µs per verify here, against ~2.6 µs for node:crypto's HMAC — and a
 * listener join is a token mint on the hot path of a flash crowd. The format is the standard one and
 * test/tokens.test.ts checks both directions against jose as an independent implementation. The
 * codec is strict: only HS256, signatures compared in constant time, every claim type-checked.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { fail } from '../errors.js';
import { type Identity, isIdentity, isSpaceId, type SpaceId } from '../ids.js';
import { ROLES, type Role } from './model.js';
import { PrefixedHmac } from './prefixed-hmac.js';

export interface TokenClaims {
  /** The API key whose secret signed the token. */
  iss: string;
  /** The identity the token speaks for. */
  sub: Identity;
  /** Display name shown on stage. */
  name?: string;
  iat: number;
  nbf?: number;
  exp: number;
  /** The space the token is for; absent on operator tokens. */
  space?: SpaceId;
  /** The most this identity may be in that space without approval: a speaker token takes a seat directly. */
  role?: Role;
  /** Operator powers: create and manage every space. */
  operator?: boolean;
}

export interface CreateTokenOptions {
  apiKey: string;
  apiSecret: string;
  identity: string;
  name?: string;
  space?: string;
  role?: Role;
  operator?: boolean;
  /** Lifetime in seconds; default 3600. */
  ttlSeconds?: number;
  /** Clock for tests, epoch ms; default Date.now(). */
  now?: number;
}

/** Secrets shorter than this are refused: HS256 wants at least 256 bits of key. */
export const MIN_SECRET_LENGTH = 32;
const MAX_TOKEN_LENGTH = 4096;

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function headerFor(apiKey: string): string {
  return b64json({ alg: 'HS256', typ: 'JWT', kid: apiKey });
}

function sign(input: string, secret: string | KeyObject): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

/** Mints a signed token. Exported from the package for operators' backends. */
export function createToken(options: CreateTokenOptions): string {
  if (options.apiSecret.length < MIN_SECRET_LENGTH) {
    throw new Error(`apiSecret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (!isIdentity(options.identity)) throw new Error(`identity "${options.identity}" is not a valid identity`);
  if (options.space !== undefined && !isSpaceId(options.space)) throw new Error(`space "${options.space}" is not a valid space id`);
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const claims: TokenClaims = {
    iss: options.apiKey,
    sub: options.identity as Identity,
    iat,
    nbf: iat,
    exp: iat + (options.ttlSeconds ?? 3600),
  };
  if (options.name !== undefined) claims.name = options.name;
  if (options.space !== undefined) claims.space = options.space as SpaceId;
  if (options.role !== undefined) claims.role = options.role;
  if (options.operator) claims.operator = true;
  const body = `${headerFor(options.apiKey)}.${b64json(claims)}`;
  return `${body}.${sign(body, options.apiSecret)}`;
}

/** Spaces whose listener-token prefix is kept (the least recently minted for go first). */
const PREFIXES_KEPT = 1024;

/**
 * The part of a listener token that is the same for every listener of a space within one second:
 * the header, and the claims before `sub` (iss, space, role, iat, exp) base64url-encoded. The
 * claims' JSON is cut at a multiple of three bytes — base64 turns each three bytes into four
 * characters — so the encoded prefix followed by the encoding of the rest (`carry`, then the
 * identity) is exactly the encoding of the whole.
 */
interface ListenerPrefix {
  iat: number;
  exp: number;
  /** `header.` and the encoded first part of the claims. */
  encoded: string;
  /** The claims' JSON after the cut, up to and including `"sub":"` (at most two bytes before it). */
  carry: string;
  /** Signs `encoded` followed by a listener's part, resuming after `encoded`. */
  signer: PrefixedHmac;
}

/** An api key's part in minting listener tokens. */
interface ListenerKey {
  secret: Buffer;
  /** The token header, encoded. */
  header: string;
  /** By space, the least recently renewed first. */
  prefixes: Map<SpaceId, ListenerPrefix>;
}

/** Checks tokens signed by any of the configured keys; also mints listener tokens fast. */
export class TokenAuthority {
  /** Secrets as KeyObjects, made once: HMAC with a string key re-imports it on every call. */
  private readonly secrets: Map<string, KeyObject>;
  /** What minting listener tokens needs of each api key: one lookup per token. */
  private readonly minting = new Map<string, ListenerKey>();
  /** Where a listener's own claims are encoded (an identity is at most 128 ASCII characters). */
  private readonly scratch = Buffer.alloc(256);

  constructor(
    keys: ReadonlyArray<{ apiKey: string; apiSecret: string }>,
    private readonly skewSeconds: number,
  ) {
    this.secrets = new Map();
    for (const k of keys) {
      const secret = Buffer.from(k.apiSecret, 'utf8');
      this.secrets.set(k.apiKey, createSecretKey(secret));
      this.minting.set(k.apiKey, { secret, header: headerFor(k.apiKey), prefixes: new Map() });
    }
  }

  /**
   * The hot path of a join: the same claims as `createToken` would write (iss, space, role, iat,
   * exp, sub), but only the listener's own few bytes are encoded per call; the rest is encoded
   * once per space and second (ListenerPrefix), and the HMAC resumes after that part
   * (prefixed-hmac.ts). Times in seconds.
   */
  mintListener(apiKey: string, identity: Identity, space: SpaceId, iat: number, exp: number): string {
    const prefix = this.prefix(apiKey, space, iat, exp);
    // Identities are ASCII without quotes or backslashes (IDENTITY_PATTERN): no JSON escaping.
    const written = this.scratch.write(`${prefix.carry}${identity}"}`, 0, 'latin1');
    const rest = this.scratch.toString('base64url', 0, written);
    return `${prefix.encoded}${rest}.${prefix.signer.sign(rest)}`;
  }

  private prefix(apiKey: string, space: SpaceId, iat: number, exp: number): ListenerPrefix {
    const key = this.minting.get(apiKey);
    if (key === undefined) throw new Error(`unknown api key ${apiKey}`);
    const prefixes = key.prefixes;
    const held = prefixes.get(space);
    if (held !== undefined && held.iat === iat && held.exp === exp) return held;
    const json = `${JSON.stringify({ iss: apiKey, space, role: 'listener', iat, exp }).slice(0, -1)},"sub":"`;
    // Cut in bytes (an api key may be any text); the bytes after the cut are in the ASCII `"sub":"`.
    const bytes = Buffer.from(json);
    const left = bytes.length % 3;
    const encoded = `${key.header}.${bytes.subarray(0, bytes.length - left).toString('base64url')}`;
    // The listener's part: the carry, an identity of up to 128 characters and `"}`, encoded.
    const longestRest = Math.ceil(((left + 128 + 2) * 4) / 3);
    const made = { iat, exp, encoded, carry: json.slice(json.length - left), signer: new PrefixedHmac(key.secret, encoded, longestRest) };
    prefixes.delete(space);
    prefixes.set(space, made);
    if (prefixes.size > PREFIXES_KEPT) prefixes.delete(prefixes.keys().next().value!);
    return made;
  }

  /** Verifies signature and times; throws token_invalid or token_expired. */
  verify(token: string, nowMs: number = Date.now()): TokenClaims {
    if (token.length > MAX_TOKEN_LENGTH) throw fail('token_invalid', 'The token is too long.');
    const parts = token.split('.');
    if (parts.length !== 3) throw fail('token_invalid');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeJson(headerPart);
    if (header.alg !== 'HS256') throw fail('token_invalid', 'Only HS256 tokens are accepted.');
    const claims = decodeJson(payloadPart);
    const secret = typeof claims.iss === 'string' ? this.secrets.get(claims.iss) : undefined;
    if (secret === undefined) throw fail('token_invalid', 'The token was not issued with a key this server knows.');
    const expected = Buffer.from(sign(`${headerPart}.${payloadPart}`, secret));
    const given = Buffer.from(signaturePart);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw fail('token_invalid');
    const checked = checkClaims(claims);
    const now = nowMs / 1000;
    if (checked.exp + this.skewSeconds < now) throw fail('token_expired');
    if (checked.nbf !== undefined && checked.nbf - this.skewSeconds > now) {
      throw fail('token_invalid', 'The token is not valid yet.');
    }
    // A token from the future would count as issued after a demotion that came before it.
    if (checked.iat - this.skewSeconds > now) {
      throw fail('token_invalid', "The token was issued in the future (iat): check the issuing machine's clock.");
    }
    return checked;
  }
}

function decodeJson(part: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw fail('token_invalid');
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through: not JSON
  }
  throw fail('token_invalid');
}

function checkClaims(c: Record<string, unknown>): TokenClaims {
  const bad = (what: string) => fail('token_invalid', `The token's ${what} claim is missing or malformed.`);
  if (typeof c.sub !== 'string' || !isIdentity(c.sub)) throw bad('sub');
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw bad('exp');
  if (typeof c.iat !== 'number' || !Number.isFinite(c.iat)) throw bad('iat');
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || !Number.isFinite(c.nbf))) throw bad('nbf');
  if (c.name !== undefined && (typeof c.name !== 'string' || c.name.length > 100)) throw bad('name');
  if (c.space !== undefined && (typeof c.space !== 'string' || !isSpaceId(c.space))) throw bad('space');
  if (c.role !== undefined && !ROLES.includes(c.role as Role)) throw bad('role');
  if (c.operator !== undefined && typeof c.operator !== 'boolean') throw bad('operator');
  if (c.operator !== true && c.space === undefined) throw bad('space');
  return c as unknown as TokenClaims;
}
