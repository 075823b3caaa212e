/**
 * The stage's signalling hub: the `/rtc` WebSocket endpoint and the fan-out of stage events to the
 * people a space's stage concerns — those on stage, moderators, and listeners with a pending request
 * to speak. Listeners at large never open a socket: they poll the cacheable state document.
 */
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Bus, Disposer } from '../bus/bus.js';
import type { NodeInfo } from '../cluster/node-identity.js';
import type { Ownership } from '../cluster/ownership.js';
import { type Actor, actorFromClaims, roleIn } from '../control/actor.js';
import type { LiveSpace } from '../control/live-space.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { TokenAuthority } from '../control/tokens.js';
import { fail } from '../errors.js';
import { asSpaceId, type Identity, type SpaceId } from '../ids.js';
import type { MediaPlane, SessionId } from '../media/media-plane.js';
import type { PacketCounts } from './audio-router.js';
import { CLOSE, ClientMessage, MAX_MESSAGE_BYTES, type PublicMember, type ServerMessage } from './protocol.js';
import { type Bridge, bridgeToOwner } from './rtc-bridge.js';
import { checkCandidate, checkOffer } from './sdp-policy.js';
import { type CandidateMessage, StageConnection } from './stage-connection.js';
import { iceServersFor, type TurnConfig } from './turn-credentials.js';

/** Peers whose socket errors are each logged once at warn; beyond, all at debug. */
const WARNED_PEERS = 10_000;

/** Stage sockets one operator identity may hold in a space (the demo, monitors, tools). */
const OPERATOR_SOCKETS = 8;

const publicStage = (live: LiveSpace): PublicMember[] =>
  live.stageList().map(({ identity, name, role, muted }) => ({ identity, name, role, muted }));

export class SignallingHub {
  private readonly bySpace = new Map<SpaceId, Set<StageConnection>>();
  /** Each connection's media session (of its latest offer), and back. */
  private readonly sessions = new Map<StageConnection, SessionId>();
  private readonly connections = new Map<SessionId, StageConnection>();
  private nextSession = 1;
  /** Sockets closed because a newer one of the same identity came (replaceOlder; a metric). */
  replaced = 0;
  /** Addresses whose socket errors were logged at warn (once each; bounded). */
  private readonly warnedPeers = new Set<string>();
  private readonly disposers: Disposer[] = [];
  private readonly validate = new Ajv({ strict: false }).compile<ClientMessage>(ClientMessage);
  /** Stage sockets bridged to the node that runs their space. */
  readonly bridges: Bridge = { open: 0, failed: 0 };
  /** Told when an identity's first stage socket in a space opens, and when its last one closes. */
  private readonly presence: Array<(id: SpaceId, identity: Identity, present: boolean) => void> = [];

