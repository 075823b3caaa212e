/**
 * The stage benchmark: what the server adds between speakers, measured with real WebRTC bots
 * (werift + libopus) against a Rostrum server in its own process.
 *
 * - Latency: speaker A sends a click (a loud 20 ms frame after silence) every 200 ms; speaker B
 *   times each click's arrival (decoded level crossing a threshold). The reference is the same
 *   sender and receiver connected directly, peer to peer, in the bench process (a loopback echo
 *   of the same stack): the server's added latency is the difference.
 * - Latency under HTTP load: the same, while wrk hammers the listener join endpoint on the same
 *   server process (does HTTP work delay media on a shared event loop?).
 * - CPU: a full stage, 13 bot speakers each hearing the other 12, for a timed window; the server
 *   process's CPU time (from /proc) over wall time, against the idle server over the same window.
 * - Loss: A's 440 Hz tone as B hears it (libopus concealment for lost packets), with 5 % of A's
 *   packets dropped at the source, against the same run without loss: the tone's energy in dB.
 */
import { MediaStreamTrack, RTCPeerConnection } from 'werift';
import { OpusReceiver, OpusSender } from '../src/bots/opus-stream.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { FRAME_SAMPLES, goertzel, toneFrame } from '../src/bots/tone.js';
import { loadConfig } from '../src/config.js';
import type { Role } from '../src/control/model.js';
import { FastReceive } from '../src/stage/fast-receive.js';
import { connected, gatheringComplete, rtcConfig } from '../src/stage/rtc-config.js';
import { CLICK_EVERY_FRAMES, ClickTimer, type Distribution } from './clicks.js';
import { cpuPercent } from './cpu.js';
import { median } from './join.js';
import { createLiveSpace, createSpace, type RostrumChild, seat, startRostrum } from './rostrum.js';
import { runWrk } from './wrk.js';

export interface StageSettings {
  /** Clicks timed per latency run. */
  clicks: number;
  /** Seconds of the CPU window (after a warm-up of the same length). */
  cpuSeconds: number;
  /** Seconds of tone per loss run. */
  lossSeconds: number;
  /** wrk connections for the under-load latency run. */
  loadConnections: number;
}

export interface StageMeasurement {
  latency: {
    direct: Distribution;
    server: Distribution;
    underLoad: Distribution;
    loadRps: number;
    /** The clicks with eleven more speakers talking (a full stage): the media worker coalesces its receives. */
    fullStage: CrowdClicks;
  };
  cpu: StageCpu;
  conversationCpu: StageCpu;
  /** The same full stage talking at once before its space goes live: no broadcast mix on the server. */
  stageOnlyCpu: StageCpu;
  /** Listener joins per second on the same server, idle and while a full stage talks. */
  http: { joinsIdle: number; joinsWithStage: number };
  /** A second server with receive coalescing off (ROSTRUM_MEDIA_COALESCE_MS=0): the clicks with a full stage, and its CPU. */
  uncoalesced: { fullStage: CrowdClicks; cpu: StageCpu };
  loss: { cleanEnergy: number; lossyEnergy: number; deltaDb: number; observedLoss: number; lossRate: number };
  problems: string[];
}

export interface StageCpu {
  talk: Talk;
  /** The space was live: the server also mixed and encoded its broadcast. */
  broadcasting: boolean;
  speakers: number;
  seconds: number;
  serverPercent: number;
  idlePercent: number;
  /** Packets the bots received per second during the window, and what a full stage should get. */
  forwardedPerSecond: number;
  expectedPerSecond: number;
  /** The bench process (13 bots: encode, decrypt, decode) over the same window. */
  botsPercent: number;
}

