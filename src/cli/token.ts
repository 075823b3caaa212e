/** `rostrum token`: mint a token for an identity in a space (checked by the server: host identity, removal). */
import { Command, Option } from 'commander';
import { ApiClient } from './client.js';
import { withServerOptions } from './options.js';

export function tokenCommand(): Command {
  return withServerOptions(new Command('token'))
    .description('print a token for an identity in a space')
    .requiredOption('--space <id>', 'the space')
    .requiredOption('--identity <name>', 'who the token speaks for')
    .addOption(
      new Option('--role <role>', 'host|cohost|speaker|listener').choices(['host', 'cohost', 'speaker', 'listener']).makeOptionMandatory(),
    )
    .option('--name <name>', 'display name')
    .option('--ttl <seconds>', 'lifetime in seconds', '21600')
    .action(async (opts) => {
      const ttlSeconds = Number(opts.ttl);
      const { token } = await new ApiClient(opts).request<{ token: string }>(
        'POST',
        `/api/spaces/${encodeURIComponent(opts.space)}/tokens`,
        {
          identity: opts.identity,
          role: opts.role,
          ...(opts.name ? { name: opts.name } : {}),
          ttlSeconds,
        },
      );
      process.stdout.write(`${token}\n`);
    });
}
