/**
 * One simulated listener, behaving like a player and its page: join (waiting in line with a
 * ticket, solving the proof of work when asked, retrying 429/503 after Retry-After with full
 * jitter), then — until told to stop — follow the LL-HLS playlist with
 * blocking reload and fetch each part as it comes out (a real-time playback clock counts stalls),
 * poll the state document about once a second (with If-None-Match), heartbeat, and react now and
 * then. No decoding: the load test measures the service, not the codec.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Challenge } from 'altcha-lib/types';
import type { Dispatcher } from 'undici';
import { PlaybackClock } from '../bots/playback-clock.js';
import { solvePow } from '../bots/pow-solver.js';
import type { LoadStats } from './stats.js';

export interface ListenerContext {
  http: Dispatcher;
  /** Path prefix of the space's API and HLS, e.g. /api/spaces/ID and /hls/ID. */
  apiPath: string;
  hlsPath: string;
  stats: LoadStats;
  /** Reactions per minute this listener sends on average (Poisson). */
  reactionsPerMinute: number;
  /** Parts to start behind the live edge (PART-HOLD-BACK). */
  holdBackParts: number;
  /**
   * `parts`: follow the broadcast as an LL-HLS player does. `none`: only the page's requests (join,
   * state document, heartbeats, reactions) — the crowd as the origin sees it behind an edge, which
   * serves the broadcast from its cache; lets a small box simulate a crowd several times larger.
   */
  media: 'parts' | 'none';
}

/** What a join answers: a token, a place in line, or a coded error. */
interface JoinAnswer {
  token?: string;
  heartbeatIntervalSeconds?: number;
  ticket?: string;
  error?: { code: string };
}

const REACTIONS = ['👏', '❤️', '😂', '🔥', '💯', '🙏', '😮', '👍'];
const PART = /#EXT-X-PART:DURATION=([\d.]+),URI="(\d+)\.(\d+)\.m4s"/g;
const MAP = /#EXT-X-MAP:URI="([^"]+)"/;

interface Part {
  msn: number;
  index: number;
  duration: number;
}

export class SimulatedListener {
  private token: string | undefined;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Cancels every wait when the listener stops, so nothing outlives the test. */
  private readonly abort = new AbortController();
  private etag: string | undefined;
  private startedAt = 0;
  private readonly playback = new PlaybackClock();
  /** Joined and not yet stopped. */
  active = false;
  heardAudio = false;

  constructor(private readonly ctx: ListenerContext) {}

  async run(): Promise<void> {
    this.startedAt = performance.now();
    if (!(await this.join())) return;
    this.active = true;
    this.ctx.stats.listenerJoined();
    this.every(() => this.pollState(), 1000, true);
    this.every(() => this.heartbeat(), this.heartbeatMs, false);
    if (this.ctx.reactionsPerMinute > 0) this.scheduleReaction();
    if (this.ctx.media === 'parts') await this.follow().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    if (this.active) this.ctx.stats.listenerLeft();
    this.active = false;
    for (const timer of this.timers) clearTimeout(timer);
  }

  /** Minutes of listening so far (for stalls per listener-minute). */
  get listenedMinutes(): number {
    const started = this.playback.startedAt;
    return started === undefined ? 0 : (performance.now() - started) / 60_000;
  }

  private heartbeatMs = 10_000;