const LOSS_RATE = 0.05;
const SILENCE = Buffer.alloc(FRAME_SAMPLES * 2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gathered(pc: RTCPeerConnection): Promise<string> {
  await gatheringComplete(pc);
  return pc.localDescription!.sdp;
}

/** The reference path: sender and receiver connected directly, no server between them. */
async function directClicks(clicks: number): Promise<Distribution> {
  const a = new RTCPeerConnection(rtcConfig(true));
  const b = new RTCPeerConnection(rtcConfig(true));
  const timer = new ClickTimer();
  try {
    const mic = new MediaStreamTrack({ kind: 'audio' });
    a.addTransceiver(mic, { direction: 'sendonly' });
    // The receiver takes the fast receive path, as the bots behind the server do.
    const fast = new FastReceive(b);
    b.onTrack.subscribe((track) => new OpusReceiver(track, timer.onHeard, false, fast));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription({ type: 'offer', sdp: await gathered(a) });
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription({ type: 'answer', sdp: await gathered(b) });
    await connected(a, 'the direct reference pair');
    const sender = new OpusSender(mic, timer.frameAt, { onSent: timer.onSent });
    sender.start();
    await sleep((clicks + 1) * CLICK_EVERY_FRAMES * 20 + 300);
    sender.stop();
    return timer.distribution();
  } finally {
    await a.close();
    await b.close();
  }
}

/** A stage's members: the host, two co-hosts and `speakers` speakers (ten fill it). */
function stageMembers(speakers: number): Array<[string, Role]> {
  return [
    ['host', 'host'],
    ['c1', 'cohost'],
    ['c2', 'cohost'],
    ...Array.from({ length: speakers }, (_, i): [string, Role] => [`s${i + 1}`, 'speaker']),
  ];
}
/** The rest of a full stage for the click runs: A and B are its last two speakers. */
const CROWD = stageMembers(8);
/** The crowd's level: well under the clicks (so A is among the loudest B hears) and under CLICK_THRESHOLD at B. */
const CROWD_LEVEL = 0.02;

/** Clicks timed with a full stage talking, and whether the server said (its metrics) it was coalescing its receives meanwhile. */
export type CrowdClicks = Distribution & { coalescing: boolean };

/**
 * Clicks from A to B while the rest of a full stage talks (quietly, each its own tone), so the
 * server carries a full stage's packets.
 */
async function crowdClicks(server: RostrumChild, spaceId: string, clicks: number, tag: string): Promise<CrowdClicks> {
  const others: SpeakerBot[] = [];
  try {
    for (const [k, [identity, role]] of CROWD.entries()) {
      const token = await seat(server, spaceId, identity, role);
      others.push(
        await SpeakerBot.join({ server: server.url, token, keepHeard: false, frameAt: (i) => toneFrame(300 + 50 * k, i, CROWD_LEVEL) }),
      );
    }
    const clicked = await serverClicks(server, spaceId, clicks, tag);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    return { ...clicked, coalescing: /^rostrum_media_receive_coalescing 1$/m.test(metrics) };
  } finally {
    for (const bot of others) await bot.close();
  }
}

/** Clicks from A to B through the server. */
async function serverClicks(server: RostrumChild, spaceId: string, clicks: number, tag: string): Promise<Distribution> {
  const timer = new ClickTimer();
  const b = await SpeakerBot.join({
    server: server.url,
    token: await seat(server, spaceId, `b${tag}`, 'speaker'),
    keepHeard: false,
    onHeard: (_slot, frame) => timer.onHeard(frame),
  });
  const a = await SpeakerBot.join({
    server: server.url,
    token: await seat(server, spaceId, `a${tag}`, 'speaker'),
    keepHeard: false,
    frameAt: timer.frameAt,
    onSent: timer.onSent,
  });
  try {
    await sleep((clicks + 1) * CLICK_EVERY_FRAMES * 20 + 300);
    return timer.distribution();
  } finally {
    await a.close();
    await b.close();
  }
}

/** Windows a full stage's CPU figure is the median of. */
const CPU_WINDOWS = 3;

/** How a full stage talks: everyone at once (the worst case), or in turns, two voices at a time. */
export type Talk = 'all' | 'turns';
const TURN_FRAMES = 100; // 2 s

/** Frame `index` of member `k` of `n`: its tone, or silence when it is not its turn. */
function voice(talk: Talk, k: number, n: number): (index: number) => Buffer {
  const hz = 300 + 50 * k;
  if (talk === 'all') return (i) => toneFrame(hz, i);
  return (i) => {
    const turn = Math.floor(i / TURN_FRAMES) % n;
    return turn === k || (turn + 1) % n === k ? toneFrame(hz, i) : SILENCE;
  };
}

/** A full stage: host, 2 co-hosts, 10 speakers, each publishing its own voice and hearing the rest. */
export async function fullStageCpu(
  server: RostrumChild,
  seconds: number,
  talk: Talk,
  log: (line: string) => void,
  /** Run after the CPU window, while the stage still talks. */
  meanwhile?: () => Promise<void>,
  /** Whether the space is live, so the server also mixes and encodes its broadcast. */
  broadcasting = true,
): Promise<StageCpu> {
  const pid = server.child.pid!;
  const spaceId = await createSpace(server, 'full stage', broadcasting);
  const idlePercent = await cpuPercent(pid, seconds);
  const members = stageMembers(10);
  const bots: SpeakerBot[] = [];
  let heard = 0;
  try {
    for (const [i, [identity, role]] of members.entries()) {
      const token = await seat(server, spaceId, identity, role);
      const frameAt = voice(talk, i, members.length);
      bots.push(await SpeakerBot.join({ server: server.url, token, frameAt, keepHeard: false, onHeard: () => heard++ }));
    }
    log(`stage: ${bots.length} speakers on stage, talking ${talk === 'all' ? 'all at once' : 'in turns'}; warming up ${seconds} s`);
    await sleep(seconds * 1000);
    const heardBefore = heard;
    const botsBefore = process.cpuUsage();
    const started = performance.now();
    // The median of CPU_WINDOWS windows: the box is shared (the 13 bots run on the same two cores),
    // and a single window can catch a neighbour.
    const windows: number[] = [];
    for (let w = 0; w < CPU_WINDOWS; w++) windows.push(await cpuPercent(pid, seconds));
    const serverPercent = median(windows);
    const wall = (performance.now() - started) / 1000;
    const botsCpu = process.cpuUsage(botsBefore);
    const heardInWindow = heard - heardBefore;
    await meanwhile?.();
    return {
      talk,
      broadcasting,
      speakers: members.length,
      seconds: wall,
      serverPercent,
      idlePercent,
      forwardedPerSecond: heardInWindow / wall,
      // Everyone hears the loudest voices (ROSTRUM_VOICES) but their own; in turns, two voices (plus each one's hangover).
      expectedPerSecond: Math.min(talk === 'all' ? members.length : 2, loadConfig({}, {}).voices) * (members.length - 1) * 50,
      botsPercent: ((botsCpu.user + botsCpu.system) / 1e6 / wall) * 100,
    };
  } finally {
    for (const bot of bots) await bot.close();
  }
}

/** B's reception of A's 440 Hz tone, with `lossRate` of A's packets dropped before they leave. */
async function toneThroughStage(
  server: RostrumChild,
  spaceId: string,
  seconds: number,
  lossRate: number,
  tag: string,
): Promise<{ energy: number; observedLoss: number }> {
  const b = await SpeakerBot.join({ server: server.url, token: await seat(server, spaceId, `lb${tag}`, 'speaker') });
  const a = await SpeakerBot.join({
    server: server.url,
    token: await seat(server, spaceId, `la${tag}`, 'speaker'),
    toneHz: 440,
    lossRate,
  });
  try {
    await sleep(500);
    const since = Date.now();
    const receivedBefore = b.receivers.reduce((n, r) => n + r.received, 0);
    const concealedBefore = b.receivers.reduce((n, r) => n + r.concealed, 0);
    await sleep(seconds * 1000);
    const received = b.receivers.reduce((n, r) => n + r.received, 0) - receivedBefore;
    const concealed = b.receivers.reduce((n, r) => n + r.concealed, 0) - concealedBefore;
    return { energy: goertzel(b.heardSince(since), 440), observedLoss: concealed / Math.max(1, received + concealed) };
  } finally {
    await a.close();
    await b.close();
  }
}

export async function measureStage(settings: StageSettings, log: (line: string) => void): Promise<StageMeasurement> {
  const problems: string[] = [];
  const server = await startRostrum();
  try {
    log(`stage: rostrum at ${server.url}`);
    const direct = await directClicks(settings.clicks);
    log(`stage: direct p50 ${direct.p50.toFixed(1)} ms p99 ${direct.p99.toFixed(1)} ms (${direct.count} clicks)`);
    const spaceId = await createLiveSpace(server, 'latency');
    const viaServer = await serverClicks(server, spaceId, settings.clicks, '1');
    log(`stage: via server p50 ${viaServer.p50.toFixed(1)} ms p99 ${viaServer.p99.toFixed(1)} ms (${viaServer.count} clicks)`);

    const loadSeconds = Math.ceil(((settings.clicks + 1) * CLICK_EVERY_FRAMES * 20) / 1000) + 4;
    const joinUrl = `${server.url}/api/spaces/${spaceId}/join`;
    const load = runWrk({
      url: joinUrl,
      threads: 1,
      connections: settings.loadConnections,
      durationSeconds: loadSeconds,
    });
    await sleep(500);
    const underLoad = await serverClicks(server, spaceId, settings.clicks, '2');
    const loadResult = await load;
    log(
      `stage: under ${Math.round(loadResult.requestsPerSecond)} joins/s p50 ${underLoad.p50.toFixed(1)} ms p99 ${underLoad.p99.toFixed(1)} ms`,
    );
    const fullStage = await crowdClicks(server, await createLiveSpace(server, 'latency, full stage'), settings.clicks, '3');
    log(
      `stage: with a full stage talking p50 ${fullStage.p50.toFixed(1)} ms p99 ${fullStage.p99.toFixed(1)} ms (receive coalescing ${fullStage.coalescing ? 'on' : 'off'})`,
    );
    if (!fullStage.coalescing) problems.push('the media worker did not coalesce its receives with a full stage talking');
    for (const [name, d] of Object.entries({ direct, 'via server': viaServer, 'under load': underLoad, 'full stage': fullStage })) {
      if (d.count < settings.clicks * 0.9) problems.push(`${name}: only ${d.count} of ${settings.clicks} clicks were timed`);
    }

    // Does media work delay HTTP? Join throughput on the same server, without and with a talking stage.
    const joins = async () =>
      (await runWrk({ url: joinUrl, threads: 1, connections: settings.loadConnections, durationSeconds: settings.cpuSeconds }))
        .requestsPerSecond;
    const joinsIdle = await joins();
    let joinsWithStage = Number.NaN;
    const cpu = await fullStageCpu(server, settings.cpuSeconds, 'all', log, async () => {
      joinsWithStage = await joins();
    });
    log(`stage: joins/s ${Math.round(joinsIdle)} idle, ${Math.round(joinsWithStage)} with 13 speakers talking`);
    const conversationCpu = await fullStageCpu(server, settings.cpuSeconds, 'turns', log);
    const stageOnlyCpu = await fullStageCpu(server, settings.cpuSeconds, 'all', log, undefined, false);
    for (const c of [cpu, conversationCpu, stageOnlyCpu]) {
      log(
        `stage: 13 speakers (${c.talk}${c.broadcasting ? '' : ', not live'}): server ${c.serverPercent.toFixed(1)} % of a core (idle ${c.idlePercent.toFixed(1)} %)`,
      );
      const low = c.talk === 'all' ? 0.95 : 0.8;
      if (c.forwardedPerSecond < c.expectedPerSecond * low) {
        problems.push(
          `full stage (${c.talk}): bots heard ${Math.round(c.forwardedPerSecond)} packets/s of ${c.expectedPerSecond} expected`,
        );
      }
    }

    const lossSpace = await createLiveSpace(server, 'loss');
    const clean = await toneThroughStage(server, lossSpace, settings.lossSeconds, 0, 'clean');
    const lossy = await toneThroughStage(server, lossSpace, settings.lossSeconds, LOSS_RATE, 'lossy');
    const deltaDb = 10 * Math.log10(lossy.energy / clean.energy);
    log(`stage: 5 % loss: ${deltaDb.toFixed(2)} dB (observed loss ${(lossy.observedLoss * 100).toFixed(1)} %)`);
    if (Math.abs(lossy.observedLoss - LOSS_RATE) > 0.01) {
      problems.push(`the lossy run saw ${(lossy.observedLoss * 100).toFixed(1)} % loss, not about ${LOSS_RATE * 100} %`);
    }
    if (clean.observedLoss > 0.005) problems.push(`the clean run lost ${(clean.observedLoss * 100).toFixed(2)} % of packets`);
    const uncoalesced = await withoutCoalescing(settings, log);
    return {
      latency: {
        direct,
        server: viaServer,
        underLoad,
        loadRps: loadResult.requestsPerSecond,
        fullStage,
      },
      cpu,
      conversationCpu,
      stageOnlyCpu,
      http: { joinsIdle, joinsWithStage },
      uncoalesced,
      loss: { cleanEnergy: clean.energy, lossyEnergy: lossy.energy, deltaDb, observedLoss: lossy.observedLoss, lossRate: LOSS_RATE },
      problems,
    };
  } finally {
    await server.stop();
  }
}

/** The same full-stage clicks and CPU on a server that never coalesces its receives: the A/B reference. */
async function withoutCoalescing(settings: StageSettings, log: (line: string) => void): Promise<StageMeasurement['uncoalesced']> {
  const server = await startRostrum([], { ROSTRUM_MEDIA_COALESCE_MS: '0' });
  try {
    const fullStage = await crowdClicks(server, await createLiveSpace(server, 'latency, full stage'), settings.clicks, '4');
    log(`stage: coalescing off: with a full stage talking p50 ${fullStage.p50.toFixed(1)} ms p99 ${fullStage.p99.toFixed(1)} ms`);
    const cpu = await fullStageCpu(server, settings.cpuSeconds, 'all', log);
    log(`stage: coalescing off: 13 speakers (all): server ${cpu.serverPercent.toFixed(1)} % of a core`);
    return { fullStage, cpu };
  } finally {
    await server.stop();
  }
}
