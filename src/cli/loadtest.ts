/**
 * `rostrum loadtest`: rehearse an event before the crowd arrives. Simulated listeners join a space
 * and behave like players (src/loadtest/), optional bot speakers talk, a progress bar shows
 * listeners, joins/s, errors and join p99, and the report goes to stdout, a JSON file and an HTML
 * page with charts. Loopback only unless --allow-remote; bounded by --duration.
 */
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { SpeakerBot } from '../bots/speaker-bot.js';
import { renderHtmlReport } from '../loadtest/html-report.js';
import { LoadTestError, runLoadTest } from '../loadtest/load-test.js';
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
    .option('--reactions-per-min <r>', 'reactions per minute per listener, on average', count('--reactions-per-min', 0, 600), 0)
    .option('--json <file>', 'write the report as JSON')
    .option('--report <dir>', 'write the report as an HTML page with charts (index.html)')
    .option('--allow-remote', 'allow a target that is not a loopback address')
    .action(async (opts) => {
      const server = serverUrl(opts);
      const speakers = opts.speakers as number;
      const client = speakers > 0 ? new ApiClient(opts) : undefined;
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: 'listeners {bar} {value}/{total} | joins/s {joins} | errors {errors} | join p99 {p99} ms', hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(opts.listeners, 0, { joins: 0, errors: 0, p99: '-' });
      let report: Awaited<ReturnType<typeof runLoadTest>>;
      try {
        report = await runLoadTest({
          server,
          space: opts.space,
          listeners: opts.listeners,
          rampSeconds: opts.ramp,
          durationSeconds: opts.duration,
          profile: opts.profile,
          reactionsPerMinute: opts.reactionsPerMin,
          allowRemote: opts.allowRemote === true,
          startSpeakers: client ? () => startSpeakers(client, opts.space, speakers) : undefined,
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
          '',
        ].join('\n'),
      );
    });
}

/** Seats `k` bot speakers with tones (as invited speakers, through the operator's credentials). */
async function startSpeakers(client: ApiClient, space: string, k: number): Promise<Array<() => Promise<void>>> {
  const stops: Array<() => Promise<void>> = [];
  const base = `/api/spaces/${encodeURIComponent(space)}`;
  for (let i = 0; i < k; i++) {
    const identity = `loadtest-speaker-${i + 1}`;
    const { token } = await client.request<{ token: string }>('POST', `${base}/tokens`, {
      identity,
      name: `Speaker ${i + 1}`,
      role: 'speaker',
    });
    await client.request('POST', `${base}/stage`, undefined, token);
    await client.request('POST', `${base}/participants/${identity}/unmute`, undefined, token);
    const bot = await SpeakerBot.join({ server: client.server, token, toneHz: 330 + 110 * i, keepHeard: false });
    stops.push(() => bot.close());
  }
  return stops;
}
