/**
 * `rostrum loadtest`: rehearse an event before the crowd arrives. Simulated listeners join a space
 * and behave like players (src/loadtest/), optional bot speakers talk, a progress bar shows
 * listeners, joins/s, errors and join p99, and the report goes to stdout, a JSON file and an HTML
 * page with charts. `--flood` adds an attack on the join path and `--go-live` the start of
 * scheduled spaces during it (the start-on-time rehearsal). Loopback only unless --allow-remote;
 * bounded by --duration.
 */
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { renderHtmlReport } from '../loadtest/html-report.js';
import { type LoadReport, LoadTestError, runLoadTest } from '../loadtest/load-test.js';
import { ApiClient, CliError, serverUrl } from './client.js';
import { withServerOptions } from './options.js';

function count(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`${name} must be a number from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

export function loadtestCommand(): Command {
  return withServerOptions(new Command('loadtest'))
    .description('simulate listeners (and bot speakers) on a space and report how the service holds up')
    .requiredOption('--space <id>', 'the space (live, or scheduled to go live during the test)')
    .requiredOption('--listeners <n>', 'simulated listeners', count('--listeners', 1, 1_000_000))
    .option('--ramp <seconds>', 'seconds over which listeners arrive (linear profile)', count('--ramp', 0, 3600), 10)
    .requiredOption('--duration <seconds>', 'how long the test runs in all, then stops by itself', count('--duration', 1, 86_400))
    .addOption(
      new Option('--profile <profile>', 'arrivals: linear over --ramp, or flash (everyone in the first second)')
        .choices(['linear', 'flash'])
        .default('linear'),
    )
    .option('--speakers <k>', 'bot speakers on stage (needs operator credentials)', count('--speakers', 0, 10), 0)
    .addOption(
      new Option(
        '--media <what>',
        'what each listener fetches of the broadcast: parts (an LL-HLS player) or none (only the page: join, state, heartbeats)',
      )
        .choices(['parts', 'none'])
        .default('parts'),
    )
    .option('--reactions-per-min <r>', 'reactions per minute per listener, on average', count('--reactions-per-min', 0, 600), 0)
    .option('--json <file>', 'write the report as JSON')
    .option('--report <dir>', 'write the report as an HTML page with charts (index.html)')
    .option(
      '--flood <joins-per-second>',
      'also flood joins at this rate, open loop, from many addresses, ignoring Retry-After and challenges (an attack)',
      count('--flood', 1, 100_000),
    )
    .option(
      '--flood-at <seconds>',
      'second of the run the flood starts (default: when the listeners have arrived)',
      count('--flood-at', 0, 86_400),
    )
    .option('--flood-seconds <seconds>', 'how long the flood lasts (default: the rest of the run)', count('--flood-seconds', 1, 86_400))
    .option(
      '--flood-addresses <n>',
      'source addresses the flood comes from (default: one per 5 joins a second)',
      count('--flood-addresses', 1, 4_000),
    )
    .option(
      '--go-live <ids>',
      'scheduled spaces (comma-separated) to take live during the flood or the run, each with a talking bot speaker seated before; the flood targets them (needs operator credentials)',
      (value: string) => value.split(',').filter(Boolean),
    )
    .option('--allow-remote', 'allow a target that is not a loopback address')
    .action(async (opts) => {
      const server = serverUrl(opts);
      const speakers = opts.speakers as number;
      const goLive = (opts.goLive as string[] | undefined) ?? [];
      const client = speakers > 0 || goLive.length > 0 ? new ApiClient(opts) : undefined;
      const rampEnd = opts.profile === 'flash' ? 1 : (opts.ramp as number);
      const floodAt = (opts.floodAt as number | undefined) ?? Math.min(rampEnd, opts.duration - 1);
      const flood =
        opts.flood === undefined
          ? undefined
          : {
              ratePerSecond: opts.flood as number,
              atSeconds: floodAt,
              seconds: (opts.floodSeconds as number | undefined) ?? Math.max(1, opts.duration - floodAt),
              ...(opts.floodAddresses === undefined ? {} : { addresses: opts.floodAddresses as number }),
            };
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: 'listeners {bar} {value}/{total} | joins/s {joins} | errors {errors} | join p99 {p99} ms', hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(opts.listeners, 0, { joins: 0, errors: 0, p99: '-' });
      let report: LoadReport;
      try {
        report = await runLoadTest({
          server,
          space: opts.space,
          listeners: opts.listeners,
          rampSeconds: opts.ramp,
          durationSeconds: opts.duration,
          profile: opts.profile,
          reactionsPerMinute: opts.reactionsPerMin,
          media: opts.media,
          allowRemote: opts.allowRemote === true,
          speakers,
          goLive,
          ...(client ? { api: client.request.bind(client) } : {}),
          ...(flood ? { flood } : {}),
          onSecond: (second, stats) => {
            const payload = { joins: second.joins, errors: stats.errors, p99: second.joinMs?.p99 ?? '-' };
            if (bar) bar.update(stats.listeners, payload);
            else if (second.t % 5 === 0) {
              process.stderr.write(
                `${second.t} s: ${stats.listeners} listeners, ${second.joins} joins/s, ${stats.errors} errors, join p99 ${payload.p99} ms\n`,
              );
            }
          },
        });
      } catch (err) {
        if (err instanceof LoadTestError) throw new CliError(err.message);
        throw err;
      } finally {
        bar?.stop();
      }
      if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.report) {
        fs.mkdirSync(opts.report, { recursive: true });
        fs.writeFileSync(path.join(opts.report, 'index.html'), renderHtmlReport(report));
      }
      const p = (x: typeof report.joinMs) => (x ? `p50 ${x.p50} / p95 ${x.p95} / p99 ${x.p99} ms` : '—');
      process.stdout.write(
        [
          `listeners:      ${report.joined}/${report.listeners} joined, ${report.heardAudio} heard audio (${report.profile})`,
          `join latency:   ${p(report.joinMs)}`,
          `first audio:    ${p(report.timeToFirstAudioMs)}`,
          `stalls:         ${report.stalls} (${report.stallsPerListenerMinute.toFixed(3)} per listener-minute)`,
          `errors:         ${JSON.stringify(report.errors)}`,
          `requests:       ${Math.round(report.requestsPerSecond)}/s from the listeners; origin ${report.originRequestsPerSecond === null ? '—' : Math.round(report.originRequestsPerSecond)}/s`,
          `listener count: server says ${report.listenerCount.reported ?? '—'}, simulated ${report.listenerCount.simulated}`,
          `generator:      event-loop delay p99 ${report.generatorLagP99Ms} ms (this process's own lateness, in its timings)`,
          ...rehearsalLines(report, p),
          '',
        ].join('\n'),
      );
    });
}

