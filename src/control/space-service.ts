/**
 * Space lifecycle: create (scheduled or straight to live), start, end, update. scheduled → live →
 * ended; an ended space never comes back. Every change is durable before it is acknowledged.
 */
import type { ReplayTrim } from '../broadcast/replay-trim.js';
import { fail } from '../errors.js';
import { type Identity, newSpaceId, type SpaceId } from '../ids.js';
import type { SpacePatch, SpaceQuery, SpaceStore, StoreOp } from '../store/space-store.js';
import { webhookEvents } from '../webhooks/events.js';
import { type Actor, roleIn } from './actor.js';
import { type Analytics, analytics, type LiveAudience, type StageEvent } from './analytics.js';
import type { AnyEvent, Change, CommandRunner } from './commands.js';
import type { HostFeed } from './host-feed.js';
import { LiveSpace } from './live-space.js';
import type { ActionRecord, Role, Space, StageMember } from './model.js';
import { type Action, authorize } from './permissions.js';

export interface NewSpaceInput {
  title: string;
  /** Epoch ms; absent for a space that is not scheduled. */
  scheduledStart?: number;
  recording?: boolean;
  /** Go live by itself at `scheduledStart` (which it needs). */
  autoStart?: boolean;
  hostIdentity: Identity;
  hostName: string;
  /** Go live at once. */
  startNow?: boolean;
}

export interface SpaceUpdate {
  title?: string;
  recording?: boolean;
  scheduledStart?: number | null;
  autoStart?: boolean;
}

export class SpaceService {
  constructor(
    private readonly runner: CommandRunner,
    private readonly store: SpaceStore,
    private readonly now: () => number = Date.now,
  ) {}

  async create(actor: Actor, input: NewSpaceInput): Promise<LiveSpace> {
    if (!actor.operator) throw fail('permission_denied', 'Only the operator may create spaces.');
    if (input.autoStart && input.scheduledStart === undefined && !input.startNow) throw fail('auto_start_needs_time');
    const now = this.now();
    const space: Space = {
      id: newSpaceId(),
      title: input.title,
      hostIdentity: input.hostIdentity,
      hostName: input.hostName,
      state: input.startNow ? 'live' : 'scheduled',
      scheduledStart: input.scheduledStart ?? null,
      startedAt: input.startNow ? now : null,
      endedAt: null,
      recording: input.recording ?? true,
      autoStart: (input.autoStart ?? false) && !input.startNow,
      createdAt: now,
      updatedAt: now,
      peakListeners: 0,
      totalListeners: 0,
      reactions: {},
      pinnedLink: null,
      replayTrim: null,
    };
    const host: StageMember = { identity: input.hostIdentity, name: input.hostName, role: 'host', muted: false, joinedAt: now };
    const events: AnyEvent[] = [
      ['space.created', { spaceId: space.id, space }],
      ...(input.startNow ? [['space.live', { spaceId: space.id, startedAt: now }] as AnyEvent] : []),
    ];
    await this.store.createSpace(space, host, webhookEvents(space, new Map(), events, now));
    const live = new LiveSpace({ space, stage: [host], requests: [], invites: [], removals: [], demotions: [] });
    this.runner.registry.add(live);
    this.runner.announce(space.id, events);
    return live;
  }

  async get(id: SpaceId): Promise<LiveSpace> {
    return this.runner.registry.get(id);
  }

  list(query: SpaceQuery): Promise<Space[]> {
    return this.store.listSpaces(query);
  }

  /** A host's podcast settings (their feed); undefined when none were set. */
  hostFeed(host: Identity): Promise<HostFeed | undefined> {
    return this.store.getHostFeed(host);
  }

  /** Sets a host's podcast settings (operator); returns them. */
  async setHostFeed(actor: Actor, host: Identity, settings: HostFeed): Promise<HostFeed> {
    if (!actor.operator) throw fail('permission_denied', 'Only the operator may set a host’s podcast settings.');
    await this.store.putHostFeed(host, settings, this.now());
    return settings;
  }

  /**
   * May the operator issue `identity` a token with `role` in this space? Host tokens only for the
   * identity that hosts it; nothing for a removed identity. Returns the space.
   */
  async grant(actor: Actor, id: SpaceId, identity: Identity, role: Role): Promise<Space> {
    if (!actor.operator) throw fail('permission_denied', 'Only the operator may mint tokens.');
    const live = await this.runner.registry.get(id);
    if (role === 'host' && identity !== live.space.hostIdentity) {
      throw fail('not_the_host', `The host of this space is "${live.space.hostIdentity}".`);
    }
    if (live.removed.has(identity)) throw fail('identity_removed');
    return live.space;
  }

  /** The moderation log, oldest first (host, co-hosts, operator). */
  async actions(actor: Actor, id: SpaceId, limit: number): Promise<ActionRecord[]> {
    const live = await this.runner.registry.get(id);
    authorize('log.view', roleIn(live, actor));
    return this.store.listActions(id, limit);
  }

  start(actor: Actor, id: SpaceId): Promise<Space> {
    return this.transition(actor, id, 'space.start', (space, now) => {
      if (space.state === 'live') throw fail('space_already_live');
      return {
        patch: { state: 'live', startedAt: now },
        events: [['space.live', { spaceId: id, startedAt: now }]],
      };
    });
  }

