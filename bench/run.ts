/**
 * `npm run bench`: the benchmark suite's entry. Makes sure wrk is installed, measures the listener
 * join figure against a bare Fastify reference in the same run (bench/join.ts), and writes
 * bench/results/latest.json and latest.md. Exits non-zero when a goal is missed or the run had errors.
 *
 *   npm run bench                      full run: 3 alternating rounds × 10 s per server
 *   npm run bench -- --quick           short run (well under a minute), for a quick check
 *   npm run bench -- --profile         also CPU-profile both servers (kept in a temp folder) and list
 *                                      their hottest functions per request, in latest.md too
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type JoinMeasurement, type JoinSettings, measureJoin } from './join.js';
import { installExitHandlers, ROOT, stopAll } from './processes.js';
import { newestProfile, type ProfileSummary, profileMarkdown, summarize } from './profile.js';
import { type Figure, judge, num, type Report, writeResults } from './results.js';

const USAGE = 'usage: node dist/bench/run.js [--quick] [--profile]';
const args = process.argv.slice(2);
for (const arg of args) {
  if (arg === '--help' || arg === '-h' || !['--quick', '--profile'].includes(arg)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(arg.startsWith('-h') || arg === '--help' ? 0 : 2);
  }
}
const quick = args.includes('--quick');
const cpuProfDir = args.includes('--profile') ? fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-prof-')) : undefined;

const settings: JoinSettings = {
  rounds: 3,
  seconds: quick ? 3 : 10,
  warmupSeconds: quick ? 1 : 5,
  sanitySeconds: quick ? 1 : 2,
  sanityRequests: quick ? 50 : 200,
  threads: 1,
  connections: 64,
  ...(cpuProfDir ? { cpuProfDir } : {}),
};
const started = Date.now();
const log = (line: string) => process.stdout.write(`bench: ${line}\n`);

function wrkVersion(): string {
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`.split('\n')[0]?.replace(/ Copyright.*/, '') ?? 'wrk';
}

function machine(): Report['machine'] {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    release: os.release(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg(),
    wrk: wrkVersion(),
  };
}

function figures(m: JoinMeasurement): Figure[] {
  const clean = m.failures.join === 0 && m.failures.reference === 0 && m.sanityProblems.length === 0;
  const throughput = judge({
    id: 'join.throughput',
    name: 'join throughput',
    value: m.median.joinRps,
    unit: 'req/s',
    reference: m.median.referenceRps,
    ratio: m.median.ratio,
    goal: { on: 'ratio', op: '>=', target: 0.7 },
    note: 'median over rounds; the ratio is the median of each round’s join ÷ reference. Failed if any run had errors.',
  });
  return [
    { ...throughput, pass: throughput.pass === true && clean },
    judge({
      id: 'join.latency.p50',
      name: 'join latency p50',
      value: m.median.joinP50Ms,
      unit: 'ms',
      reference: m.median.refP50Ms,
      ratio: m.median.refP50Ms > 0 ? m.median.joinP50Ms / m.median.refP50Ms : null,
      goal: null,
    }),
    judge({
      id: 'join.latency.p99',
      name: 'join latency p99',
      value: m.median.joinP99Ms,
      unit: 'ms',
      reference: m.median.refP99Ms,
      ratio: m.median.refP99Ms > 0 ? m.median.joinP99Ms / m.median.refP99Ms : null,
      goal: null,
    }),
    judge({
      id: 'join.errors',
      name: 'join errors (socket + non-2xx)',
      value: m.failures.join,
      unit: '',
      reference: m.failures.reference,
      ratio: null,
      goal: { on: 'value', op: '==', target: 0 },
      note: 'summed over the timed rounds, from wrk (status ≥ 400 and connect/read/write/timeout errors).',
    }),
  ];
}

async function main(): Promise<number> {
  installExitHandlers();
  const ensure = spawnSync('bash', [path.join(ROOT, 'scripts/ensure-system-packages.sh'), 'bench'], { stdio: 'inherit' });
  if (ensure.status !== 0) {
    process.stderr.write('bench: the system packages it needs (wrk) are missing\n');
    return 1;
  }
  const host = machine(); // before the run, so the load average shows what else was running
  log(`${quick ? 'quick' : 'full'} run: ${settings.rounds} rounds × ${settings.seconds} s per server`);

  let measurement: JoinMeasurement | undefined;
  let error: Error | undefined;
  try {
    measurement = await measureJoin(settings, log);
  } catch (err) {
    error = err as Error;
  } finally {
    await stopAll();
  }

  const figs = measurement ? figures(measurement) : [];
  const problems = [...(measurement?.sanityProblems ?? []), ...(error ? [`the run failed: ${error.stack ?? error.message}`] : [])];
  const profiles: Record<string, ProfileSummary> = {};
  for (const [name, requests] of Object.entries(measurement?.served ?? {})) {
    const file = cpuProfDir ? newestProfile(path.join(cpuProfDir, name)) : undefined;
    if (file) profiles[name === 'join' ? 'Rostrum (join)' : 'reference'] = summarize(file, requests);
  }
  const appendix = Object.entries(profiles).map(([title, summary]) => profileMarkdown(title, summary));
  const report: Report = {
    suite: 'rostrum join',
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    durationSeconds: (Date.now() - started) / 1000,
    machine: host,
    settings: {
      load: `wrk -t${settings.threads} -c${settings.connections} -d${settings.seconds}s, POST without body, 127.0.0.1`,
      rounds: settings.rounds,
      'warm-up s': settings.warmupSeconds,
      'response bytes': measurement?.responseBytes ?? 0,
      'rostrum log level': 'info',
    },
    figures: figs,
    rounds: (measurement?.rounds ?? []).map((r) => ({
      referenceRps: r.reference.requestsPerSecond,
      joinRps: r.join.requestsPerSecond,
      ratio: r.ratio,
      joinP99Ms: r.join.latencyMs.p99,
      failures: r.join.failures + r.reference.failures,
    })),
    problems,
    pass: !error && problems.length === 0 && figs.length > 0 && figs.every((f) => f.pass !== false),
    ...(appendix.length ? { appendix: `## Server CPU profiles: top self time\n\n${appendix.join('\n\n')}` } : {}),
    details: measurement ? { sanity: measurement.sanity, rounds: measurement.rounds, served: measurement.served, profiles } : undefined,
  };
  const files = writeResults(report, path.join(ROOT, 'bench/results'));
  for (const f of figs) {
    const reference = f.reference === null ? '' : `, reference ${num(f.reference, f.unit)}`;
    const ratio = f.ratio === null ? '' : `, ratio ${num(f.ratio)}`;
    log(`${f.name}: ${num(f.value, f.unit)}${reference}${ratio}: ${f.pass === null ? 'info' : f.pass ? 'pass' : 'FAIL'}`);
  }
  if (appendix.length) log(`CPU profiles:\n\n${appendix.join('\n\n')}\n`);
  for (const p of problems) log(`problem: ${p}`);
  log(
    `${report.pass ? 'PASS' : 'FAIL'} in ${Math.round(report.durationSeconds)} s; wrote ${path.relative(ROOT, files.json)} and ${path.relative(ROOT, files.markdown)}`,
  );
  return report.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    await stopAll();
    process.exit(1);
  },
);
