/**
 * `rostrum bot speak`: a speaker bot joins a space's stage over real WebRTC (as an invited speaker:
 * the operator credentials mint its token), plays a tone or a WAV file for the given time, and can
 * record what it hears. Exits 0 when it played the whole duration.
 */
import { Command, Option } from 'commander';
import { ListenerBot } from '../bots/listener-bot.js';
import { SpeakerBot } from '../bots/speaker-bot.js';
import { readWav, writeWav } from '../bots/wav.js';
import { findFfmpeg } from '../media/ffmpeg.js';
import { ApiClient, CliError, serverUrl } from './client.js';
import { withServerOptions } from './options.js';

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a positive number, got "${value}"`);
    return n;
  };
}

export function botCommand(): Command {
  const bot = new Command('bot').description('bots that join a space (for demos, tests and rehearsals)');
  withServerOptions(bot.command('speak'))
    .description('join the stage as a speaker and play a tone or a WAV file')
    .requiredOption('--space <id>', 'the space')
    .option('--identity <name>', 'the bot speaker identity', 'bot-speaker')
    .addOption(new Option('--tone <hz>', 'play a sine tone of this frequency').argParser(positive('--tone')).conflicts('wav'))
    .option('--wav <file>', 'play this WAV file (16-bit mono 48 kHz), looped')
    .option('--seconds <s>', 'how long to speak', positive('--seconds'), 10)
    .option('--listen-wav <file>', 'also record what the bot hears to this WAV file')
    .option('--clicks', 'add a timing click on every whole second (for `bot listen` latency figures)')
    .option('--relay', 'reach the server only through its TURN server (as a speaker whose network allows nothing else)')
    .addOption(new Option('--turn-transport <t>', 'which of the TURN URLs the server hands out to use').choices(['udp', 'tcp', 'tls']))
    .option('--ice-tcp', 'gather ICE-TCP candidates too (reaches the server over TCP when UDP is blocked)')
    .action(async (opts) => {
      const pcm = opts.wav ? readWav(opts.wav) : undefined;
      const client = new ApiClient(opts);
      const path = `/api/spaces/${encodeURIComponent(opts.space)}`;
      const { token } = await client.request<{ token: string }>('POST', `${path}/tokens`, {
        identity: opts.identity,
        name: opts.identity,
        role: 'speaker',
      });
      await client.request('POST', `${path}/stage`, undefined, token);
      await client.request('POST', `${path}/participants/${encodeURIComponent(opts.identity)}/unmute`, undefined, token);
      const speaker = await SpeakerBot.join({
        server: client.server,
        token,
        clicks: opts.clicks === true,
        relay: opts.relay === true,
        iceTcp: opts.iceTcp === true,
        ...(opts.turnTransport ? { turnTransport: opts.turnTransport } : {}),
        ...(pcm ? { pcm } : { toneHz: opts.tone ?? 440 }),
      });
      const iceRoute = await speaker.path();
      const started = Date.now();
      const ended = await Promise.race([
        new Promise<'done'>((resolve) => setTimeout(() => resolve('done'), opts.seconds * 1000)),
        speaker.waitFor((m) => m.type === 'removed' || m.type === 'ended' || m.type === 'moved_to_audience', opts.seconds * 1000 + 1000),
        // The stage socket closing under it (the server went away, another connection of this
        // identity replaced it) ends the bot's speech: a failure, not a finished run.
        speaker.closed.then(({ code, reason }) => ({ type: `the stage connection closed (${code}${reason ? ` ${reason}` : ''})` })),
      ]).catch(() => 'done' as const);
      if (opts.listenWav) writeWav(opts.listenWav, speaker.heardSince(started));
      await speaker.close();
      if (ended !== 'done') {
        // As below, the process ends here: the speech timer and werift's would keep it alive.
        process.stderr.write(`rostrum: left the stage early: ${ended.type}\n`);
        process.exit(1);
      }
      process.stdout.write(
        `${JSON.stringify({ identity: opts.identity, seconds: opts.seconds, framesSent: speaker.framesSent, path: iceRoute })}\n`,
      );
      // werift 0.24 leaves a TURN allocation's refresh timer (minutes long) running after the peer
      // connection closed, which would keep the process alive: the bot is done, so it ends here.
      process.exit(0);
    });
  withServerOptions(bot.command('listen'))
    .description('listen to the broadcast as an LL-HLS player does; report tones, stalls and glass-to-ear latency')
    .requiredOption('--space <id>', 'the space')
    .option('--seconds <s>', 'how long to listen', positive('--seconds'), 10)
    .option('--wav <file>', 'write what was heard to this WAV file (16-bit mono 48 kHz)')
    .option('--json', 'print the report as one JSON object')
    .action(async (opts) => {
      const { report, pcm } = await ListenerBot.listen({
        server: serverUrl(opts),
        space: opts.space,
        seconds: opts.seconds,
        ffmpeg: findFfmpeg(process.env.ROSTRUM_FFMPEG),
      });
      if (opts.wav) writeWav(opts.wav, pcm);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        const latency = report.latency.availableMs;
        process.stdout.write(
          [
            `listened ${report.seconds} s to ${report.space}: ${report.audioSeconds} s of audio in ${report.parts} parts and ${report.segments} segments${report.ended ? ' (ended)' : ''}`,
            `tones:   ${report.tones.map((t) => `${t.hz} Hz at ${t.dbfs} dBFS`).join(', ') || 'none'}`,
            `stalls:  ${report.stalls} (${report.stallMs} ms)`,
            `latency: ${latency ? `glass-to-ear p50 ${latency.p50} ms, p95 ${latency.p95} ms over ${latency.n} clicks (played p50 ${report.latency.playedMs?.p50} ms)` : 'no clicks heard (run a speaker with --clicks)'}`,
            `errors:  ${JSON.stringify(report.errors)}`,
            '',
          ].join('\n'),
        );
      }
      if (report.parts + report.segments === 0) {
        const answers = Object.entries(report.errors).map(([status, n]) => `${status} ×${n}`);
        const seen = answers.length > 0 ? ` (the server answered ${answers.join(', ')})` : '';
        throw new CliError(`heard nothing from space ${opts.space} in ${opts.seconds} s${seen}: is the space live (or recorded)?`);
      }
    });
  return bot;
}