  constructor(
    private readonly registry: SpaceRegistry,
    private readonly tokens: TokenAuthority,
    bus: Bus,
    /** The WebRTC sessions, routing and mutes (in the media worker, by default). */
    private readonly media: MediaPlane,
    private readonly log: Logger,
    /** TURN servers and their shared secret: each connection is handed its own credential. */
    private readonly turn: TurnConfig | undefined,
    /** Which node runs each space, and the key nodes show each other: sockets for another node's space are bridged there. */
    private readonly cluster: { ownership: Ownership; clusterKey: string },
  ) {
    const on = this.disposers.push.bind(this.disposers);
    // The media plane enforces mutes: it gets the stage whenever who is on it, or muted, changes.
    for (const name of ['stage.changed', 'participant.muted', 'participant.unmuted'] as const) {
      on(bus.subscribe(name, ({ spaceId }) => this.cluster.ownership.owns(spaceId) && this.pushStage(spaceId)));
    }
    on(
      bus.subscribe('stage.changed', ({ spaceId }) =>
        this.withSpace(spaceId, (live) => {
          this.toAll(spaceId, { type: 'stage', stage: publicStage(live) });
          // Someone who left the stage (and is not waiting to come back) goes back to the crowd.
          for (const c of [...(this.bySpace.get(spaceId) ?? [])]) {
            const actor = c.actor!;
            if (!actor.operator && live.roleOf(actor.identity) === 'listener' && !live.requests.has(actor.identity)) {
              c.close(CLOSE.normal, 'off the stage');
            }
          }
        }),
      ),
    );
    on(bus.subscribe('participant.muted', ({ spaceId, identity, by }) => this.toAll(spaceId, { type: 'muted', identity, by })));
    on(bus.subscribe('participant.unmuted', ({ spaceId, identity }) => this.toAll(spaceId, { type: 'unmuted', identity })));
    on(
      bus.subscribe('participant.talking', ({ spaceId, identity, talking }) => this.toAll(spaceId, { type: 'talking', identity, talking })),
    );
    on(
      bus.subscribe('request.created', ({ spaceId, identity, name }) =>
        this.withSpace(spaceId, (live) => this.toModerators(spaceId, live, { type: 'request', identity, name })),
      ),
    );
    on(
      bus.subscribe('request.resolved', ({ spaceId, identity, outcome }) =>
        this.withSpace(spaceId, (live) => {
          const message: ServerMessage = { type: 'request_resolved', identity, outcome };
          this.toModerators(spaceId, live, message);
          if (outcome !== 'approved') this.toIdentity(spaceId, identity, message, CLOSE.normal);
          else this.toIdentity(spaceId, identity, message);
        }),
      ),
    );
    on(
      bus.subscribe('participant.moved_to_audience', ({ spaceId, identity, by }) => {
        this.toAll(spaceId, { type: 'moved_to_audience', identity, by });
        this.closeIdentity(spaceId, identity, CLOSE.normal, 'moved to the audience');
      }),
    );
    on(
      bus.subscribe('participant.removed', ({ spaceId, identity, by }) => {
        this.toAll(spaceId, { type: 'removed', identity, by });
        this.closeIdentity(spaceId, identity, CLOSE.policy, 'removed');
      }),
    );
    on(
      bus.subscribe('space.ended', ({ spaceId }) => {
        this.toAll(spaceId, { type: 'ended' });
        for (const c of this.bySpace.get(spaceId) ?? []) c.close(CLOSE.normal, 'space ended');
      }),
    );
  }

  /** Registers `GET /rtc` (a WebSocket upgrade) on the app. */
  async register(app: FastifyInstance): Promise<void> {
    await app.register(websocket, {
      options: { maxPayload: MAX_MESSAGE_BYTES },
      // A socket's errors (a frame over the limit, a broken frame, a reset) are the peer's doing,
      // which anyone can do without a token: warned once per address, then at debug; the socket ends.
      errorHandler: (err, socket, request) => {
        const first = this.warnedPeers.size < WARNED_PEERS && !this.warnedPeers.has(request.ip);
        if (first) this.warnedPeers.add(request.ip);
        request.log[first ? 'warn' : 'debug']({ address: request.ip, reason: err.message }, 'stage socket error from a peer');
        socket.terminate();
      },
    });
    app.route({
      method: 'GET',
      url: '/rtc',
      schema: { hide: true },
      // Without an upgrade: the API's error, not an empty 404.
      handler: async () => {
        throw fail('upgrade_required', 'GET /rtc is the stage signalling WebSocket: connect with a WebSocket upgrade.');
      },
      wsHandler: (socket, request) => {
        // A socket another node bridged here is run here, never bridged on.
        const forwarded = request.forwardedBy !== undefined;
        new StageConnection(socket, this.validate, {
          authenticate: (token, space) => this.authenticate(token, space, forwarded),
          bridge: (ws, owner, first) => bridgeToOwner(ws, owner, this.cluster.ownership.node, this.cluster.clusterKey, first, this.bridges),
          offer: (c, sdp) => this.offer(c, sdp),
          candidate: (c, message) => this.candidate(c, message),
          unexpected: (err, c) => this.log.error({ err, spaceId: c.spaceId, identity: c.actor?.identity }, 'stage signalling failed'),
          joined: (c) => this.joined(c),
          left: (c) => this.left(c),
        });
      },
    });
  }

