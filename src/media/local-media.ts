/**
 * The media plane on the calling thread: speakers' werift sessions, one AudioRouter per space (fed
 * the stage by the control plane, so mutes are enforced here), and one SpaceMix per live space that
 * the routers feed. In the server it runs inside the media worker (media-worker.ts); with
 * ROSTRUM_MEDIA_WORKER=0 it runs on the main thread.
 */
import { fail, RostrumError } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import { AudioRouter, type PacketCounts } from '../stage/audio-router.js';
import type { ReceivePaths } from '../stage/fast-receive.js';
import { PortPool } from '../stage/port-pool.js';
import { StageSession } from '../stage/stage-session.js';
import { EncoderPool } from './encoder-pool.js';
import type { MediaEvents, MediaPlane, MixHandle, RtcCounts, SessionId, StageMediaOptions, StageMemberView } from './media-plane.js';
import { type MixOptions, type MixOutput, SpaceMix } from './space-mix.js';

interface Session {
  spaceId: SpaceId;
  session: StageSession;
  /** The port of the network's range the session holds, once answered. */
  port?: number;
}

export class LocalMedia implements MediaPlane {
  private readonly sessions = new Map<SessionId, Session>();
  private readonly routers = new Map<SpaceId, AudioRouter>();
  private readonly stages = new Map<SpaceId, Map<Identity, StageMemberView>>();
  private readonly mixes = new Map<SpaceId, SpaceMix>();
  private readonly encoders = new EncoderPool();
  readonly packets: PacketCounts = { forwarded: 0, muted: 0, silent: 0, quieter: 0 };
  readonly receivedBy: ReceivePaths = { fast: 0, werift: 0 };
  private readonly ports: PortPool | undefined;
  private readonly failures = { ports_exhausted: 0, bind_failed: 0 };
  /** On the main thread the media never sleeps between turns: that would hold up HTTP. */
  readonly coalescing = false;

  constructor(
    private readonly events: MediaEvents,
    private readonly options: StageMediaOptions,
  ) {
    const range = options.network.portRange;
    this.ports = range ? new PortPool(range) : undefined;
  }

  get rtc(): RtcCounts {
    return {
      sessions: this.sessions.size,
      portsInUse: this.ports?.used ?? 0,
      portsTotal: this.ports?.size ?? 0,
      failures: { ...this.failures },
    };
  }

  open(id: SessionId, spaceId: SpaceId, identity: Identity): void {
    this.close(id);
    const session = new StageSession(
      identity,
      {
        // Looked up per packet: the space's router is made when its first session is answered.
        onMicrophone: (rtp, level) => this.routers.get(spaceId)?.publish(identity, rtp, level),
        onSlot: (mid, who) => this.events.slot(id, mid, who),
      },
      this.options.network,
      this.receivedBy,
    );
    this.sessions.set(id, { spaceId, session });
  }

  async answer(id: SessionId, offer: string): Promise<string> {
    const held = this.sessions.get(id);
    if (!held) throw fail('not_on_stage', 'The session was closed before its offer was answered.');
    const answer = await this.answerOnPort(held, offer);
    if (this.sessions.get(id) !== held) {
      await held.session.close();
      throw fail('not_on_stage', 'The connection closed (or offered again) while the offer was answered.');
    }
    this.routerFor(held.spaceId).add(held.session);
    return answer;
  }

  /** Answers on a port of the range (when there is one), which the session holds until it closes. */
  private async answerOnPort(held: Session, offer: string): Promise<string> {
    if (!this.ports) return held.session.answer(offer);
    const port = this.ports.take();
    if (port === undefined) {
      this.failures.ports_exhausted++;
      throw fail('rtc_unavailable', `Every port of the WebRTC port range (${this.ports.size}) is in use; retry.`, 5);
    }
    held.port = port;
    try {
      return await held.session.answer(offer, port);
    } catch (err) {
      held.port = undefined;
      if (err instanceof RostrumError && err.code === 'rtc_unavailable') {
        this.failures.bind_failed++;
        this.ports.busy(port);
      } else this.ports.release(port);
      throw err;
    }
  }

  async candidate(id: SessionId, init: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    const held = this.sessions.get(id);
    if (!held) throw fail('validation_failed', 'Send the offer before its candidates.');
    await held.session.addCandidate({
      candidate: init.candidate,
      ...(init.sdpMid != null ? { sdpMid: init.sdpMid } : {}),
      ...(init.sdpMLineIndex != null ? { sdpMLineIndex: init.sdpMLineIndex } : {}),
    });
  }

  close(id: SessionId): void {
    const held = this.sessions.get(id);
    if (!held) return;
    this.sessions.delete(id);
    if (held.port !== undefined) this.ports?.release(held.port);
    const router = this.routers.get(held.spaceId);
    router?.remove(held.session);
    if (router?.size === 0) {
      router.close();
      this.routers.delete(held.spaceId);
    }
    void held.session.close();
  }

  stage(spaceId: SpaceId, members: StageMemberView[]): void {
    this.stages.set(spaceId, new Map(members.map((m) => [m.identity, m])));
  }

  talking(spaceId: SpaceId): Identity[] {
    return this.routers.get(spaceId)?.talking() ?? [];
  }

  startMix(spaceId: SpaceId, options: MixOptions, output: MixOutput): MixHandle {
    void this.mixes.get(spaceId)?.close();
    const mix = new SpaceMix(options, output, (o, out) => this.encoders.take(o, out));
    this.mixes.set(spaceId, mix);
    const mixes = this.mixes;
    return {
      get encoderPid() {
        return mix.encoderPid;
      },
      get crashes() {
        return mix.crashes;
      },
      close: async () => {
        if (mixes.get(spaceId) === mix) mixes.delete(spaceId);
        await mix.close();
      },
    };
  }

  warm(options: MixOptions): void {
    this.encoders.warm(options);
  }

  async shutdown(): Promise<void> {
    for (const id of [...this.sessions.keys()]) this.close(id);
    await Promise.all([...this.mixes.values()].map((mix) => mix.close()));
    this.mixes.clear();
    await this.encoders.close();
  }

  private routerFor(spaceId: SpaceId): AudioRouter {
    let router = this.routers.get(spaceId);
    if (!router) {
      router = new AudioRouter(
        (identity) => this.stages.get(spaceId)?.get(identity),
        this.packets,
        (who, talking) => this.events.talking(spaceId, who, talking),
        this.options.voices,
        {
          audio: (identity, seq, payload, level) => this.mixes.get(spaceId)?.push(identity, seq, payload, level),
          left: (identity) => this.mixes.get(spaceId)?.mixer.remove(identity),
        },
      );
      this.routers.set(spaceId, router);
    }
    return router;
  }
}
