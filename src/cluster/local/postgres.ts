/**
 * A real PostgreSQL server for tests (and the local cluster): a throw-away cluster made by initdb in a
 * temp directory, run as the `postgres` user (initdb refuses root) on a random port on 127.0.0.1,
 * trusting local connections. `database()` makes a fresh database and gives its URL. The server can
 * be stopped and started again on the same directory and port (the "PostgreSQL away" tests).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { freePort, tempDir } from './util.js';

/** Debian's PostgreSQL binaries (postgresql-15 puts them off PATH). */
export function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = path.join(root, v, 'bin', name);
    if (fs.existsSync(bin)) return bin;
  }
  throw new Error(`PostgreSQL's ${name} not found under ${root} (apt-get install postgresql)`);
}

export interface TestPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/ (append a database name). */
  baseUrl: string;
  /** A new, empty database; its URL. */
  database(name?: string): Promise<string>;
  /** Stops the server (fast shutdown); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same data and port. */
  start(): Promise<void>;
  /** Stops it and removes everything. */
  destroy(): Promise<void>;
}

/** The `postgres` system user's uid and gid: processes are spawned as it directly (not through runuser, which does not pass a signal on). */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('no postgres system user (apt-get install postgresql)');
  return { uid, gid };
}

export async function startPostgres(): Promise<TestPostgres> {
  const dir = tempDir('rostrum-pg-');
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'data');
  const sockets = path.join(dir, 'sockets');
  fs.mkdirSync(sockets);
  spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  const user = postgresUser();
  const init = spawnSync(pgBin('initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    cwd: dir,
    ...user,
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';
  const start = async (): Promise<void> => {
    // fsync off: a throw-away cluster; a commit is still acknowledged only once PostgreSQL made it.
    child = spawn(
      pgBin('postgres'),
      ['-D', data, '-p', String(port), '-k', sockets, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: dir,
        ...user,
      },
    );
    child.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
    });
    await waitForPostgres(port, () => log);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGINT'); // fast shutdown: clients are disconnected, the data is kept
    await exited;
  };
  await start();
  const baseUrl = `postgres://postgres@127.0.0.1:${port}/`;
  let databases = 0;
  return {
    port,
    baseUrl,
    database: async (name = `rostrum_${process.pid}_${++databases}`) => {
      const client = new pg.Client({ connectionString: `${baseUrl}postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `${baseUrl}${name}`;
    },
    stop,
    start,
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPostgres(port: number, log: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) {
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      const ready = await client
        .connect()
        .then(() => client.query('SELECT 1'))
        .then(() => true)
        .catch(() => false);
      await client.end().catch(() => undefined);
      if (ready) return;
    }
    if (Date.now() > deadline) throw new Error(`PostgreSQL did not start on ${port}:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
