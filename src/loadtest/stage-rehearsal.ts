/**
 * The stage side of a rehearsal: bot speakers seated through the operator's credentials (as invited
 * speakers) and talking, a steady ping on each one's signalling socket (the stage's round trip
 * while the crowd arrives), and the start of a scheduled space timed the way its audience lives
 * it — from the host's "go live" request to the first part of audio at the origin.
 */
import { type Percentiles, percentiles } from '../bots/listener-bot.js';
import { SpeakerBot } from '../bots/speaker-bot.js';
import { keep } from './stats.js';

/** Calls the API as the operator, or with a participant's token (the CLI's ApiClient.request). */
export type OperatorApi = <T>(method: string, path: string, body?: unknown, asToken?: string) => Promise<T>;

export interface StartTiming {
  space: string;
  /** Second of the run the host pressed "go live". */
  atSecond: number;
  /** When the go-live request was sent, epoch ms (for figures measured elsewhere, such as a player's first audio). */
  pressedAt: number;
  /** The go-live request's answer, ms. */
  goLiveMs: number;
  /** From sending the go-live request to the first part of audio fetched from the origin, ms. */
  firstPartMs: number | null;
  /** Why the space did not go live, when it did not. */
  error?: string;
}

const spacePath = (space: string) => `/api/spaces/${encodeURIComponent(space)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seats a bot speaker on a space (live or not yet) and has it talk: a tone, unmuted. */
export async function seatSpeaker(api: OperatorApi, server: string, space: string, n: number, toneHz: number): Promise<SpeakerBot> {
  return (await seatBot(api, server, space, `loadtest-speaker-${n}`, `Speaker ${n}`, toneHz)).bot;
}

/** seatSpeaker for any identity; also gives the bot's token, for what it does next (leave the stage). */
export async function seatBot(
  api: OperatorApi,
  server: string,
  space: string,
  identity: string,
  name: string,
  toneHz: number,
): Promise<{ bot: SpeakerBot; token: string }> {
  const { token } = await api<{ token: string }>('POST', `${spacePath(space)}/tokens`, { identity, name, role: 'speaker' });
  await api('POST', `${spacePath(space)}/stage`, undefined, token);
  await api('POST', `${spacePath(space)}/participants/${encodeURIComponent(identity)}/unmute`, undefined, token);
  return { bot: await SpeakerBot.join({ server, token, toneHz, keepHeard: false }), token };
}

/** Pings every bot's signalling socket every `everyMs`; keeps the round trips. */
export class StagePinger {
  private readonly samples: number[] = [];
  private seen = 0;
  private lost = 0;
  private readonly timer: NodeJS.Timeout;
  /** Round trips by phase of the run (phase()), beside the whole run's. */
  private readonly phases = new Map<string, { samples: number[]; seen: number }>();
  private current: { samples: number[]; seen: number } | undefined;
  /** The longest round trip since the last `tick()`. */
  private secondMax: number | null = null;

  constructor(
    private readonly bots: () => SpeakerBot[],
    everyMs = 250,
  ) {
    this.timer = setInterval(() => {
      const phase = this.current;
      for (const bot of this.bots()) {
        bot.ping(5000).then(
          (ms) => {
            keep(this.samples, ms, ++this.seen);
            this.secondMax = Math.max(this.secondMax ?? 0, ms);
            if (phase) keep(phase.samples, ms, ++phase.seen);
          },
          () => this.lost++,
        );
      }
    }, everyMs);
  }

  /** From now on, round trips also count towards the phase `name` (a ping counts in the phase it was sent in). */
  phase(name: string): void {
    this.current = { samples: [], seen: 0 };
    this.phases.set(name, this.current);
  }

  /** The longest round trip answered since the last call (null: none answered), ms. */
  tick(): number | null {
    const max = this.secondMax;
    this.secondMax = null;
    return max;
  }

  report(): { pings: number; lost: number; rttMs: Percentiles | null; phases: Record<string, Percentiles | null> } {
    const phases = Object.fromEntries([...this.phases].map(([name, p]) => [name, percentiles(p.samples)]));
    return { pings: this.seen + this.lost, lost: this.lost, rttMs: percentiles(this.samples), phases };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Takes a scheduled space live as its host would and times it: the request's answer, and the first
 * part of audio a player could fetch from the origin (polled every 20 ms until the broadcast
 * exists, then a blocking reload for its first part). A refused or failed request is reported, not thrown.
 */
export async function goLive(api: OperatorApi, origin: string, space: string, atSecond: number, timeoutMs = 15_000): Promise<StartTiming> {
  const pressedAt = Date.now();
  const started = performance.now();
  let refused: unknown;
  const request = api('POST', `${spacePath(space)}/start`).then(
    () => performance.now() - started,
    (err: unknown) => {
      refused = err;
      return Number.NaN;
    },
  );
  const hls = `${origin}/hls/${encodeURIComponent(space)}`;
  let firstPartMs: number | null = null;
  while (refused === undefined && performance.now() - started < timeoutMs) {
    const playlist = await fetch(`${hls}/index.m3u8?_HLS_msn=0&_HLS_part=0`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (playlist?.status !== 200) {
      await playlist?.body?.cancel();
      await sleep(20);
      continue;
    }
    const uri = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(await playlist.text())?.[1];
    if (!uri) continue;
    const part = await fetch(`${hls}/${uri}`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    if (part?.status === 200 && (await part.arrayBuffer()).byteLength > 0) {
      firstPartMs = performance.now() - started;
      break;
    }
  }
  const goLiveMs = await request;
  if (refused !== undefined)
    return { space, atSecond, pressedAt, goLiveMs, firstPartMs: null, error: (refused as Error).message ?? String(refused) };
  return { space, atSecond, pressedAt, goLiveMs, firstPartMs };
}