  end(actor: Actor, id: SpaceId): Promise<Space> {
    return this.transition(actor, id, 'space.end', (space, now, live) => {
      const cleanup: StoreOp[] = [
        ...[...live.requests.keys()].map((identity): StoreOp => ({ op: 'request.delete', identity })),
        ...[...live.invites.keys()].map((identity): StoreOp => ({ op: 'invite.delete', identity })),
      ];
      return {
        patch: { state: 'ended', endedAt: now },
        extra: cleanup,
        events: [['space.ended', { spaceId: id, endedAt: now, recording: space.recording }]],
      };
    });
  }

  update(actor: Actor, id: SpaceId, update: SpaceUpdate): Promise<Space> {
    return this.transition(actor, id, 'space.update', (space) => {
      if ((update.scheduledStart !== undefined || update.autoStart !== undefined) && space.state !== 'scheduled') {
        throw fail('space_not_scheduled', 'The start time and auto-start can only change while the space is scheduled.');
      }
      const autoStart = update.autoStart ?? space.autoStart;
      const scheduledStart = update.scheduledStart === undefined ? space.scheduledStart : update.scheduledStart;
      if (autoStart && scheduledStart === null) throw fail('auto_start_needs_time');
      const patch: SpacePatch = {};
      if (update.title !== undefined) patch.title = update.title;
      if (update.recording !== undefined) patch.recording = update.recording;
      if (update.scheduledStart !== undefined) patch.scheduledStart = update.scheduledStart;
      if (update.autoStart !== undefined) patch.autoStart = update.autoStart;
      return { patch, events: [] };
    });
  }

  /**
   * The space's analytics (host, co-hosts, operator); `now` gives the live audience of a space that
   * is live here (its counters are in memory until the next tally).
   */
  async analytics(actor: Actor, id: SpaceId, now?: (live: LiveSpace) => LiveAudience | undefined): Promise<Analytics & { space: Space }> {
    const live = await this.runner.registry.get(id);
    authorize('analytics.view', roleIn(live, actor));
    const [tallies, replay, stage] = await Promise.all([
      this.store.listTallies(id),
      this.store.replayCounts(id),
      this.store.webhooks.spaceEvents(id, ['stage.joined', 'stage.left']),
    ]);
    const a = analytics(
      live.space,
      tallies,
      replay,
      stage as StageEvent[],
      this.now(),
      live.space.state === 'live' ? now?.(live) : undefined,
    );
    return { ...a, space: live.space };
  }

  /** Pins a link for listeners (host or co-host), replacing the last; null takes it down. */
  pin(actor: Actor, id: SpaceId, link: { url: string; title: string } | null): Promise<Space> {
    return this.transition(actor, id, 'link.pin', (_space, now) => ({
      patch: { pinnedLink: link ? { ...link, pinnedBy: actor.identity, pinnedAt: now } : null },
      events: [],
    }));
  }

  /**
   * An ended space whose replay the actor may edit (the host, the operator), its recording kept:
   * checked before the replay's media is read or changed (broadcast/replay-trim.ts).
   */
  async replayToEdit(actor: Actor, id: SpaceId): Promise<Space> {
    const live = await this.runner.registry.get(id);
    authorize('replay.edit', roleIn(live, actor));
    replayEditable(live.space);
    return live.space;
  }

  /** Trims the replay (null: the whole recording again) or, `recording: false`, records its deletion. */
  editReplay(actor: Actor, id: SpaceId, patch: { replayTrim: ReplayTrim | null } | { recording: false; replayTrim: null }): Promise<Space> {
    // The moderation log says which edit it was.
    const logAs = 'recording' in patch ? 'recording.delete' : patch.replayTrim ? 'replay.trim' : 'replay.untrim';
    return this.transition(actor, id, 'replay.edit', () => ({ patch, events: [] }), { guard: replayEditable, logAs });
  }

  /**
   * The shared shape of start/end/update and replay edits: authorise, check the space's state (by
   * default: refuse an ended space), patch, log (as `logAs`, by default the action), publish.
   */
  private transition(
    actor: Actor,
    id: SpaceId,
    action: Action,
    decide: (space: Space, now: number, live: LiveSpace) => { patch: SpacePatch; extra?: StoreOp[]; events: Change<unknown>['events'] },
    options: { guard?: (space: Space) => void; logAs?: string } = {},
  ): Promise<Space> {
    const { guard = notEnded, logAs = action } = options;
    return this.runner.run(id, (live) => {
      authorize(action, roleIn(live, actor));
      guard(live.space);
      const now = this.now();
      const { patch, extra = [], events } = decide(live.space, now, live);
      const next: Space = { ...live.space, ...patch, updatedAt: now };
      return {
        ops: [
          { op: 'space.update', patch: { ...patch, updatedAt: now } },
          ...extra,
          { op: 'action.append', action: { at: now, actor: actor.identity, action: logAs, target: null } },
        ],
        events: [...events, ['space.updated', { spaceId: id, space: next }]],
        result: next,
      };
    });
  }
}

function notEnded(space: Space): void {
  if (space.state === 'ended') throw fail('space_ended');
}

/** A replay is edited once its space has ended, while it has a recording. */
function replayEditable(space: Space): void {
  if (space.state !== 'ended') throw fail('space_not_ended');
  if (!space.recording) throw fail('recording_not_found');
}
