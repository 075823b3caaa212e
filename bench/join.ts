/**
 * The join figure: listener joins per second (`POST /api/spaces/:id/join`, no body, no auth) as a
 * ratio of a bare Fastify handler answering a JSON body of the same size, both measured in this run
 * with the same wrk settings over loopback. Before timing, a sanity pass checks real join responses
 * (status, size, a token that verifies for this space) and then every response of a short wrk run;
 * timed rounds alternate reference and Rostrum so machine drift hits both, and the medians are kept.
 */
import path from 'node:path';
import { TokenAuthority } from '../src/control/tokens.js';
import { spawnListening } from './processes.js';
import { createLiveSpace, type RostrumChild, startRostrum } from './rostrum.js';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.js';

export interface JoinSettings {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  sanitySeconds: number;
  /** Joins checked one by one (with a token verification) before any wrk run. */
  sanityRequests: number;
  threads: number;
  connections: number;
  /** CPU-profile both servers (node --cpu-prof) into <cpuProfDir>/join (Rostrum) and <cpuProfDir>/reference. */
  cpuProfDir?: string;
}

export interface JoinRound {
  reference: WrkResult;
  join: WrkResult;
  /** join req/s ÷ reference req/s for this pair of runs. */
  ratio: number;
}

export interface JoinMeasurement {
  responseBytes: number;
  /** Problems found before timing; any entry fails the run. */
  sanityProblems: string[];
  sanity: { join: WrkResult; reference: WrkResult };
  rounds: JoinRound[];
  median: {
    joinRps: number;
    referenceRps: number;
    ratio: number;
    joinP50Ms: number;
    joinP99Ms: number;
    refP50Ms: number;
    refP99Ms: number;
  };
  /** Socket errors and non-2xx responses over every timed round. */
  failures: { join: number; reference: number };
  /** Requests each server answered over the whole run (to turn profile times into per-request costs). */
  served: { join: number; reference: number };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Joins one at a time and checks each answer; returns the body sizes seen and any problems. */
async function checkJoins(server: RostrumChild, spaceId: string, count: number): Promise<{ sizes: number[]; problems: string[] }> {
  const tokens = new TokenAuthority([server.credentials], 30);
  const sizes: number[] = [];
  const problems: string[] = [];
  for (let i = 0; i < count && problems.length < 5; i++) {
    const response = await fetch(`${server.url}/api/spaces/${spaceId}/join`, { method: 'POST' });
    const text = await response.text();
    sizes.push(Buffer.byteLength(text));
    if (response.status !== 200) {
      problems.push(`join answered ${response.status}: ${text.slice(0, 200)}`);
      continue;
    }
    try {
      const body = JSON.parse(text) as { token?: unknown; role?: unknown; space?: { id?: unknown } };
      if (typeof body.token !== 'string') throw new Error('no token');
      const claims = tokens.verify(body.token);
      if (claims.space !== spaceId || claims.role !== 'listener') throw new Error(`token is for ${claims.space}/${claims.role}`);
      if (body.role !== 'listener' || body.space?.id !== spaceId) throw new Error('wrong role or space in the body');
    } catch (err) {
      problems.push(`join response ${i} is wrong: ${(err as Error).message}`);
    }
  }
  if (new Set(sizes).size > 1) problems.push(`join responses vary in size: ${Math.min(...sizes)}–${Math.max(...sizes)} bytes`);
  return { sizes, problems };
}

function describe(label: string, r: WrkResult): string {
  return `${label}: ${Math.round(r.requestsPerSecond)} req/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, failures ${r.failures}`;
}

export async function measureJoin(settings: JoinSettings, log: (line: string) => void): Promise<JoinMeasurement> {
  const stops: Array<() => Promise<void>> = [];
  try {
    const profileDir = (name: string) =>
      settings.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(settings.cpuProfDir, name)] : [];
    const rostrum = await startRostrum(profileDir('join'));
    stops.push(rostrum.stop);
    const spaceId = await createLiveSpace(rostrum);
    log(`rostrum at ${rostrum.url}, live space ${spaceId}`);

    const checked = await checkJoins(rostrum, spaceId, settings.sanityRequests);
    const sanityProblems = [...checked.problems];
    const responseBytes = median(checked.sizes);
    log(`checked ${checked.sizes.length} joins one by one: ${responseBytes} bytes each, ${checked.problems.length} problems`);

    const reference = await spawnListening(
      'reference',
      [...profileDir('reference'), new URL('./reference-server.js', import.meta.url).pathname, '--size', String(responseBytes)],
      process.env,
      (entry) => (entry.msg === 'reference listening' && typeof entry.url === 'string' ? entry.url : undefined),
    );
    stops.push(reference.stop);
    const refResponse = await fetch(`${reference.url}/join`, { method: 'POST' });
    const refBytes = Buffer.byteLength(await refResponse.text());
    if (refResponse.status !== 200 || refBytes !== responseBytes) {
      sanityProblems.push(`reference answered ${refResponse.status} with ${refBytes} bytes, not 200 with ${responseBytes}`);
    }
    log(`reference at ${reference.url}, ${refBytes} bytes`);

    const joinUrl = `${rostrum.url}/api/spaces/${spaceId}/join`;
    const refUrl = `${reference.url}/join`;
    const served = { join: checked.sizes.length + 1, reference: 1 };
    const load = async (url: string, seconds: number, check?: string): Promise<WrkResult> => {
      const options: WrkOptions = { url, threads: settings.threads, connections: settings.connections, durationSeconds: seconds };
      const result = await runWrk(check === undefined ? options : { ...options, check });
      served[url === joinUrl ? 'join' : 'reference'] += result.requests;
      return result;
    };

    // Every response of a short load run is inspected (this is also the warm-up of the JIT).
    const sanity = {
      join: await load(joinUrl, settings.sanitySeconds, '"token":"ey'),
      reference: await load(refUrl, settings.sanitySeconds, '"token":"'),
    };
    for (const [label, r] of Object.entries(sanity)) {
      log(`sanity ${describe(label, r)}, ${r.bad} of ${r.checked} responses bad`);
      if (r.failures > 0 || !r.checked) sanityProblems.push(`${label} sanity run: ${r.failures} failures in ${r.checked ?? 0} responses`);
    }
    if (settings.warmupSeconds > 0) {
      log(`warm-up ${describe('reference', await load(refUrl, settings.warmupSeconds))}`);
      log(`warm-up ${describe('join', await load(joinUrl, settings.warmupSeconds))}`);
    }

    const rounds: JoinRound[] = [];
    for (let i = 0; i < settings.rounds; i++) {
      const ref = await load(refUrl, settings.seconds);
      const join = await load(joinUrl, settings.seconds);
      rounds.push({ reference: ref, join, ratio: ref.requestsPerSecond > 0 ? join.requestsPerSecond / ref.requestsPerSecond : 0 });
      log(
        `round ${i + 1}/${settings.rounds}: ${describe('reference', ref)} | ${describe('join', join)} | ratio ${rounds[i]!.ratio.toFixed(3)}`,
      );
    }

    const pick = (f: (r: JoinRound) => number) => median(rounds.map(f));
    return {
      responseBytes,
      sanityProblems,
      sanity,
      rounds,
      median: {
        joinRps: pick((r) => r.join.requestsPerSecond),
        referenceRps: pick((r) => r.reference.requestsPerSecond),
        ratio: pick((r) => r.ratio),
        joinP50Ms: pick((r) => r.join.latencyMs.p50),
        joinP99Ms: pick((r) => r.join.latencyMs.p99),
        refP50Ms: pick((r) => r.reference.latencyMs.p50),
        refP99Ms: pick((r) => r.reference.latencyMs.p99),
      },
      failures: {
        join: rounds.reduce((sum, r) => sum + r.join.failures, 0),
        reference: rounds.reduce((sum, r) => sum + r.reference.failures, 0),
      },
      served,
    };
  } finally {
    // SIGTERM, so that when profiling each server writes its CPU profile on the way out.
    for (const stop of stops.reverse()) await stop();
  }
}
