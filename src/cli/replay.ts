/** `rostrum replay trim|untrim|delete`: the host's edits of an ended space's replay, as the operator. */
import { Command } from 'commander';
import type { presentSpace } from '../api/present.js';
import { ApiClient, CliError } from './client.js';
import { withServerOptions } from './options.js';

type SpaceView = ReturnType<typeof presentSpace>;
interface Trimmed {
  space: SpaceView;
  trim: { start: number; end: number };
  kept: number;
  recorded: number;
}

/** Seconds from "95", "95.5", "1:35" or "0:01:35.5". */
export function parseTime(text: string, flag: string): number {
  const parts = text.split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) {
    throw new CliError(`${flag} "${text}" is not a time: seconds (95.5), m:ss (1:35) or h:mm:ss (0:01:35)`);
  }
  return parts.reduce((seconds, p) => seconds * 60 + Number(p), 0);
}

const clock = (seconds: number): string => {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - m * 60).toFixed(3).padStart(6, '0')}`;
};

export function replayCommand(): Command {
  const replay = new Command('replay').description("edit an ended space's replay: trim its start and end, or delete it");
  const path = (id: string, rest: string) => `/api/spaces/${encodeURIComponent(id)}/${rest}`;

  withServerOptions(replay.command('trim <id>'))
    .description('cut the start and end of the replay (at part boundaries, no re-encode); the download and the feed follow')
    .requiredOption('--start <time>', 'where the replay begins: seconds, m:ss or h:mm:ss from the start of the recording')
    .option('--end <time>', 'where it ends (default: the end of the recording)')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts) => {
      const body = { start: parseTime(opts.start, '--start'), ...(opts.end !== undefined ? { end: parseTime(opts.end, '--end') } : {}) };
      const result = await new ApiClient(opts).request<Trimmed>('PUT', path(id, 'replay/trim'), body);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      process.stdout.write(
        `${id}: the replay runs from ${clock(result.trim.start)} to ${clock(result.trim.end)} of the recording (${result.kept.toFixed(3)} s of ${result.recorded.toFixed(3)} s); its file is being made again\n`,
      );
    });

  withServerOptions(replay.command('untrim <id>'))
    .description('undo the trim: the whole recording is the replay again')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts) => {
      const space = await new ApiClient(opts).request<SpaceView>('DELETE', path(id, 'replay/trim'), {});
      process.stdout.write(opts.json ? `${JSON.stringify(space)}\n` : `${id}: the whole recording is the replay again\n`);
    });

  withServerOptions(replay.command('delete <id>'))
    .description('delete the recording for good (the replay, its file, its feed item)')
    .option('--yes', 'no undo: say so')
    .option('--json', 'print one JSON object')
    .action(async (id: string, opts) => {
      if (!opts.yes) throw new CliError('deleting a recording cannot be undone: add --yes');
      const space = await new ApiClient(opts).request<SpaceView>('DELETE', path(id, 'recording'), {});
      process.stdout.write(opts.json ? `${JSON.stringify(space)}\n` : `${id}: recording deleted\n`);
    });

  return replay;
}
