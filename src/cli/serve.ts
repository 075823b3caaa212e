/** `rostrum serve`: run the server until SIGTERM/SIGINT, then drain and exit. */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import { ensureDemoSpace } from './demo.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be 0–65535, got "${value}"`);
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('start the Rostrum server')
    .option('--port <port>', 'TCP port (env ROSTRUM_PORT; default 8080; 0 picks a free one)', port)
    .option('--host <host>', 'interface to listen on (env ROSTRUM_HOST; default 127.0.0.1)')
    .option('--data <dir>', 'data directory (env ROSTRUM_DATA; default ./data)')
    .option('--demo', 'create a live demo space and print its links')
    .action(async (opts) => {
      const config = loadConfig({ port: opts.port, host: opts.host, dataDir: opts.data, demo: opts.demo === true });
      const server = await startServer(config);
      let stopping = false;
      let stopDemo: (() => Promise<void>) | undefined;
      const stop = (signal: string) => {
        if (stopping) {
          server.log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        server.log.info({ signal }, 'shutting down');
        (stopDemo?.() ?? Promise.resolve())
          .then(() => server.close())
          .then(
            () => process.exit(0),
            (err) => {
              server.log.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      if (config.demo) stopDemo = await ensureDemoSpace(server);
    });
}
