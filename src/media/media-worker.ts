/**
 * The media worker's entry: a LocalMedia on its own thread (its own event loop, on the machine's
 * other core), driven by messages from WorkerMedia. WebRTC packets, mutes, the talking detector,
 * the mix clock and the encoder's pipes all live here, so HTTP load on the main thread cannot delay
 * them and they cannot delay HTTP. An uncaught error ends the worker; the main thread restarts it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RostrumError } from '../errors.js';
import { LocalMedia } from './local-media.js';
import type { MixHandle, StageMediaOptions } from './media-plane.js';
import { ReceiveCoalescing } from './receive-coalescing.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const options = workerData as StageMediaOptions;
const media = new LocalMedia(
  {
    slot: (session, mid, identity) => post({ t: 'slot', session, mid, identity }),
    talking: (spaceId, identity, talking) => post({ t: 'talking', spaceId, identity, talking }),
    restarted: () => {},
  },
  options,
);
const mixes = new Map<string, MixHandle>();
// This thread is the media's own, so it may sleep between turns under load (see receive-coalescing.ts).
const received = media.receivedBy;
const coalescing = options.coalesceMs ? new ReceiveCoalescing(options.coalesceMs, () => received.fast + received.werift) : undefined;

// The packet counters (and whether receives are coalesced), sent when they change (at most 5 times a second).
let sent = '';
setInterval(() => {
  const counts = {
    t: 'counts',
    packets: { ...media.packets },
    receivedBy: { ...media.receivedBy },
    coalescing: coalescing?.engaged ?? false,
    rtc: media.rtc,
  } as const;
  const now = JSON.stringify(counts);
  if (now !== sent) post(counts);
  sent = now;
}, 200).unref();

async function reply(req: number, work: () => Promise<string | undefined>): Promise<void> {
  try {
    const value = await work();
    post({ t: 'reply', req, ok: true, ...(value === undefined ? {} : { value }) });
  } catch (err) {
    const code = err instanceof RostrumError ? err.code : undefined;
    post({ t: 'reply', req, ok: false, ...(code ? { code } : {}), message: (err as Error).message });
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'open':
      return media.open(m.session, m.spaceId, m.identity);
    case 'answer':
      return void reply(m.req, () => media.answer(m.session, m.offer));
    case 'candidate':
      return void reply(m.req, async () => void (await media.candidate(m.session, m.init)));
    case 'close':
      return media.close(m.session);
    case 'stage':
      return media.stage(m.spaceId, m.members);
    case 'mix.start': {
      const spaceId = m.spaceId;
      const mix: MixHandle = media.startMix(spaceId, m.options, {
        runStarted: (init, startedAt) => post({ t: 'mix.run', spaceId, init, startedAt, pid: mix.encoderPid, crashes: mix.crashes }),
        fragment: (moof, mdat) => post({ t: 'mix.fragment', spaceId, moof, mdat }),
        clockJumped: (atSample, jumpMs) => post({ t: 'mix.jump', spaceId, atSample, jumpMs }),
        runEnded: (reason) => post({ t: 'mix.ended', spaceId, reason, pid: mix.encoderPid, crashes: mix.crashes }),
      });
      mixes.set(spaceId, mix);
      return;
    }
    case 'mix.warm':
      return media.warm(m.options);
    case 'mix.close':
      return void reply(m.req, async () => {
        await mixes.get(m.spaceId)?.close();
        mixes.delete(m.spaceId);
        return undefined;
      });
    case 'shutdown':
      return void reply(m.req, async () => {
        coalescing?.stop();
        await media.shutdown();
        mixes.clear();
        return undefined;
      });
  }
});