  /** Who may hold a stage socket: people on stage, moderators, and listeners waiting on a request. */
  private async authenticate(
    token: string,
    space: string | undefined,
    forwarded: boolean,
  ): Promise<{ actor: Actor; spaceId: SpaceId } | { bridgeTo: NodeInfo }> {
    const actor = actorFromClaims(this.tokens.verify(token));
    const id = actor.operator ? space : actor.claims.space;
    if (!id) throw fail('validation_failed', 'An operator token needs "space" in the auth message.');
    const { ownership } = this.cluster;
    if (!forwarded && !ownership.owns(asSpaceId(id))) {
      // The node that runs the space decides the rest (who is on stage is its to know).
      const owner = await ownership.ownerOf(asSpaceId(id));
      if (owner.id !== ownership.node.id) return { bridgeTo: owner };
    }
    const live = await this.registry.get(asSpaceId(id));
    const role = roleIn(live, actor);
    if (live.space.state === 'ended') throw fail('space_ended');
    if (role === 'listener' && !live.requests.has(actor.identity)) {
      throw fail('not_on_stage', 'The stage socket is for people on stage or waiting to be; listeners poll the state document.');
    }
    return { actor, spaceId: live.space.id };
  }

  /** Whether `identity` holds a stage socket in the space (on this node, bridged ones included). */
  present(id: SpaceId, identity: Identity): boolean {
    for (const c of this.bySpace.get(id) ?? []) if (c.actor?.identity === identity && !c.actor.operator) return true;
    return false;
  }

  /** Listens for identities' stage sockets coming and going (seat-keeper.ts). */
  onPresence(listener: (id: SpaceId, identity: Identity, present: boolean) => void): void {
    this.presence.push(listener);
  }

  private joined(c: StageConnection): void {
    const id = c.spaceId!;
    const actor = c.actor!;
    // First: closing the last older socket drops the space's set (left()).
    this.replaceOlder(id, actor);
    let set = this.bySpace.get(id);
    if (!set) {
      set = new Set();
      this.bySpace.set(id, set);
    }
    set.add(c);
    if (!actor.operator) for (const listener of this.presence) listener(id, actor.identity, true);
    const live = this.registry.peek(id);
    if (!live) {
      c.close(CLOSE.goingAway, 'space unloaded');
      return;
    }
    const { iceServers, expiresAt } = iceServersFor(this.turn, actor.identity);
    c.send({
      type: 'welcome',
      identity: actor.identity,
      role: actor.operator ? 'operator' : live.roleOf(actor.identity),
      spaceId: id,
      stage: publicStage(live),
      iceServers,
      ...(expiresAt === undefined ? {} : { iceServersExpireAt: new Date(expiresAt * 1000).toISOString() }),
    });
  }

  /**
   * One stage socket per identity in a space, as LiveKit does with a duplicate identity: a newer
   * one (a reload, a second tab or device, a reconnect while the old socket is not yet known dead)
   * closes the older with 1008 `replaced`, which clients take as final. So one token holds one
   * socket and at most one WebRTC session, however often it connects. An operator identity (the
   * demo, monitors, tools) may hold OPERATOR_SOCKETS; beyond, its oldest closes.
   */
  private replaceOlder(id: SpaceId, actor: Actor): void {
    const same = [...(this.bySpace.get(id) ?? [])].filter(
      (o) => o.actor?.identity === actor.identity && o.actor.operator === actor.operator,
    );
    const keep = actor.operator ? OPERATOR_SOCKETS - 1 : 0;
    for (const old of same.slice(0, Math.max(0, same.length - keep))) {
      this.replaced++;
      old.close(CLOSE.policy, 'replaced by a newer connection of the same identity');
    }
  }

  /** A speaker publishes: check the offer, answer it, and route its microphone to everyone else. */
  private async offer(c: StageConnection, sdp: string): Promise<string> {
    const id = c.spaceId!;
    const live = this.registry.peek(id);
    const identity = c.actor!.identity;
    if (!live || c.actor!.operator || live.roleOf(identity) === 'listener') {
      throw fail('not_on_stage', 'Only people on stage publish audio.');
    }
    checkOffer(sdp);
    this.dropSession(c);
    const session = this.nextSession++;
    // Registered before the answer, so candidates trickled meanwhile reach it.
    this.sessions.set(c, session);
    this.connections.set(session, c);
    this.pushStage(id);
    this.media.open(session, id, identity);
    let answer: string;
    try {
      answer = await this.media.answer(session, sdp);
    } catch (err) {
      this.dropSession(c, session);
      throw err;
    }
    if (this.sessions.get(c) !== session) {
      this.media.close(session);
      throw fail('not_on_stage', 'The connection closed (or offered again) while the offer was answered.');
    }
    return answer;
  }

