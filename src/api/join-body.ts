/**
 * The join response, built as a string. Join is the hot path of a flash crowd; the generic
 * serialiser spent ~3 µs escaping strings that cannot need it. The per-space part (title, state,
 * URLs) is serialised once per change of the space; the per-listener part holds only characters
 * that need no escaping (base64url token, an identity that matched IDENTITY_PATTERN, an ISO time).
 */
import type { JoinGrant } from '../audience/audience-service.js';
import type { LiveSpace } from '../control/live-space.js';
import type { Space } from '../control/model.js';
import type { Urls } from './urls.js';

// Keyed by the Space record itself: LiveSpace replaces it on every change, so a stale entry is never hit.
const fragments = new WeakMap<Space, string>();
let lastIso = { ms: Number.NaN, iso: '' };

function spaceFragment(live: LiveSpace, urls: Urls): string {
  const s = live.space;
  const held = fragments.get(s);
  if (held !== undefined) return held;
  const json = JSON.stringify({
    space: { id: s.id, title: s.title, state: s.state },
    urls: {
      state: urls.state(s.id),
      heartbeat: urls.heartbeat(s.id),
      reactions: urls.reactions(s.id),
      playlist: s.state === 'live' ? urls.playlist(s.id) : null,
    },
  }).slice(1, -1);
  fragments.set(s, json);
  return json;
}

/** Same fields as the JoinResponse schema; test/audience.test.ts checks the two agree. */
export function joinBody(live: LiveSpace, grant: JoinGrant, urls: Urls, heartbeatIntervalSeconds: number): string {
  if (lastIso.ms !== grant.expiresAt) lastIso = { ms: grant.expiresAt, iso: new Date(grant.expiresAt).toISOString() };
  return `{"token":"${grant.token}","identity":"${grant.identity}","role":"listener","expiresAt":"${lastIso.iso}","heartbeatIntervalSeconds":${heartbeatIntervalSeconds},${spaceFragment(live, urls)}}`;
}
