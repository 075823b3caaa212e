/**
 * The space state document: everything a listener's page shows, as one small JSON body that a shared
 * cache may hold for a second. Built at most once a second per space (or at once after a change),
 * with an ETag from its content so an unchanged document answers 304. No tokens, no request queue.
 */

import { createHash } from 'node:crypto';
import { iso, presentLink } from '../api/present.js';
import type { Urls } from '../api/urls.js';
import type { Bus, Disposer } from '../bus/bus.js';
import type { EventName } from '../bus/events.js';
import type { LiveSpace } from '../control/live-space.js';
import type { Space } from '../control/model.js';
import type { SpaceId } from '../ids.js';
import type { AudienceService } from './audience-service.js';
import type { InviteTags } from './invite-tags.js';

export interface StateDocument {
  body: string;
  etag: string;
}

const CHANGES: readonly EventName[] = [
  'space.updated',
  'space.live',
  'space.ended',
  'stage.changed',
  'participant.talking',
  'invite.created',
  'invite.resolved',
];

export class StateDocuments {
  private readonly cache = new Map<SpaceId, StateDocument & { builtAt: number }>();
  private readonly disposers: Disposer[];

  constructor(
    private readonly audience: AudienceService,
    private readonly urls: Urls,
    bus: Bus,
    /** Who is talking on a space's stage now (from the stage plane). */
    private readonly talking: (id: SpaceId) => readonly string[],
    private readonly inviteTags: InviteTags,
    private readonly now: () => number = Date.now,
  ) {
    this.disposers = CHANGES.map((name) => bus.subscribe(name, ({ spaceId }) => this.cache.delete(spaceId)));
  }

  get(live: LiveSpace): StateDocument {
    const id = live.space.id;
    const now = this.now();
    const held = this.cache.get(id);
    if (held && now - held.builtAt < 1000) return held;
    const body = JSON.stringify(this.build(live));
    const etag = held?.body === body ? held.etag : `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
    const doc = { body, etag, builtAt: now };
    this.cache.set(id, doc);
    return doc;
  }

  private build(live: LiveSpace): Record<string, unknown> {
    const s = live.space;
    const { peak } = this.audience.tallies(s.id);
    const talking = new Set(this.talking(s.id));
    return {
      id: s.id,
      title: s.title,
      state: s.state,
      scheduledStart: iso(s.scheduledStart),
      startedAt: iso(s.startedAt),
      endedAt: iso(s.endedAt),
      host: { identity: s.hostIdentity, name: s.hostName },
      recording: s.recording,
      autoStart: s.autoStart,
      stage: live
        .stageList()
        .map((m) => ({ identity: m.identity, name: m.name, role: m.role, muted: m.muted, talking: talking.has(m.identity) })),
      // Listeners waiting in the lobby count too; an ended space has none.
      // Invitations to the stage as tags (invite-tags.ts), never identities: an invited listener's
      // page, which knows its own tag, offers Accept and Decline — the crowd polls this document
      // and opens no personal channel.
      invited: s.state === 'live' ? [...live.invites.keys()].map((identity) => this.inviteTags.tag(s.id, identity)) : [],
      listeners: s.state === 'ended' ? 0 : this.audience.listeners(s.id),
      peakListeners: Math.max(peak, s.peakListeners),
      reactions: this.audience.reactionTotals(live),
      pinnedLink: presentLink(s.pinnedLink),
      // The broadcast while live; once ended, the same playlist is the replay (if it was recorded).
      // A trimmed replay's URLs name the trim: a page loaded after an edit gets the new playlist and
      // file at once, not what a cache (its own, or an edge's) kept of the old one.
      ...(s.state === 'live' || (s.state === 'ended' && s.recording) ? { playlistUrl: this.urls.playlist(s.id) + trimQuery(s) } : {}),
      ...(s.state === 'ended' && s.recording ? { recordingUrl: this.urls.recording(s.id) + trimQuery(s), replayTrim: s.replayTrim } : {}),
    };
  }

  close(): void {
    for (const dispose of this.disposers) dispose();
    this.cache.clear();
  }
}

/** `?trim=<start>-<end>` for a trimmed replay (the server ignores it: it only keys caches), else nothing. */
const trimQuery = (s: Space): string => (s.state === 'ended' && s.replayTrim ? `?trim=${s.replayTrim.start}-${s.replayTrim.end}` : '');
