/** The `rostrum` command line: one file per command. */
import { Command } from 'commander';
import { botCommand } from './bot.js';
import { CliError } from './client.js';
import { clusterCommand } from './cluster.js';
import { feedCommand } from './feed.js';
import { loadtestCommand } from './loadtest.js';
import { replayCommand } from './replay.js';
import { serveCommand } from './serve.js';
import { spaceCommand } from './space.js';
import { tokenCommand } from './token.js';
import { webhookCommand } from './webhook.js';

const program = new Command('rostrum')
  .description('Rostrum: live audio spaces for huge audiences')
  .version('0.1.0')
  .showHelpAfterError()
  .addCommand(serveCommand())
  .addCommand(spaceCommand())
  .addCommand(tokenCommand())
  .addCommand(webhookCommand())
  .addCommand(feedCommand())
  .addCommand(replayCommand())
  .addCommand(botCommand())
  .addCommand(loadtestCommand())
  .addCommand(clusterCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof CliError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`rostrum: ${message.split('\n')[0]}\n`);
  // Exit now: a server that failed part-way through its start may hold workers and child processes.
  process.exit(1);
}
