/**
 * The Rostrum server under test, as the operator runs it: `node bin/rostrum.js serve --port 0` in
 * its own child process, on 127.0.0.1, with a fresh data directory (removed again on stop) and the
 * default log level (info: lifecycle lines only, so the "Rostrum listening" line gives us the URL).
 * Also creates the live space the join figure needs, through the API with an operator token.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../src/cli/client.js';
import type { Credentials } from '../src/control/credentials.js';
import type { Role } from '../src/control/model.js';
import { createToken } from '../src/control/tokens.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import type { OperatorApi } from '../src/loadtest/stage-rehearsal.js';
import { type ListeningChild, ROOT, removeTempDir, spawnListening, tempDir, track } from './processes.js';

export interface RostrumChild extends ListeningChild {
  dataDir: string;
  credentials: Credentials;
  operatorToken: string;
}

/** `nodeArgs` go before the script, e.g. --cpu-prof to find the server's hot spots; `settings` are ROSTRUM_* variables. */
export async function startRostrum(nodeArgs: string[] = [], settings: Record<string, string> = {}): Promise<RostrumChild> {
  const dataDir = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-')));
  // Only our settings: an operator's ROSTRUM_* in the environment would change what is measured.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ROSTRUM_')));
  // The load comes from one address, so per-address limits are set far above it: they still run (and
  // cost what they cost on every join) but never refuse the benchmark's own traffic.
  const unreachable = '1000000000';
  Object.assign(
    env,
    {
      ROSTRUM_LOG_LEVEL: 'info',
      ROSTRUM_HOST: '127.0.0.1',
      ROSTRUM_DRAIN_MS: '2000',
      ROSTRUM_JOIN_LIMIT: unreachable,
      ROSTRUM_ADDRESS_WRITE_LIMIT: unreachable,
      ROSTRUM_REQUEST_LIMIT: unreachable,
    },
    settings,
  );
  let server: ListeningChild;
  try {
    server = await spawnListening(
      'rostrum',
      [...nodeArgs, path.join(ROOT, 'bin/rostrum.js'), 'serve', '--port', '0', '--data', dataDir],
      env,
      (entry) => (entry.msg === 'Rostrum listening' && typeof entry.url === 'string' ? entry.url : undefined),
    );
  } catch (err) {
    removeTempDir(dataDir);
    throw err;
  }
  // Credentials given (a node of a cluster) are not written to the data directory.
  const credentials: Credentials =
    env.ROSTRUM_API_KEY && env.ROSTRUM_API_SECRET
      ? { apiKey: env.ROSTRUM_API_KEY, apiSecret: env.ROSTRUM_API_SECRET }
      : (JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8')) as Credentials);
  return {
    ...server,
    dataDir,
    credentials,
    operatorToken: createToken({ ...credentials, identity: 'operator', operator: true, ttlSeconds: 3600 }),
    stop: async () => {
      await server.stop();
      removeTempDir(dataDir);
    },
  };
}

/** POST /api/spaces with `startNow`, so listeners can join at once; returns the space id. */
export function createLiveSpace(server: RostrumChild, title = 'bench'): Promise<string> {
  return createSpace(server, title, true);
}

/**
 * POST /api/spaces; returns the space id. Live (`startNow`) unless `live` is false: then it waits for
 * its start, and its stage can gather and talk while nothing is broadcast yet.
 */
export async function createSpace(server: RostrumChild, title: string, live: boolean): Promise<string> {
  const response = await fetch(`${server.url}/api/spaces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, startNow: live }),
  });
  const text = await response.text();
  if (response.status !== 201 && response.status !== 200) throw new Error(`creating the space failed: ${response.status} ${text}`);
  const body = JSON.parse(text) as { id?: unknown; state?: unknown };
  if (typeof body.id !== 'string' || (live && body.state !== 'live')) throw new Error(`unexpected space: ${text}`);
  return body.id;
}

/** Seats `identity` on the stage (the host is there already) and unmutes it; returns its token. */
export async function seat(server: RostrumChild, spaceId: string, identity: string, role: Role): Promise<string> {
  const token = createToken({ ...server.credentials, identity, space: spaceId, role, ttlSeconds: 3600 });
  const call = async (path: string) => {
    const res = await fetch(`${server.url}/api/spaces/${spaceId}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) throw new Error(`POST ${path} as ${identity}: ${res.status} ${await res.text()}`);
  };
  if (role !== 'host') await call('/stage');
  await call(`/participants/${identity}/unmute`);
  return token;
}

/**
 * The operator's API, as the CLI calls it: credentials from the server's data directory, and a fresh
 * operator token (the CLI's lasts five minutes) for each call, so a run of any length can use it.
 */
export function operatorApi(server: RostrumChild): OperatorApi {
  return (method, path, body, asToken) =>
    new ApiClient({ server: server.url, data: server.dataDir }, {}).request(method, path, body, asToken);
}

/** Runs `rostrum loadtest` as an operator would, to its end; its JSON report (`name`.json in the data directory). */
export async function runLoadtest(
  server: RostrumChild,
  args: string[],
  log: (line: string) => void,
  name = 'loadtest',
): Promise<LoadReport> {
  const json = path.join(server.dataDir, `${name}.json`);
  const child = track(
    spawn(process.execPath, [path.join(ROOT, 'bin/rostrum.js'), 'loadtest', ...args, '--json', json], {
      env: { ...process.env, ROSTRUM_URL: server.url, ROSTRUM_DATA: server.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) log(`loadtest: ${line}`);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`rostrum loadtest exited with ${code}: ${stderr.slice(-2000)}`);
  return JSON.parse(fs.readFileSync(json, 'utf8')) as LoadReport;
}
