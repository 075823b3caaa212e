/**
 * Where the stage's WebRTC sessions live on the network: the one local address they bind, the
 * addresses they announce (1:1 NAT: a cloud VM knows only its private address), the ports they may
 * use (a firewall rule), and whether speakers whose network blocks UDP may reach them over ICE-TCP.
 *
 * The server is an ICE-lite agent (RFC 8445 §2.5), as mediasoup and Janus deployments are: it never
 * sends a connectivity check, so no address a client names in its candidates — a cloud metadata
 * address, a private DNS server, a loopback port, an mDNS name — ever gets a packet from it. It
 * answers checks that reach its own candidates and carry the session's ICE credentials, and sends
 * media only to the address the nominated check came from. Its candidates are host candidates on the
 * listen address; with announced addresses they carry those instead (the NAT maps them back).
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import os from 'node:os';

export interface RtcNetwork {
  /** The local IPv4 address every session's UDP socket (and ICE-TCP listener) binds. */
  listenIp: string;
  /** Addresses written into the server's candidates in place of `listenIp`; empty: `listenIp` itself. */
  announcedIps: string[];
  /** Ports sessions bind, inclusive; undefined: any the system picks. */
  portRange: [number, number] | undefined;
  /** Offer a passive ICE-TCP candidate beside each UDP one (RFC 6544), for networks that block UDP. */
  tcp: boolean;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';

/**
 * The address sessions bind. Configured, it is that. Otherwise: loopback when the server serves only
 * this machine (it listens on loopback, hands out no public URL elsewhere and announces nothing);
 * the address it listens on when that is one address; else — listening on every address, or on
 * loopback behind an edge on the same machine — the address of the interface that holds the
 * default route, the one a NAT in front of the machine forwards to.
 */
export function chooseListenIp(options: {
  host: string;
  configured?: string | undefined;
  announced?: string[];
  publicUrl?: string | undefined;
}): string {
  const { host, configured } = options;
  if (configured) {
    if (!isIPv4(configured)) throw new Error(`ROSTRUM_RTC_LISTEN_IP must be an IPv4 address, got "${configured}"`);
    return configured;
  }
  const publicHost = options.publicUrl ? new URL(options.publicUrl).hostname : undefined;
  const thisMachineOnly = isLoopback(host) && !options.announced?.length && (!publicHost || isLoopback(publicHost));
  if (thisMachineOnly) return '127.0.0.1';
  if (isIPv4(host) && !isWildcard(host) && !isLoopback(host)) return host;
  const found = defaultRouteAddress() ?? firstExternalAddress();
  if (!found) throw new Error('no IPv4 address to bind WebRTC sessions on: set ROSTRUM_RTC_LISTEN_IP');
  return found;
}

/** The IPv4 address of the interface that holds the default route (Linux), if any. */
function defaultRouteAddress(): string | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  // Iface Destination Gateway ...: the default route's destination is 00000000.
  const iface = table
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === '00000000')?.[0];
  if (!iface) return undefined;
  return os.networkInterfaces()[iface]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
}

function firstExternalAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return undefined;
}

/** The network the configuration describes. */
export function rtcNetworkOf(config: {
  host: string;
  publicUrl: string | undefined;
  rtcListenIp: string | undefined;
  rtcAnnouncedIps: string[];
  rtcPortRange: [number, number] | undefined;
  rtcTcp: boolean;
}): RtcNetwork {
  return {
    listenIp: chooseListenIp({
      host: config.host,
      configured: config.rtcListenIp,
      announced: config.rtcAnnouncedIps,
      publicUrl: config.publicUrl,
    }),
    announcedIps: config.rtcAnnouncedIps,
    portRange: config.rtcPortRange,
    tcp: config.rtcTcp,
  };
}

/** `50000-50100` (or one port, `50000`) → [50000, 50100]. */
export function parsePortRange(value: string | undefined): [number, number] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(value);
  const low = Number(match?.[1]);
  const high = Number(match?.[2] ?? match?.[1]);
  if (!match || low < 1024 || high > 65535 || low > high) {
    throw new Error(`ROSTRUM_RTC_PORT_RANGE must be LOW-HIGH within 1024-65535, got "${value}"`);
  }
  return [low, high];
}

/** Comma-separated IP addresses (IPv4 or IPv6). */
export function parseAddresses(value: string | undefined, name: string): string[] {
  const addresses = (value ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const a of addresses) if (!isIPv4(a) && !isIPv6(a)) throw new Error(`${name} must list IP addresses, got "${a}"`);
  return addresses;
}

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …` (RFC 8839 §5.1). */
const CANDIDATE_LINE = /^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$/;

/**
 * The server's answer as the network sees it: each host candidate on `listenIp` is written once per
 * announced address (its foundation and priority kept distinct per address), any other candidate is
 * dropped, and the connection line follows the first address.
 */
export function announceCandidates(sdp: string, network: RtcNetwork): string {
  const announced = network.announcedIps.length > 0 ? network.announcedIps : [network.listenIp];
  const lines = sdp.split(/\r\n/);
  const out: string[] = [];
  for (const line of lines) {
    const c = CANDIDATE_LINE.exec(line);
    if (!c) {
      out.push(line.startsWith('c=IN IP4 ') && network.announcedIps.length > 0 ? connectionLine(announced[0]!) : line);
      continue;
    }
    const [, foundation, component, transport, priority, address, port, type, rest] = c;
    if (address !== network.listenIp || type !== 'host') continue;
    announced.forEach((ip, i) => {
      // Lower the priority by one per extra address, so candidates never tie (RFC 8445 §5.1.2.1).
      const p = Number(priority) - i;
      out.push(`a=candidate:${foundation}${i === 0 ? '' : `x${i}`} ${component} ${transport} ${p} ${ip} ${port} typ host${rest}`);
    });
  }
  return out.join('\r\n');
}

const connectionLine = (ip: string) => (isIPv6(ip) ? `c=IN IP6 ${ip}` : `c=IN IP4 ${ip}`);
