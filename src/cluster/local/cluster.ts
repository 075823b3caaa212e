/**
 * A real cluster on this machine, with nothing set up beforehand: redis-server, a throw-away
 * PostgreSQL (initdb), N Rostrum nodes (separate processes of this build, each with its own data
 * directory, on PostgreSQL and Redis) and M nginx edges from deploy/nginx/edge.conf listing every
 * node, and optionally a live demo space with a bot speaker that rejoins whenever its node goes away.
 * `npm run cluster` (rostrum cluster up), the cluster tests and the bench all start it through this.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SpeakerBot } from '../../bots/speaker-bot.js';
import { chimeFrame } from '../../bots/tone.js';
import { createToken } from '../../control/tokens.js';
import { edgesStream, type NginxEdge, startEdge } from './nginx.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { startRedis, type TestRedis } from './redis.js';
import { freePort, ROOT, tempDir } from './util.js';

const BIN = path.join(ROOT, 'bin/rostrum.js');

export interface ClusterNode {
  id: string;
  port: number;
  url: string;
  dataDir: string;
  /** The node's log (pino JSON lines). */
  logFile: string;
  /** The running process (undefined while stopped). */
  child: ChildProcess | undefined;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  exited(): Promise<void>;
  /** Starts it again (same id, port and data directory) after it exited. */
  start(): Promise<void>;
}

export interface LocalClusterOptions {
  nodes?: number;
  edges?: number;
  /** Create a live demo space with a bot speaker (default true). */
  demo?: boolean;
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Progress lines (default: none). */
  say?: (line: string) => void;
}

export interface LocalCluster {
  dir: string;
  redis: TestRedis;
  postgres: TestPostgres;
  databaseUrl: string;
  nodes: ClusterNode[];
  edges: NginxEdge[];
  apiKey: string;
  apiSecret: string;
  /** An operator token for the cluster's API. */
  operatorToken(): string;
  demo: { spaceId: string; hostToken: string; stopSpeaker(): Promise<void> } | undefined;
  stop(): Promise<void>;
}

