/**
 * Test servers: a real Rostrum on 127.0.0.1 with a fresh data directory, in this process
 * (startTestServer) or as a child process of the real CLI (spawnServer, for kill -9 and signals).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { type Config, loadConfig } from '../../src/config.js';
import type { Role } from '../../src/control/model.js';
import { createToken } from '../../src/control/tokens.js';
import { type RostrumServer, startServer } from '../../src/server.js';
import { Api } from './http.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const BIN = path.join(ROOT, 'bin/rostrum.js');

export function tempDir(prefix = 'rostrum-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestServer {
  server: RostrumServer;
  url: string;
  api: Api;
  dataDir: string;
  /** An operator token (the API key holder). */
  operator: string;
  /** Mints a token for an identity in a space. */
  token(space: string, identity: string, role: Role, extra?: { ttlSeconds?: number; now?: number; name?: string }): string;
  close(): Promise<void>;
}

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  // Tests come from one address: per-address limits are raised unless a test sets its own.
  const config = loadConfig(
    {
      port: 0,
      host: '127.0.0.1',
      dataDir,
      logLevel: 'silent',
      strictEvents: true,
      requestLimit: 100_000,
      joinLimit: 1_000_000,
      addressWriteLimit: 1_000_000,
      ...overrides,
    },
    {},
  );
  const server = await startServer(config);
  const creds = server.credentials;
  return {
    server,
    url: server.url,
    api: new Api(server.url),
    dataDir,
    operator: createToken({ ...creds, identity: 'operator', operator: true, ttlSeconds: 3600 }),
    token: (space, identity, role, extra = {}) =>
      createToken({
        ...creds,
        space,
        identity,
        role,
        name: extra.name ?? identity,
        ttlSeconds: extra.ttlSeconds ?? 3600,
        ...(extra.now ? { now: extra.now } : {}),
      }),
    close: () => server.close(),
  };
}

export interface ChildServer {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Every line it wrote to stdout (its log), from the start. */
  lines: string[];
}

/**
 * Runs `rostrum serve` as a child (on a free port unless given one) and resolves once it logs that it
 * listens. `wrap` goes before the command (e.g. `ip netns exec NS` to run it in a network namespace).
 */
export async function spawnServer(dataDir: string, env: NodeJS.ProcessEnv = {}, port = 0, wrap: string[] = []): Promise<ChildServer> {
  const command = [...wrap, process.execPath, BIN, 'serve', '--port', String(port), '--data', dataDir];
  const child = spawn(command[0]!, command.slice(1), {
    // Tests come from one address: per-address limits are raised unless a test sets its own.
    env: {
      ...process.env,
      ROSTRUM_LOG_LEVEL: 'info',
      ROSTRUM_JOIN_LIMIT: '1000000',
      ROSTRUM_ADDRESS_WRITE_LIMIT: '1000000',
      ROSTRUM_REQUEST_LIMIT: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a server that never said it listens must not outlive the test
      reject(new Error('server did not start within 10 s (it logs "Rostrum listening" at info)'));
    }, 10_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'Rostrum listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, url, exited, lines: output };
}

/** A TCP port free on 127.0.0.1 right now (shared with the local engines). */
export { freePort } from '../../src/cluster/local/util.js';

/** Runs the real `rostrum` CLI to its end (after `wrap`, e.g. `ip netns exec NS`); its exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  wrap: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const command = [...wrap, process.execPath, BIN, ...args];
    const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
