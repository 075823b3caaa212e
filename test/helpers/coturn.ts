/**
 * A real coturn for tests, run from the shipped deploy/coturn/turnserver.conf: only its documented
 * defaults are replaced (ports, the shared secret, the realm, the certificate directory), and lines
 * are appended for what a test needs beyond it (its address, loopback peers on a one-machine test).
 * Optionally inside a network namespace (`netns`), as the NAT test runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, tempDir } from './server.js';
import { withDefaultsReplaced } from './shipped.js';
import { selfSignedCertificate } from './tls.js';

export const TURN_CONF = path.join(ROOT, 'deploy/coturn/turnserver.conf');

export const TURN_DEFAULTS = {
  port: 'listening-port=3478',
  tlsPort: 'tls-listening-port=5349',
  secret: 'static-auth-secret=CHANGE-ME-to-ROSTRUM_TURN_SECRET',
  realm: 'realm=turn.example.com',
  cert: 'cert=/etc/ssl/rostrum/fullchain.pem',
  key: 'pkey=/etc/ssl/rostrum/privkey.pem',
} as const;

export interface Coturn {
  /** turn:, turn:?transport=tcp and turns: URLs of this server. */
  urls: { udp: string; tcp: string; tls: string };
  secret: string;
  ip: string;
  port: number;
  tlsPort: number;
  /** What coturn logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface CoturnOptions {
  /** The address it listens and relays on. */
  ip: string;
  port: number;
  tlsPort: number;
  /** The secret shared with Rostrum (ROSTRUM_TURN_SECRET). */
  secret: string;
  /** Lines appended to the shipped file (e.g. allow-loopback-peers for a one-machine test). */
  extra?: string[];
  /** Run inside this network namespace. */
  netns?: string;
}

export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  const dir = tempDir('rostrum-coturn-');
  fs.chmodSync(dir, 0o755);
  const certificate = selfSignedCertificate(path.join(dir, 'tls'), 'turn.rostrum.test', [options.ip]);
  const conf = withDefaultsReplaced(
    fs.readFileSync(TURN_CONF, 'utf8'),
    TURN_DEFAULTS,
    {
      port: `listening-port=${options.port}`,
      tlsPort: `tls-listening-port=${options.tlsPort}`,
      secret: `static-auth-secret=${options.secret}`,
      realm: 'realm=turn.rostrum.test',
      cert: `cert=${certificate.cert}`,
      key: `pkey=${certificate.key}`,
    },
    'turnserver.conf',
  );
  const extra = [
    `listening-ip=${options.ip}`,
    `relay-ip=${options.ip}`,
    `userdb=${path.join(dir, 'turndb')}`,
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    ...(options.extra ?? []),
  ];
  const confFile = path.join(dir, 'turnserver.conf');
  fs.writeFileSync(confFile, `${conf}\n# Added by test/helpers/coturn.ts\n${extra.join('\n')}\n`);
  const command = ['/usr/bin/turnserver', '-c', confFile];
  const [bin, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
  const child: ChildProcess = spawn(bin!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForListening(options.ip, options.port, child, () => output);
  let stopped: Promise<void> | undefined;
  return {
    urls: {
      udp: `turn:${options.ip}:${options.port}?transport=udp`,
      tcp: `turn:${options.ip}:${options.port}?transport=tcp`,
      tls: `turns:${options.ip}:${options.tlsPort}?transport=tcp`,
    },
    secret: options.secret,
    ip: options.ip,
    port: options.port,
    tlsPort: options.tlsPort,
    log: () => output,
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(killer);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function waitForListening(ip: string, port: number, child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`turnserver exited with ${code} before listening:\n${output()}`));
    child.once('exit', onExit);
    const attempt = () => {
      const socket = net.connect(port, ip);
      socket.once('connect', () => {
        socket.destroy();
        child.off('exit', onExit);
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() < deadline) return void setTimeout(attempt, 50);
        child.off('exit', onExit);
        child.kill('SIGKILL');
        reject(new Error(`turnserver did not listen on ${ip}:${port} within ${timeoutMs} ms:\n${output()}`));
      });
    };
    attempt();
  });
}
