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

interface Fragment {
  json: string;
  /** UTF-8 bytes beyond one per character (a title may be in any script; everything else is ASCII). */
  extraBytes: number;
}

// Keyed by the Space record itself: LiveSpace replaces it on every change, so a stale entry is never hit.
const fragments = new WeakMap<Space, Fragment>();
let lastIso = { ms: Number.NaN, iso: '' };

function spaceFragment(live: LiveSpace, urls: Urls): Fragment {
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
  const made = { json, extraBytes: Buffer.byteLength(json) - json.length };
  fragments.set(s, made);
  return made;
}

/**
 * Same fields as the JoinResponse schema (test/audience.test.ts checks the two agree), and the
 * body's length in bytes, known without encoding it: only the space's part can be other than ASCII.
 */
export function joinBody(
  live: LiveSpace,
  grant: JoinGrant,
  urls: Urls,
  heartbeatIntervalSeconds: number,
  /** The listener's invite tag (invite-tags.ts): base64url. */
  inviteTag: string,
): { body: string; bytes: number } {
  if (lastIso.ms !== grant.expiresAt) lastIso = { ms: grant.expiresAt, iso: new Date(grant.expiresAt).toISOString() };
  const fragment = spaceFragment(live, urls);
  const body = `{"token":"${grant.token}","identity":"${grant.identity}","role":"listener","expiresAt":"${lastIso.iso}","heartbeatIntervalSeconds":${heartbeatIntervalSeconds},"inviteTag":"${inviteTag}",${fragment.json}}`;
  return { body, bytes: body.length + fragment.extraBytes };
}
