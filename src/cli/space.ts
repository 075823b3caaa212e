/** `rostrum space create|start|end|list|show`. */
import { Command, Option } from 'commander';
import type { presentSpace } from '../api/present.js';
import { ApiClient, CliError } from './client.js';
import { withServerOptions } from './options.js';

type SpaceView = ReturnType<typeof presentSpace>;
type Created = SpaceView & { hostToken: string; hostUrl: string };

function print(space: SpaceView, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(space)}\n`);
    return;
  }
  process.stdout.write(`${space.id}  ${space.state}  ${space.title}\n  listen: ${space.listenUrl}\n`);
}

export function spaceCommand(): Command {
  const space = new Command('space').description('create, start, end and list spaces');

  withServerOptions(space.command('create'))
    .description('create a space (scheduled with --at, else waiting for "start"; --start goes live at once, --auto-start at --at)')
    .requiredOption('--title <title>', 'the title listeners see')
    .option('--at <iso>', 'scheduled start, ISO-8601 (e.g. 2026-12-01T20:00:00Z)')
    .option('--host <identity>', 'identity of the host: their spaces make one podcast feed, /feeds/<identity>.rss (default "host")')
    .addOption(new Option('--host-identity <identity>', 'the same as --host').hideHelp())
    .option('--host-name <name>', 'display name of the host', 'Host')
    .option('--no-recording', 'do not keep a replay')
    .option('--start', 'go live at once')
    .option('--auto-start', 'go live by itself at --at (no one needs to press start)')
    .option('--json', 'print one JSON object')
    .action(async (opts) => {
      if (opts.at !== undefined && Number.isNaN(Date.parse(opts.at))) throw new CliError(`--at "${opts.at}" is not an ISO-8601 time`);
      if (opts.autoStart && opts.at === undefined) throw new CliError('--auto-start needs --at (when to go live)');
      const client = new ApiClient(opts);
      const created = await client.request<Created>('POST', '/api/spaces', {
        title: opts.title,
        ...(opts.at ? { scheduledStart: new Date(opts.at).toISOString() } : {}),
        recording: opts.recording,
        ...(opts.autoStart ? { autoStart: true } : {}),
        host: { identity: opts.host ?? opts.hostIdentity ?? 'host', name: opts.hostName },
        startNow: opts.start === true,
      });
      if (opts.json) return print(created, true);
      print(created, false);
      process.stdout.write(`  host:   ${created.hostUrl}\n`);
    });

  for (const verb of ['start', 'end'] as const) {
    withServerOptions(space.command(`${verb} <id>`))
      .description(verb === 'start' ? 'go live' : 'end the space (it cannot be restarted)')
      .option('--json', 'print one JSON object')
      .action(async (id: string, opts) => {
        const result = await new ApiClient(opts).request<SpaceView>('POST', `/api/spaces/${encodeURIComponent(id)}/${verb}`);
        print(result, opts.json === true);
      });
  }

  withServerOptions(space.command('show <id>'))
    .description('one space')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts) => {
      print(await new ApiClient(opts).request<SpaceView>('GET', `/api/spaces/${encodeURIComponent(id)}`), opts.json === true);
    });

  withServerOptions(space.command('list'))
    .description('list spaces, newest first')
    .addOption(new Option('--state <state>', 'only this state').choices(['scheduled', 'live', 'ended']))
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print one JSON array')
    .action(async (opts) => {
      const query = new URLSearchParams({ limit: String(opts.limit), ...(opts.state ? { state: opts.state } : {}) });
      const { spaces } = await new ApiClient(opts).request<{ spaces: SpaceView[] }>('GET', `/api/spaces?${query}`);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(spaces)}\n`);
        return;
      }
      if (spaces.length === 0) process.stdout.write('no spaces\n');
      for (const s of spaces) print(s, false);
    });

  return space;
}
