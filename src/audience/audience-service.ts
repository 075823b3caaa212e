/**
 * The audience plane's writes: join (a stateless signed token, no database write), heartbeats
 * (counted with HyperLogLog: crowd.ts), reactions (summed: crowd.ts), reminders (durable: a listener
 * asked to be told).
 */
import type { Actor } from '../control/actor.js';
import { roleIn } from '../control/actor.js';
import type { LiveSpace } from '../control/live-space.js';
import { REACTIONS, type Reaction } from '../control/model.js';
import { authorize } from '../control/permissions.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { TokenAuthority, TokenClaims } from '../control/tokens.js';
import { fail } from '../errors.js';
import { type Identity, newListenerIdentity, type SpaceId } from '../ids.js';
import type { SpaceStore } from '../store/space-store.js';
import { type Crowd, LocalCrowd } from './crowd.js';
import { heartbeatInterval } from './listener-counter.js';
import { LocalRoster, type Roster, type RosterPage } from './roster.js';

export interface AudienceOptions {
  apiKey: string;
  listenerTokenTtlSeconds: number;
  listenerWindowSeconds: number;
}

export interface JoinGrant {
  token: string;
  identity: Identity;
  expiresAt: number;
}

export class AudienceService {
  constructor(
    private readonly registry: SpaceRegistry,
    private readonly store: SpaceStore,
    private readonly tokens: TokenAuthority,
    private readonly options: AudienceOptions,
    private readonly now: () => number = Date.now,
    /** The counts, on this node alone or across nodes (crowd.ts). */
    readonly crowd: Crowd = new LocalCrowd(options.listenerWindowSeconds * 1000),
    /** The named listeners a host can act on, on this node alone or across nodes (roster.ts). */
    readonly roster: Roster = new LocalRoster(options.listenerWindowSeconds * 1000),
  ) {}

  /** How often a listener heartbeats: rarely (each is an origin request), yet counted without a gap (listener-counter.ts). */
  get heartbeatIntervalSeconds(): number {
    return heartbeatInterval(this.options.listenerWindowSeconds);
  }

  /** Checks a listener's token against the space: right space, not removed. */
  private admit(live: LiveSpace, claims: TokenClaims): void {
    if (claims.operator) return;
    if (claims.space !== live.space.id) throw fail('token_wrong_space');
    if (live.removed.has(claims.sub)) throw fail('identity_removed');
  }

  /** The space if this node holds it in memory: the join fast path needs no await. */
  held(id: SpaceId): LiveSpace | undefined {
    return this.registry.peek(id);
  }

  /** Loads the space (a coded 404 if there is none). */
  resolve(id: SpaceId): Promise<LiveSpace> {
    return this.registry.get(id);
  }

  /**
   * Joins as a listener: a signed token, counted at once, nothing written to the database.
   * Anonymous unless the caller brings a token for this space minted by the operator's backend,
   * whose identity (and removal) then carries over.
   */
  join(live: LiveSpace, claims: TokenClaims | undefined): JoinGrant {
    if (live.space.state === 'ended') throw fail('space_ended', 'The space has ended; its replay needs no join.');
    const now = this.now();
    const iat = Math.floor(now / 1000);
    let exp = iat + this.options.listenerTokenTtlSeconds;
    let identity: Identity;
    if (claims && !claims.operator) {
      this.admit(live, claims);
      identity = claims.sub;
      // A join never outlives the token it was made from, so joining again cannot renew access.
      exp = Math.min(exp, claims.exp);
    } else {
      identity = newListenerIdentity();
    }
    const token = this.tokens.mintListener(this.options.apiKey, identity, live.space.id, iat, exp);
    this.crowd.seen(live.space.id, identity, now, true);
    // A name the operator's backend gave: the host may see this listener, and invite them.
    if (claims?.name && !claims.operator) this.roster.joined(live.space.id, identity, claims.name, now);
    return { token, identity, expiresAt: exp * 1000 };
  }

  async heartbeat(id: SpaceId, claims: TokenClaims): Promise<void> {
    const live = this.registry.peek(id) ?? (await this.registry.get(id));
    this.admit(live, claims);
    if (live.space.state === 'ended') throw fail('space_ended');
    const now = this.now();
    this.crowd.seen(id, claims.sub, now, false);
    this.roster.seen(id, claims.sub, now);
  }

  async react(id: SpaceId, actor: Actor, emoji: string): Promise<void> {
    const live = this.registry.peek(id) ?? (await this.registry.get(id));
    const role = roleIn(live, actor);
    if (role !== 'operator') authorize('reaction.send', role, { role, self: true });
    if (live.space.state !== 'live') throw fail('space_not_live');
    if (!REACTIONS.includes(emoji as Reaction)) throw fail('validation_failed', `Reactions are one of ${REACTIONS.join(' ')}.`);
    this.crowd.react(id, emoji as Reaction, live.space.reactions);
  }

  async remind(id: SpaceId, actor: Actor, register: boolean): Promise<{ registered: boolean; reminders: number }> {
    const live = await this.registry.get(id);
    const role = roleIn(live, actor);
    if (role !== 'operator') authorize('reminder.register', role, { role, self: true });
    if (live.space.state !== 'scheduled') throw fail('space_not_scheduled', 'Reminders are for scheduled spaces.');
    if (register) await this.store.addReminder(id, actor.identity, this.now());
    else await this.store.removeReminder(id, actor.identity);
    return { registered: register, reminders: await this.store.countReminders(id) };
  }

  /**
   * Who asked to be reminded (the operator: its own channels deliver the reminders), a page at a
   * time, oldest first, and how many asked in all.
   */
  async reminders(
    id: SpaceId,
    actor: Actor,
    limit: number,
    after: number,
  ): Promise<{ count: number; reminders: Array<{ identity: Identity; at: number }> }> {
    await this.registry.get(id);
    if (!actor.operator) throw fail('permission_denied', 'Only the operator reads who asked to be reminded.');
    const [count, reminders] = await Promise.all([this.store.countReminders(id), this.store.listReminders(id, limit, after)]);
    return { count, reminders };
  }

  /**
   * The named listeners listening now, newest first, a page at a time (host, co-hosts, operator); and
   * how many listen in all, named or not.
   */
  async audience(id: SpaceId, actor: Actor, limit: number, after?: string): Promise<RosterPage & { listening: number }> {
    const live = this.registry.peek(id) ?? (await this.registry.get(id));
    authorize('audience.view', roleIn(live, actor));
    const now = this.now();
    const page = await this.roster.list(id, now, limit, after);
    return { ...page, listening: this.crowd.listeners(id, now) };
  }

  /** Concurrent listeners, every node together. */
  listeners(id: SpaceId): number {
    return this.crowd.listeners(id, this.now());
  }

  /** Listeners on this node now, every space together (the waiting room's measure of capacity). */
  listenersOnNode(): number {
    return this.crowd.onNode(this.now());
  }

  /** Peak and total unique, for keeping with the space. */
  tallies(id: SpaceId): { peak: number; total: number } {
    return this.crowd.tallies(id, this.now());
  }

  /** The running totals, or those kept with the space when nobody has reacted since it loaded. */
  reactionTotals(live: LiveSpace): Readonly<Record<string, number>> {
    return this.crowd.reactions(live.space.id) ?? live.space.reactions;
  }

  /** Forgets a space's counters and totals (after they were kept with the space at its end). */
  forget(id: SpaceId): void {
    this.crowd.forget(id);
    this.roster.forget(id);
  }
}
