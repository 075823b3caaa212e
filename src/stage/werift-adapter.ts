/**
 * The one gate in front of werift's internals (issue 25, item 8). The stage's per-packet fast paths
 * (werift-fast-paths.ts: SRTP with AES-GCM, RTP header parsing, UDP sends, ICE sends, TURN's leak
 * fixes; fast-receive.ts; slot-sender.ts and slot-reports.ts) reach into werift 0.24's private fields
 * and replace some of its methods. package.json pins werift's exact version; this checks, once per
 * thread, that the werift actually loaded is that version and still has every method they replace
 * or wrap. If not — an upgrade, a hoisted copy of another version — or if the operator says so
 * (ROSTRUM_WERIFT_FAST_PATHS=off), none of them is installed and the stage runs on werift's own
 * public paths: slower (those paths were a quarter of a full stage's CPU profile), never broken. The
 * server logs the reason at start and reports it (rostrum_werift_fast_paths).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { RTCDtlsTransport, RTCRtpSender, RtpHeader, TurnProtocol, UdpTransport } from 'werift';

/** The werift version the fast paths are written against (package.json pins exactly this). */
export const WERIFT_PINNED = '0.24.4';

export interface WeriftCheck {
  /** The werift version loaded. */
  version: string;
  /** Whether the fast paths may be installed. */
  fastPaths: boolean;
  /** Why not, when they may not. */
  reason?: string;
}

/** The methods the fast paths replace or wrap: each must be there, as a function. */
const REACHED: Array<[string, unknown]> = [
  ['RtpHeader.deSerialize', RtpHeader.deSerialize],
  ['UdpTransport.init', (UdpTransport as unknown as { init?: unknown }).init],
  ['RTCDtlsTransport.prototype.updateSrtpSession', RTCDtlsTransport.prototype.updateSrtpSession],
  ['TurnProtocol.prototype.connectionMade', TurnProtocol.prototype.connectionMade],
  ['TurnProtocol.prototype.close', TurnProtocol.prototype.close],
  ['RTCRtpSender.prototype.runRtcp', (RTCRtpSender.prototype as unknown as { runRtcp?: unknown }).runRtcp],
];

/** Decides from a version, the methods found and the operator's switch (exported for the tests). */
export function checkWerift(version: string, reached = REACHED, env: NodeJS.ProcessEnv = process.env): WeriftCheck {
  if (env.ROSTRUM_WERIFT_FAST_PATHS === 'off') return { version, fastPaths: false, reason: 'ROSTRUM_WERIFT_FAST_PATHS=off' };
  if (version !== WERIFT_PINNED) {
    return { version, fastPaths: false, reason: `werift ${version} is loaded; the fast paths are written for ${WERIFT_PINNED}` };
  }
  const missing = reached.filter(([, fn]) => typeof fn !== 'function').map(([name]) => name);
  if (missing.length > 0) return { version, fastPaths: false, reason: `werift lacks ${missing.join(', ')}` };
  return { version, fastPaths: true };
}

/** The version of the werift this process loads (its package.json; werift's exports do not list it). */
export function loadedWeriftVersion(): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve('werift'));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'werift') return pkg.version ?? 'unknown';
    }
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

let decided: WeriftCheck | undefined;

/** This process's answer, decided once. */
export function werift(): WeriftCheck {
  decided ??= checkWerift(loadedWeriftVersion());
  return decided;
}

/** Whether the stage may take its fast paths (werift is the pinned version, and the switch is on). */
export function fastPathsEnabled(): boolean {
  return werift().fastPaths;
}