  private sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** One request through the pool, counted in the stats (status 0: no answer at all). */
  private async request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> } | undefined> {
    try {
      const response = await this.ctx.http.request({ method, path, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.body.text();
      this.ctx.stats.response(response.statusCode);
      return { status: response.statusCode, body: text, headers: response.headers };
    } catch {
      this.ctx.stats.response(0);
      return undefined;
    }
  }

  /**
   * Joins like the web app: a waiting-room ticket is kept and brought back after Retry-After; a
   * `pow_required` is met by solving the space's challenge; 429/503 are retried with full jitter.
   */
  private async join(): Promise<boolean> {
    let ticket: string | undefined;
    let pow: string | undefined;
    for (let attempt = 0; !this.stopped; attempt++) {
      const started = performance.now();
      const body = ticket || pow ? JSON.stringify({ ...(ticket ? { ticket } : {}), ...(pow ? { pow } : {}) }) : undefined;
      pow = undefined; // a solution admits one join
      const response = await this.request('POST', `${this.ctx.apiPath}/join`, body ? { 'content-type': 'application/json' } : {}, body);
      const answer = response ? (JSON.parse(response.body || '{}') as JoinAnswer) : undefined;
      if (response?.status === 200 && answer?.token) {
        this.ctx.stats.joined(performance.now() - started);
        this.token = answer.token;
        this.heartbeatMs = (answer.heartbeatIntervalSeconds ?? 10) * 1000;
        return true;
      }
      const retryAfter = Number(response?.headers['retry-after']) * 1000 || 0;
      if (response?.status === 202 && answer?.ticket) {
        // In line: come back with the ticket when told (a little jitter so the line does not poll in step).
        ticket = answer.ticket;
        await this.sleep(retryAfter * (0.9 + Math.random() * 0.2));
        continue;
      }
      const code = answer?.error?.code ?? '';
      if (code.startsWith('ticket_')) ticket = undefined;
      if (code.startsWith('pow_') && attempt < 10) {
        pow = await this.solveChallenge();
        if (pow) continue;
      }
      // Full jitter over an exponential ceiling, never sooner than Retry-After.
      await this.sleep(Math.max(retryAfter, Math.random() * Math.min(30_000, 500 * 2 ** attempt)));
    }
    return false;
  }

  private async solveChallenge(): Promise<string | undefined> {
    const response = await this.request('GET', `${this.ctx.apiPath}/challenge`);
    if (response?.status !== 200) return undefined;
    return solvePow((JSON.parse(response.body) as { challenge: Challenge }).challenge).catch(() => undefined);
  }

  private every(task: () => Promise<void>, ms: number, jitter: boolean): void {
    const tick = async () => {
      if (this.stopped) return;
      await task().catch(() => undefined);
      if (!this.stopped) this.timers.push(setTimeout(tick, jitter ? ms * (0.5 + Math.random()) : ms));
    };
    this.timers.push(setTimeout(tick, Math.random() * ms));
  }

  private async pollState(): Promise<void> {
    const response = await this.request('GET', `${this.ctx.apiPath}/state`, this.etag ? { 'if-none-match': this.etag } : {});
    const etag = response?.headers.etag;
    if (typeof etag === 'string') this.etag = etag;
    if (response?.status === 200) this.ctx.stats.stateSeen(JSON.parse(response.body).listeners as number);
  }

  private async heartbeat(): Promise<void> {
    await this.request('POST', `${this.ctx.apiPath}/heartbeat`, { authorization: `Bearer ${this.token}` });
  }

  private scheduleReaction(): void {
    const wait = (-Math.log(1 - Math.random()) * 60_000) / this.ctx.reactionsPerMinute;
    this.timers.push(
      setTimeout(async () => {
        if (this.stopped) return;
        const emoji = REACTIONS[Math.floor(Math.random() * REACTIONS.length)]!;
        const headers = { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' };
        await this.request('POST', `${this.ctx.apiPath}/reactions`, headers, JSON.stringify({ emoji }));
        this.scheduleReaction();
      }, wait),
    );
  }

  /** The player: parts one after another, with a blocking reload whenever the next is not listed yet. */
  private async follow(): Promise<void> {
    let playlist = await this.request('GET', `${this.ctx.hlsPath}/index.m3u8`);
    while (!this.stopped && playlist?.status !== 200) {
      await this.sleep(500 + Math.random() * 1000);
      playlist = await this.request('GET', `${this.ctx.hlsPath}/index.m3u8`);
    }
    if (!playlist) return;
    const map = MAP.exec(playlist.body)?.[1];
    if (map) await this.request('GET', `${this.ctx.hlsPath}/${map}`);
    let parts = partsOf(playlist.body);
    let next = parts.at(-this.ctx.holdBackParts) ?? parts[0];
    let wanted: [number, number] = next ? [next.msn, next.index] : hintOf(playlist.body);
    while (!this.stopped) {
      next =
        parts.find((p) => p.msn === wanted[0] && p.index === wanted[1]) ??
        parts.find((p) => p.msn === wanted[0] + 1 && p.index === 0 && !hasPart(parts, wanted));
      if (!next) {
        const reloaded = await this.request('GET', `${this.ctx.hlsPath}/index.m3u8?_HLS_msn=${wanted[0]}&_HLS_part=${wanted[1]}`);
        if (reloaded?.status === 200) parts = partsOf(reloaded.body);
        else await this.sleep(250 + Math.random() * 500);
        const first = parts[0];
        if (first && (wanted[0] < first.msn || (wanted[0] === first.msn && wanted[1] < first.index))) {
          // Fell out of the window of listed parts (a player this far behind would rebuffer): catch up.
          const edge = parts.at(-this.ctx.holdBackParts) ?? first;
          wanted = [edge.msn, edge.index];
          this.ctx.stats.stalled();
        }
        continue;
      }
      const part = await this.request('GET', `${this.ctx.hlsPath}/${next.msn}.${next.index}.m4s`);
      if (part?.status === 200) this.played(next.duration);
      wanted = [next.msn, next.index + 1];
    }
  }

  /** A part arrived: the first is the first audio; a late one is a stall. */
  private played(seconds: number): void {
    const now = performance.now();
    if (this.playback.startedAt === undefined) {
      this.heardAudio = true;
      this.ctx.stats.firstAudio(now - this.startedAt);
    }
    if (this.playback.arrived(seconds, now)) this.ctx.stats.stalled();
  }
}

function partsOf(playlist: string): Part[] {
  return [...playlist.matchAll(PART)].map((m) => ({ msn: Number(m[2]), index: Number(m[3]), duration: Number(m[1]) }));
}

function hasPart(parts: Part[], [msn, index]: [number, number]): boolean {
  return parts.some((p) => p.msn === msn && p.index === index);
}

function hintOf(playlist: string): [number, number] {
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"/.exec(playlist);
  return hint ? [Number(hint[1]), Number(hint[2])] : [0, 0];
}
