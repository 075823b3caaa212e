import { type Command, Option } from 'commander';

/** The options every command that talks to a server shares. */
export function withServerOptions(command: Command): Command {
  return command
    .addOption(new Option('--server <url>', 'Rostrum server URL (env ROSTRUM_URL; default http://127.0.0.1:8080)'))
    .addOption(new Option('--data <dir>', "the server's data directory, to find its credentials (default ./data)"));
}
