/**
 * TURN for speakers whose network blocks the direct path: time-limited credentials minted per stage
 * connection by the "TURN REST API" scheme (draft-uberti-behave-turn-rest-00 §2.2), the one coturn's
 * `use-auth-secret` checks: the username is `<expiry, unix seconds>:<identity>`, the password is
 * base64(HMAC-SHA1(shared secret, username)). No state is shared with the TURN server but the secret,
 * and a credential stops working at its expiry (coturn refuses an allocation or refresh after it).
 */
import { createHmac } from 'node:crypto';

export interface TurnConfig {
  /** turn:/turns:/stun: URLs, as browsers take them (`turn:host:3478?transport=tcp`). */
  urls: string[];
  /** The secret shared with the TURN server (coturn's static-auth-secret). */
  secret: string;
  /** How long a minted credential works, seconds. */
  ttlSeconds: number;
}

/** As RTCIceServer in browsers (and werift). */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

const ICE_URL = /^(stun|turns?):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/;

/** Comma-separated turn:, turns: and stun: URLs; each checked. */
export function parseIceUrls(value: string | undefined): string[] {
  const urls = (value ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const url of urls) {
    const m = ICE_URL.exec(url);
    if (!m || (m[1] === 'stun' && m[4])) {
      throw new Error(`ROSTRUM_TURN_URLS must list turn:host[:port][?transport=udp|tcp], turns:… or stun:host[:port] URLs, got "${url}"`);
    }
  }
  return urls;
}

/** The TURN REST API credential for `identity`, valid until `expiresAt` (unix seconds). */
export function turnCredential(secret: string, identity: string, expiresAt: number): { username: string; credential: string } {
  const username = `${expiresAt}:${identity}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/**
 * The ICE servers a stage connection is handed: the TURN URLs with a fresh credential, and a STUN
 * entry for each TURN server reached over UDP (a TURN server answers STUN binding requests too, so
 * clients learn their public address from it rather than from a third party's STUN server).
 */
export function iceServersFor(
  turn: TurnConfig | undefined,
  identity: string,
  now = Date.now(),
): { iceServers: IceServer[]; expiresAt?: number } {
  if (!turn || turn.urls.length === 0) return { iceServers: [] };
  const relays = turn.urls.filter((u) => !u.startsWith('stun:'));
  const stun = new Set(turn.urls.filter((u) => u.startsWith('stun:')));
  for (const url of relays) {
    const m = ICE_URL.exec(url);
    if (m && m[1] === 'turn' && m[5] !== 'tcp') stun.add(`stun:${m[2]}${m[3] ?? ''}`);
  }
  const iceServers: IceServer[] = [];
  if (stun.size > 0) iceServers.push({ urls: [...stun] });
  if (relays.length === 0) return { iceServers };
  const expiresAt = Math.floor(now / 1000) + turn.ttlSeconds;
  iceServers.push({ urls: relays, ...turnCredential(turn.secret, identity, expiresAt) });
  return { iceServers, expiresAt };
}