/** The start-on-time rehearsal's part of the summary: the flood, the starts, the stage, the memory. */
function rehearsalLines(report: LoadReport, p: (x: LoadReport['joinMs']) => string): string[] {
  const lines: string[] = [];
  const f = report.flood;
  if (f) {
    lines.push(
      `flood:          ${f.offeredPerSecond}/s for ${f.durationSeconds} s from ${f.sourceAddresses} addresses: ${f.sent} sent, ${f.answered} answered, ${f.timeouts} timeouts, ${f.networkErrors} network errors, ${f.notSent} not sent`,
      `flood answers:  ${p(f.answerMs)}; ${JSON.stringify(f.byCode)}; 5xx other than 503: ${f.serverErrors}`,
      `flood thread:   event-loop delay p99 ${f.generatorLagP99Ms ?? '-'} ms (its own lateness, in its answer times)`,
    );
    if (report.joinsBeforeFlood)
      lines.push(`joins before:   ${p(report.joinsBeforeFlood.answerMs)} (10/s before the flood, the reference)`);
  }
  for (const s of report.starts) {
    lines.push(
      `go live:        ${s.space} at ${s.atSecond} s: answered in ${Math.round(s.goLiveMs)} ms, first part of audio ${s.firstPartMs === null ? 'never' : `${Math.round(s.firstPartMs)} ms`}`,
    );
  }
  if (report.stage) {
    lines.push(`stage RTT:      ${p(report.stage.rttMs)} (${report.stage.pings} pings, ${report.stage.lost} lost)`);
    for (const [phase, rtt] of Object.entries(report.stage.phases)) lines.push(`  ${`${phase}:`.padEnd(14)}${p(rtt)}`);
  }
  const m = report.serverMemoryMb;
  if (m) lines.push(`server memory:  ${m.start} MB at the start, ${m.peak} MB at most, ${m.end} MB at the end`);
  return lines;
}
