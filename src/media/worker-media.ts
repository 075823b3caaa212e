/**
 * The media plane in a worker thread (the default): the main thread keeps HTTP, signalling and the
 * control plane; the worker (media-worker.ts) runs the WebRTC sessions, the routing, the talking
 * detector and the mixes. Requests that answer (SDP, candidates) are matched to replies by number;
 * talking, slots, packet counts and the encoders' output come back as messages. If the worker dies,
 * a new one is started: sessions are gone (the hub closes the stage sockets, clients reconnect) and
 * every mix is started again in it, a discontinuity in its broadcast.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ERRORS, type ErrorCode, fail } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import type { PacketCounts } from '../stage/audio-router.js';
import type { ReceivePaths } from '../stage/fast-receive.js';
import type { MediaEvents, MediaPlane, MixHandle, RtcCounts, SessionId, StageMediaOptions, StageMemberView } from './media-plane.js';
import type { MixOptions, MixOutput } from './space-mix.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

interface RemoteMix {
  options: MixOptions;
  output: MixOutput;
  pid: number | undefined;
  crashes: number;
}

const WORKER_URL = new URL('./media-worker.js', import.meta.url);

export class WorkerMedia implements MediaPlane {
  private worker!: Worker;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (value: string | undefined) => void; reject: (err: Error) => void }>();
  private readonly talkingNow = new Map<SpaceId, Set<Identity>>();
  private readonly stages = new Map<SpaceId, StageMemberView[]>();
  private readonly mixes = new Map<SpaceId, RemoteMix>();
  /** The settings the worker keeps a spare encoder for, asked again of a new worker. */
  private warmFor: MixOptions | undefined;
  private stopping = false;
  readonly packets: PacketCounts = { forwarded: 0, muted: 0, silent: 0, quieter: 0 };
  readonly receivedBy: ReceivePaths = { fast: 0, werift: 0 };
  coalescing = false;
  rtc: RtcCounts = { sessions: 0, portsInUse: 0, portsTotal: 0, failures: { ports_exhausted: 0, bind_failed: 0 } };
  /** Workers started after the first one died. */
  restarts = 0;

  constructor(
    private readonly events: MediaEvents,
    private readonly options: StageMediaOptions,
    private readonly log: Logger,
  ) {
    this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(WORKER_URL, { workerData: this.options });
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.receive(m));
    worker.on('error', (err) => this.log.error({ err }, 'media worker failed'));
    worker.on('exit', (code) => {
      if (this.worker !== worker || this.stopping) return;
      this.lost(`media worker exited with code ${code}`);
    });
  }

  /** The worker died: fail what waited on it, start a new one, and put the mixes back on air. */
  private lost(reason: string): void {
    this.log.error({ reason, restarts: this.restarts + 1 }, 'media worker lost; starting a new one');
    this.restarts++;
    for (const { reject } of this.pending.values()) reject(fail('not_ready', 'The media plane restarted; reconnect.', 1));
    this.pending.clear();
    this.talkingNow.clear();
    this.spawn();
    for (const [spaceId, members] of this.stages) this.post({ t: 'stage', spaceId, members });
    if (this.warmFor) this.post({ t: 'mix.warm', options: this.warmFor });
    for (const [spaceId, mix] of this.mixes) {
      mix.output.runEnded(reason);
      this.post({ t: 'mix.start', spaceId, options: mix.options });
    }
    this.events.restarted(reason);
  }

  private receive(m: FromWorker): void {
    switch (m.t) {
      case 'reply': {
        const waiter = this.pending.get(m.req);
        this.pending.delete(m.req);
        if (!waiter) return;
        if (m.ok) waiter.resolve(m.value);
        else waiter.reject(m.code && m.code in ERRORS ? fail(m.code as ErrorCode, m.message) : new Error(m.message));
        return;
      }
      case 'slot':
        this.events.slot(m.session, m.mid, m.identity);
        return;
      case 'talking': {
        const set = this.talkingNow.get(m.spaceId) ?? new Set<Identity>();
        this.talkingNow.set(m.spaceId, set);
        if (m.talking) set.add(m.identity);
        else set.delete(m.identity);
        this.events.talking(m.spaceId, m.identity, m.talking);
        return;
      }
      case 'counts':
        Object.assign(this.packets, m.packets);
        Object.assign(this.receivedBy, m.receivedBy);
        this.coalescing = m.coalescing;
        this.rtc = m.rtc;
        return;
      case 'mix.run':
      case 'mix.fragment':
      case 'mix.jump':
      case 'mix.ended':
        this.mixMessage(m);
    }
  }

  private mixMessage(m: Extract<FromWorker, { t: 'mix.run' | 'mix.fragment' | 'mix.jump' | 'mix.ended' }>): void {
    const mix = this.mixes.get(m.spaceId);
    if (!mix) return;
    if (m.t === 'mix.fragment') {
      mix.output.fragment(Buffer.from(m.moof), Buffer.from(m.mdat));
      return;
    }
    if (m.t === 'mix.jump') {
      mix.output.clockJumped?.(m.atSample, m.jumpMs);
      return;
    }
    mix.pid = m.pid;
    mix.crashes = m.crashes;
    if (m.t === 'mix.run') mix.output.runStarted(Buffer.from(m.init), m.startedAt);
    else mix.output.runEnded(m.reason);
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private request(make: (req: number) => ToWorker): Promise<string | undefined> {
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.post(make(req));
    });
  }

  open(session: SessionId, spaceId: SpaceId, identity: Identity): void {
    this.post({ t: 'open', session, spaceId, identity });
  }

  async answer(session: SessionId, offer: string): Promise<string> {
    return (await this.request((req) => ({ t: 'answer', req, session, offer }))) ?? '';
  }

  async candidate(session: SessionId, init: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    await this.request((req) => ({ t: 'candidate', req, session, init }));
  }

  close(session: SessionId): void {
    this.post({ t: 'close', session });
  }

  stage(spaceId: SpaceId, members: StageMemberView[]): void {
    this.stages.set(spaceId, members);
    this.post({ t: 'stage', spaceId, members });
  }

  talking(spaceId: SpaceId): Identity[] {
    return [...(this.talkingNow.get(spaceId) ?? [])];
  }

  startMix(spaceId: SpaceId, options: MixOptions, output: MixOutput): MixHandle {
    const mix: RemoteMix = { options, output, pid: undefined, crashes: 0 };
    this.mixes.set(spaceId, mix);
    this.post({ t: 'mix.start', spaceId, options });
    const mixes = this.mixes;
    const request = this.request.bind(this);
    return {
      get encoderPid() {
        return mix.pid;
      },
      get crashes() {
        return mix.crashes;
      },
      close: async () => {
        if (mixes.get(spaceId) !== mix) return;
        // The last fragments arrive before the reply: messages keep their order.
        await request((req) => ({ t: 'mix.close', req, spaceId }));
        mixes.delete(spaceId);
      },
    };
  }

  warm(options: MixOptions): void {
    this.warmFor = options;
    this.post({ t: 'mix.warm', options });
  }

  /** Ends the worker abruptly, as a crash would; it is restarted like after any crash (tests, drills). */
  async crash(): Promise<void> {
    await this.worker.terminate();
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    await this.request((req) => ({ t: 'shutdown', req })).catch(() => undefined);
    this.stopping = true;
    this.mixes.clear();
    await this.worker.terminate();
  }
}