async function waitListening(child: ChildProcess, logFile: string, timeoutMs = 20_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a node did not start within ${timeoutMs} ms (see ${logFile})`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    let listening = false;
    lines.on('line', (line) => {
      out.write(`${line}\n`);
      if (!listening && line.includes('"msg":"Rostrum listening"')) {
        listening = true;
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => out.write(chunk));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`a node exited (${code ?? signal}) before listening (see ${logFile})`));
    });
  });
}

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const say = options.say ?? (() => {});
  const dir = tempDir('rostrum-cluster-');
  const apiKey = `RK${randomBytes(6).toString('hex')}`;
  const apiSecret = randomBytes(32).toString('base64url');
  say('starting redis-server and PostgreSQL…');
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const databaseUrl = await postgres.database('rostrum');
  const nodes: ClusterNode[] = [];
  const edges: NginxEdge[] = [];
  let demo: LocalCluster['demo'];
  const stop = async () => {
    await demo?.stopSpeaker();
    await Promise.all(edges.map((e) => e.stop()));
    for (const n of nodes) {
      n.signal('SIGCONT');
      n.signal('SIGTERM');
    }
    await Promise.all(nodes.map((n) => Promise.race([n.exited(), new Promise((r) => setTimeout(r, 15_000))])));
    for (const n of nodes) n.signal('SIGKILL');
    await Promise.all([redis.destroy(), postgres.destroy()]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const count = options.nodes ?? 3;
    // The edges' ports are picked first: the first edge is the address every link points at.
    const edgePorts = await Promise.all(Array.from({ length: options.edges ?? 2 }, () => freePort()));
    const publicUrl: Record<string, string> = edgePorts[0] ? { ROSTRUM_PUBLIC_URL: `http://127.0.0.1:${edgePorts[0]}` } : {};
    // With nchan the edges fan out /listen/<id>.aac: every node publishes each part to every edge.
    const streamKey = randomBytes(18).toString('base64url');
    const stream: Record<string, string> =
      edgePorts.length > 0 && edgesStream()
        ? {
            ROSTRUM_STREAM_EDGES: edgePorts.map((port) => `http://127.0.0.1:${port}/rostrum-stream/`).join(','),
            ROSTRUM_STREAM_EDGE_KEY: streamKey,
          }
        : {};
    for (let i = 1; i <= count; i++) {
      nodes.push(
        await makeNode(`node-${i}`, dir, { apiKey, apiSecret, databaseUrl, redisUrl: redis.url, ...publicUrl, ...stream, ...options.env }),
      );
    }
    say(`starting ${count} Rostrum nodes…`);
    // One first (it migrates the database; the others would wait on its lock anyway), then the rest at once.
    await nodes[0]!.start();
    await Promise.all(nodes.slice(1).map((n) => n.start()));
    const origins = nodes.map((n) => `127.0.0.1:${n.port}`);
    for (const port of edgePorts) edges.push(await startEdge(origins, { port, streamKey }));
    say(`started ${edges.length} nginx edges`);
    const operatorToken = () => createToken({ apiKey, apiSecret, identity: 'operator', operator: true, ttlSeconds: 3600 });
    if (options.demo ?? true) demo = await startDemo(edges[0]?.url ?? nodes[0]!.url, { apiKey, apiSecret }, operatorToken());
    return { dir, redis, postgres, databaseUrl, nodes, edges, apiKey, apiSecret, operatorToken, demo, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

async function makeNode(id: string, clusterDir: string, env: Record<string, string>): Promise<ClusterNode> {
  const port = await freePort();
  const dataDir = path.join(clusterDir, id);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(clusterDir, `${id}.log`);
  let exited: Promise<void> = Promise.resolve();
  const node: ClusterNode = {
    id,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    logFile,
    child: undefined,
    signal: (signal) => {
      const child = node.child;
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited: () => exited,
    start: async () => {
      const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data', dataDir], {
        env: {
          ...process.env,
          ROSTRUM_LOG_LEVEL: process.env.ROSTRUM_LOG_LEVEL === 'silent' ? 'info' : (process.env.ROSTRUM_LOG_LEVEL ?? 'info'),
          ROSTRUM_NODE_ID: id,
          ROSTRUM_NODE_URL: `http://127.0.0.1:${port}`,
          ROSTRUM_DATABASE_URL: env.databaseUrl!,
          ROSTRUM_REDIS_URL: env.redisUrl!,
          ROSTRUM_API_KEY: env.apiKey!,
          ROSTRUM_API_SECRET: env.apiSecret!,
          // The edges run on this machine: believe their X-Forwarded-For.
          ROSTRUM_TRUST_PROXY: '127.0.0.1',
          ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('ROSTRUM_'))),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      node.child = child;
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      await waitListening(child, logFile);
    },
  };
  return node;
}

/** The demo: a live space, and a bot speaker that takes the stage through the first edge and comes back whenever its socket closes. */
async function startDemo(
  base: string,
  creds: { apiKey: string; apiSecret: string },
  operator: string,
): Promise<{ spaceId: string; hostToken: string; stopSpeaker(): Promise<void> }> {
  const created = await fetch(`${base}/api/spaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Rostrum cluster demo', host: { identity: 'demo-host', name: 'Demo Host' }, startNow: true }),
  });
  if (created.status !== 201) throw new Error(`could not create the demo space: HTTP ${created.status} ${await created.text()}`);
  const space = (await created.json()) as { id: string; hostToken: string };
  const token = createToken({ ...creds, identity: 'demo-bot', name: 'Demo bot', space: space.id, role: 'speaker', ttlSeconds: 24 * 3600 });
  let stopped = false;
  let bot: SpeakerBot | undefined;
  const post = (p: string) =>
    fetch(`${base}/api/spaces/${space.id}${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const loop = (async () => {
    while (!stopped) {
      try {
        await post('/stage'); // 200, or 409 when it is seated already
        const unmuted = await post('/participants/demo-bot/unmute');
        if (!unmuted.ok) throw new Error(`unmute: HTTP ${unmuted.status}`);
        bot = await SpeakerBot.join({ server: base, token, frameAt: (i) => chimeFrame(i), keepHeard: false });
        await bot.closed;
        await bot.close();
      } catch {
        // the node it reached went away, or the space is moving: try again shortly
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    spaceId: space.id,
    hostToken: space.hostToken,
    stopSpeaker: async () => {
      stopped = true;
      await bot?.close();
      await loop;
    },
  };
}