  /** Tells the media plane who is on a space's stage and who is muted. */
  private pushStage(id: SpaceId): void {
    const live = this.registry.peek(id);
    if (live)
      this.media.stage(
        id,
        live.stageList().map(({ identity, muted }) => ({ identity, muted })),
      );
  }

  /** The media plane assigned a receive slot of `session` to `identity` (or freed it). */
  slot(session: SessionId, mid: string, identity: Identity | null): void {
    this.connections.get(session)?.send({ type: 'slot', mid, identity });
  }

  /** This node no longer runs the space (another node took it over): its sockets reconnect, and reach the owner. */
  released(id: SpaceId): void {
    for (const c of [...(this.bySpace.get(id) ?? [])]) c.close(CLOSE.goingAway, 'the space moved to another node; reconnect');
  }

  /** The media plane restarted: every session is gone, so every stage socket closes and reconnects. */
  mediaRestarted(): void {
    for (const set of this.bySpace.values()) for (const c of [...set]) c.close(CLOSE.goingAway, 'media restarted; reconnect');
  }

  /** A speaker's trickled ICE candidate, for the session of its latest offer. */
  private async candidate(c: StageConnection, message: CandidateMessage): Promise<void> {
    checkCandidate(message.candidate);
    const session = this.sessions.get(c);
    if (!session) throw fail('validation_failed', 'Send the offer before its candidates.');
    const { type: _type, ...init } = message;
    await this.media.candidate(session, { ...init, candidate: init.candidate ?? '' });
  }

  /** Ends the connection's session (only if it is still `expected`, when given). */
  private dropSession(c: StageConnection, expected?: SessionId): void {
    const session = this.sessions.get(c);
    if (session === undefined || (expected !== undefined && session !== expected)) return;
    this.sessions.delete(c);
    this.connections.delete(session);
    this.media.close(session);
  }

  private left(c: StageConnection): void {
    this.dropSession(c);
    if (!c.spaceId) return;
    const set = this.bySpace.get(c.spaceId);
    if (!set?.delete(c)) return;
    if (set.size === 0) this.bySpace.delete(c.spaceId);
    const identity = c.actor?.identity;
    if (identity && !c.actor!.operator && !this.present(c.spaceId, identity)) {
      for (const listener of this.presence) listener(c.spaceId, identity, false);
    }
  }

  private withSpace(id: SpaceId, fn: (live: LiveSpace) => void): void {
    if (!this.bySpace.has(id)) return;
    const live = this.registry.peek(id);
    if (live) fn(live);
  }

  private toAll(id: SpaceId, message: ServerMessage): void {
    for (const c of this.bySpace.get(id) ?? []) c.send(message);
  }

  private toModerators(id: SpaceId, live: LiveSpace, message: ServerMessage): void {
    for (const c of this.bySpace.get(id) ?? []) {
      const actor = c.actor!;
      const role = actor.operator ? 'operator' : live.roleOf(actor.identity);
      if (role === 'host' || role === 'cohost' || role === 'operator') c.send(message);
    }
  }

  /** Sends to one identity's sockets; with `closeCode`, closes them afterwards. */
  private toIdentity(id: SpaceId, identity: Identity, message: ServerMessage, closeCode?: number): void {
    for (const c of [...(this.bySpace.get(id) ?? [])]) {
      if (c.actor?.identity !== identity) continue;
      c.send(message);
      if (closeCode !== undefined) c.close(closeCode, message.type);
    }
  }

  private closeIdentity(id: SpaceId, identity: Identity, code: number, reason: string): void {
    for (const c of [...(this.bySpace.get(id) ?? [])]) if (c.actor?.identity === identity) c.close(code, reason);
  }

  /** Who is talking on a space's stage now. */
  talking(id: SpaceId): Identity[] {
    return this.media.talking(id);
  }

  /** What became of every microphone packet, across spaces (exported as a metric). */
  get packets(): PacketCounts {
    return this.media.packets;
  }

  /** Closes every socket and stops listening to the bus. Idempotent. */
  close(): void {
    for (const dispose of this.disposers.splice(0)) dispose();
    for (const set of this.bySpace.values()) for (const c of [...set]) c.close(CLOSE.goingAway, 'server shutting down');
    this.bySpace.clear();
  }
}
