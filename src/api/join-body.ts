/**
 * The join response, built as a string. Join is the hot path of a flash crowd; the generic
 * serialiser spent ~3 µs escaping strings that cannot need it. The per-space part (title, state,
 * URLs) is serialised once per change of the space; the per-listener part holds only characters
 * that need no escaping (base64url token, an identity that matched IDENTITY_PATTERN, an ISO time).
 */
import type { JoinGrant } from '../audience/audience-service.js';
import type { LiveSpace } from '../control/live-space.js';
import type { Urls } from './urls.js';

const fragments = new WeakMap<LiveSpace, { key: string; json: string }>();
let lastIso = { ms: Number.NaN, iso: '' };

function spaceFragment(live: LiveSpace, urls: Urls): string {
  const s = live.space;
  const key = `${s.state}\u0000${s.title}\u0000${urls.base}`;
  const held = fragments.get(live);
  if (held?.key === key) return held.json;
  const json = JSON.stringify({
    space: { id: s.id, title: s.title, state: s.state },
    urls: {
      state: urls.state(s.id),
      heartbeat: urls.heartbeat(s.id),
      reactions: urls.reactions(s.id),
      playlist: s.state === 'live' ? urls.playlist(s.id) : null,
    },
  }).slice(1, -1);
  fragments.set(live, { key, json });
  return json;
}

/** Same fields as the JoinResponse schema; test/audience.test.ts checks the two agree. */
export function joinBody(live: LiveSpace, grant: JoinGrant, urls: Urls, heartbeatIntervalSeconds: number): string {
  if (lastIso.ms !== grant.expiresAt) lastIso = { ms: grant.expiresAt, iso: new Date(grant.expiresAt).toISOString() };
  return `{"token":"${grant.token}","identity":"${grant.identity}","role":"listener","expiresAt":"${lastIso.iso}","heartbeatIntervalSeconds":${heartbeatIntervalSeconds},${spaceFragment(live, urls)}}`;
}
