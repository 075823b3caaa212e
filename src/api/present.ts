/**
 * How control-plane records look at the API boundary: ISO times, URLs added, nothing private.
 */
import type { PinnedLink, Space, StageMember, StageRequest } from '../control/model.js';
import type { Urls } from './urls.js';

/** Epoch ms → ISO-8601 (null stays null), as every time leaves the API. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function presentSpace(s: Space, urls: Urls) {
  return {
    id: s.id,
    title: s.title,
    state: s.state,
    host: { identity: s.hostIdentity, name: s.hostName },
    scheduledStart: iso(s.scheduledStart),
    startedAt: iso(s.startedAt),
    endedAt: iso(s.endedAt),
    recording: s.recording,
    autoStart: s.autoStart,
    createdAt: new Date(s.createdAt).toISOString(),
    peakListeners: s.peakListeners,
    totalListeners: s.totalListeners,
    pinnedLink: presentLink(s.pinnedLink),
    replayTrim: s.replayTrim,
    listenUrl: urls.page(s.id),
    stateUrl: urls.state(s.id),
  };
}

/** A pinned link as listeners see it (who pinned it is in the moderation log). */
export function presentLink(link: PinnedLink | null) {
  return link ? { url: link.url, title: link.title, pinnedAt: new Date(link.pinnedAt).toISOString() } : null;
}

export function presentMember(m: StageMember) {
  return { identity: m.identity, name: m.name, role: m.role, muted: m.muted };
}

export function presentRequest(r: StageRequest) {
  return { identity: r.identity, name: r.name, requestedAt: new Date(r.requestedAt).toISOString() };
}
