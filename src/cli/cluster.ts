/**
 * `rostrum cluster up`: a real cluster on this machine (redis-server, a throw-away PostgreSQL, N
 * nodes, M nginx edges, a live demo space with its bot speaker), the edge URLs printed, everything
 * stopped and removed on Ctrl-C. `npm run cluster` installs the Debian packages it needs first.
 */
import { Command } from 'commander';
import { startLocalCluster } from '../cluster/local/cluster.js';

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('a local cluster of Rostrum nodes on PostgreSQL and Redis, behind nginx edges');
  cluster
    .command('up')
    .description('start redis-server, PostgreSQL, the nodes, the edges and a demo space; Ctrl-C stops them all')
    .option('--nodes <n>', 'Rostrum nodes', '3')
    .option('--edges <n>', 'nginx edges in front of them', '2')
    .option('--no-demo', 'no demo space')
    .action(async (opts) => {
      const nodes = Number(opts.nodes);
      const edges = Number(opts.edges);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error('--nodes must be 1 to 16');
      if (!Number.isInteger(edges) || edges < 0 || edges > 8) throw new Error('--edges must be 0 to 8');
      const say = (line: string) => process.stdout.write(`  ${line}\n`);
      const c = await startLocalCluster({ nodes, edges, demo: opts.demo, say });
      let stopping: Promise<void> | undefined;
      const stop = () => {
        if (stopping) return;
        say('stopping everything…');
        stopping = c.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`rostrum: could not stop cleanly: ${(err as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const lines = [
        '',
        `  Rostrum cluster: ${c.nodes.length} nodes on PostgreSQL and Redis, ${c.edges.length} nginx edges`,
        ...c.edges.map((e, i) => `    edge ${i + 1}:  ${e.url}`),
        ...c.nodes.map((n) => `    ${n.id}:  ${n.url}   (log: ${n.logFile})`),
        `    redis:   ${c.redis.url}`,
        `    postgres: ${c.databaseUrl}`,
        `    operator credentials: ROSTRUM_API_KEY=${c.apiKey} ROSTRUM_API_SECRET=${c.apiSecret}`,
      ];
      if (c.demo) {
        const base = c.edges[0]?.url ?? c.nodes[0]!.url;
        lines.push(
          '',
          `  Demo space ${c.demo.spaceId} is live, its bot speaker on stage. Listen on any edge:`,
          ...c.edges.map((e) => `    ${e.url}/s/${c.demo!.spaceId}`),
          `    host:  ${base}/s/${c.demo.spaceId}#token=${c.demo.hostToken}`,
          `    HLS:   ${base}/hls/${c.demo.spaceId}/index.m3u8`,
          `  Which node runs it (ownerNode; an operator token valid for an hour):`,
          `    curl -s -H 'authorization: Bearer ${c.operatorToken()}' ${base}/api/spaces/${c.demo.spaceId}`,
        );
      }
      lines.push('', '  Ctrl-C stops everything it started.', '');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  return cluster;
}
