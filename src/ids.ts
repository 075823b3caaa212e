/**
 * Branded ids: a SpaceId can never be passed where an Identity is expected, and every id that
 * crosses the API boundary is checked against one pattern (no path traversal, no control bytes).
 */
import { randomBytes } from 'node:crypto';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type SpaceId = Brand<string, 'SpaceId'>;
/** Who a person is inside a space: chosen by the operator's backend, or `anon-…` for anonymous listeners. */
export type Identity = Brand<string, 'Identity'>;

/** Space ids: 1–64 of [A-Za-z0-9_-]. Generated ones are 12 letters and digits (see newSpaceId). */
export const SPACE_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
/** Identities: 1–128 of [A-Za-z0-9_.@:-], not starting with a dot. */
export const IDENTITY_PATTERN = '^[A-Za-z0-9_@:-][A-Za-z0-9_.@:-]{0,127}$';

const spaceIdRe = new RegExp(SPACE_ID_PATTERN);
const identityRe = new RegExp(IDENTITY_PATTERN);

export function isSpaceId(value: string): value is SpaceId {
  return spaceIdRe.test(value);
}

export function isIdentity(value: string): value is Identity {
  return identityRe.test(value);
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * 12 characters of [A-Za-z0-9] (71 bits). Only letters and digits: an id that began with "-" (as
 * base64url ids do one time in 64) would read as an option on a command line (`rostrum space start -x…`).
 */
export function newSpaceId(): SpaceId {
  let id = '';
  while (id.length < 12) {
    for (const byte of randomBytes(16)) {
      // 248 = 4 × 62: dropping bytes above it keeps every character equally likely.
      if (byte < 248 && id.length < 12) id += BASE62[byte % 62];
    }
  }
  return id as SpaceId;
}

/**
 * Random bytes for listener ids, drawn 4080 at a time (a multiple of 12) and encoded at once:
 * randomBytes(12) per join cost 7–12 µs (a call into OpenSSL and a getpid syscall each time), and
 * encoding 12 bytes per join cost half a microsecond more than cutting 16 characters from a string.
 * 12 bytes are exactly 16 base64url characters, so each slice is one id's bytes, encoded.
 */
const POOL_IDS = 340;
const ID_CHARS = 16;
let pool = '';
let poolOffset = 0;

/** An anonymous listener identity: 96 random bits, so ids from many nodes never collide. */
export function newListenerIdentity(): Identity {
  if (poolOffset === pool.length) {
    pool = randomBytes(POOL_IDS * 12).toString('base64url');
    poolOffset = 0;
  }
  const random = pool.slice(poolOffset, poolOffset + ID_CHARS);
  poolOffset += ID_CHARS;
  return `anon-${random}` as Identity;
}

/** Casts a value already checked by a schema (the API validates patterns before handlers run). */
export const asSpaceId = (value: string): SpaceId => value as SpaceId;
export const asIdentity = (value: string): Identity => value as Identity;
