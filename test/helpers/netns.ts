/**
 * A small internet in network namespaces (we are root in tests and CI), for tests of what crosses a
 * network: an "internet" bridge (198.51.100.0/24, TEST-NET-2) in a namespace of its own, hosts
 * attached to it, the test process itself attached at 198.51.100.254, and servers behind a 1:1 NAT
 * router (private 10.77.x.2 ↔ public address on the bridge), as a cloud VM sits behind its provider's
 * NAT. Interfaces inside namespaces are named eth0/wan0/lan0: werift gathers no candidates on
 * interfaces named veth*. Everything is removed by destroy() (and on exit).
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const INTERNET = '198.51.100';
/** The test process's own address on the lab's internet. */
export const ROOT_IP = `${INTERNET}.254`;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function sh(args: string[]): string {
  const out = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${args.join(' ')} failed (${out.status}): ${out.stderr}`);
  return out.stdout;
}

/** Ends what still runs in a namespace (a server, a TURN server) and removes it. */
function removeNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

function removeOrphanedLabs(): void {
  const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => line.split(' ')[0] ?? '');
  for (const ns of names) {
    const match = /^rs([0-9a-z]+)[0-9a-f]{2}-/.exec(ns);
    if (!match) continue;
    const pid = Number.parseInt(match[1]!, 36);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) removeNamespace(ns);
  }
}

export class Lab {
  private readonly namespaces: string[] = [];
  private readonly routers: string[] = [];
  private uplinked = false;
  private forwardingWas = '0';
  private readonly masquerade: string[];
  private links = 0;
  private natServers = 0;
  private readonly onExit = () => this.destroySync();

  private constructor(readonly prefix: string) {
    process.once('exit', this.onExit);
    this.masquerade = ['-s', `${INTERNET}.0/24`, '!', '-d', `${INTERNET}.0/24`, '-j', 'MASQUERADE', '-m', 'comment', '--comment', prefix];
  }

  /**
   * A lab with its internet bridge, the test process attached to it. Labs left behind by a process
   * that was killed are removed first: their root link would shadow this lab's route to its internet.
   */
  static create(): Lab {
    removeOrphanedLabs();
    // The creator's pid in the name tells an orphan from a lab in use.
    const lab = new Lab(`rs${process.pid.toString(36)}${randomBytes(1).toString('hex')}`);
    const net = lab.addNamespace('net');
    lab.ip(net, 'link', 'add', 'br0', 'type', 'bridge');
    lab.ip(net, 'link', 'set', 'br0', 'up');
    const [outside, inside] = lab.vethPair();
    sh(['ip', 'link', 'set', inside, 'netns', net]);
    lab.ip(net, 'link', 'set', inside, 'master', 'br0', 'up');
    sh(['ip', 'addr', 'add', `${ROOT_IP}/24`, 'dev', outside]);
    sh(['ip', 'link', 'set', outside, 'up']);
    return lab;
  }

  /** The full name of one of this lab's namespaces. */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** A host on the internet at `.last` (198.51.100.<last>), its interface eth0. Returns its namespace. */
  addHost(name: string, last: number): string {
    const ns = this.addNamespace(name);
    this.plugIntoInternet(ns, 'eth0', `${INTERNET}.${last}`);
    return ns;
  }

  /**
   * A server behind a 1:1 NAT: a router namespace with the public address on the internet (wan0) and
   * 10.77.N.1 inside (lan0), every packet to the public address forwarded to the server's private
   * 10.77.N.2 and every packet from it leaving as the public address. Returns the server's namespace.
   */
  addServerBehindNat(name: string, publicLast: number): { ns: string; publicIp: string; privateIp: string } {
    const n = ++this.natServers;
    const publicIp = `${INTERNET}.${publicLast}`;
    const privateIp = `10.77.${n}.2`;
    const router = this.addNamespace(`${name}-nat`);
    this.plugIntoInternet(router, 'wan0', publicIp);
    const ns = this.addNamespace(name);
    const [a, b] = this.vethPair();
    sh(['ip', 'link', 'set', a, 'netns', router]);
    sh(['ip', 'link', 'set', b, 'netns', ns]);
    this.ip(router, 'link', 'set', a, 'name', 'lan0');
    this.ip(router, 'addr', 'add', `10.77.${n}.1/24`, 'dev', 'lan0');
    this.ip(router, 'link', 'set', 'lan0', 'up');
    this.ip(ns, 'link', 'set', b, 'name', 'eth0');
    this.ip(ns, 'addr', 'add', `${privateIp}/24`, 'dev', 'eth0');
    this.ip(ns, 'link', 'set', 'eth0', 'up');
    this.ip(ns, 'route', 'add', 'default', 'via', `10.77.${n}.1`);
    this.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    this.exec(router, ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-d', publicIp, '-j', 'DNAT', '--to-destination', privateIp]);
    // Hairpin: the server reaching its own public address (a relay on it, to Rostrum) comes back to it.
    this.exec(router, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', `10.77.${n}.0/24`, '-d', privateIp, '-j', 'MASQUERADE']);
    this.exec(router, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', privateIp, '-j', 'SNAT', '--to-source', publicIp]);
    this.routers.push(router);
    return { ns, publicIp, privateIp };
  }

  /**
   * Connects the lab's internet to the real one through this machine (forwarding and masquerading in
   * the root namespace), for a server that must install packages. Undone by destroy().
   */
  uplink(): void {
    if (this.uplinked) return;
    this.forwardingWas = sh(['sysctl', '-n', 'net.ipv4.ip_forward']).trim();
    sh(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh(['iptables', '-t', 'nat', '-A', 'POSTROUTING', ...this.masquerade]);
    this.uplinked = true;
    for (const router of this.routers) this.ip(router, 'route', 'replace', 'default', 'via', ROOT_IP);
  }

  /** Names the namespace `ns` resolves (its /etc/hosts, as `ip netns exec` mounts /etc/netns/NS/hosts). */
  setHosts(ns: string, entries: Record<string, string>): void {
    const dir = path.join('/etc/netns', ns);
    fs.mkdirSync(dir, { recursive: true });
    const lines = ['127.0.0.1 localhost', '::1 localhost', ...Object.entries(entries).map(([name, ip]) => `${ip} ${name}`)];
    fs.writeFileSync(path.join(dir, 'hosts'), `${lines.join('\n')}\n`);
  }

  /** Drops UDP in and out of namespace `ns` (to and from `peer` only, when given): a network that blocks UDP. */
  blockUdp(ns: string, peer?: string): void {
    this.exec(ns, ['iptables', '-A', 'OUTPUT', '-p', 'udp', ...(peer ? ['-d', peer] : []), '-j', 'DROP']);
    this.exec(ns, ['iptables', '-A', 'INPUT', '-p', 'udp', ...(peer ? ['-s', peer] : []), '-j', 'DROP']);
  }

  /** Lets UDP through again. */
  unblockUdp(ns: string): void {
    this.exec(ns, ['iptables', '-F']);
  }

  /** Runs a command in namespace `ns` to its end; its standard output. */
  exec(ns: string, command: string[]): string {
    return sh(['ip', 'netns', 'exec', ns, ...command]);
  }

  /** Starts a command in namespace `ns`. */
  spawn(ns: string, command: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, ...command], options);
  }

  /** Removes every namespace (and with them every interface) of the lab. Idempotent. */
  destroy(): void {
    this.destroySync();
    process.off('exit', this.onExit);
  }

  private destroySync(): void {
    if (this.uplinked) {
      spawnSync('iptables', ['-t', 'nat', '-D', 'POSTROUTING', ...this.masquerade]);
      spawnSync('sysctl', ['-qw', `net.ipv4.ip_forward=${this.forwardingWas}`]);
      this.uplinked = false;
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      removeNamespace(ns);
      fs.rmSync(path.join('/etc/netns', ns), { recursive: true, force: true });
    }
  }

  private addNamespace(name: string): string {
    const ns = this.ns(name);
    sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    this.ip(ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  private plugIntoInternet(ns: string, iface: string, address: string): void {
    const [a, b] = this.vethPair();
    sh(['ip', 'link', 'set', a, 'netns', this.ns('net')]);
    this.ip(this.ns('net'), 'link', 'set', a, 'master', 'br0', 'up');
    sh(['ip', 'link', 'set', b, 'netns', ns]);
    this.ip(ns, 'link', 'set', b, 'name', iface);
    this.ip(ns, 'addr', 'add', `${address}/24`, 'dev', iface);
    this.ip(ns, 'link', 'set', iface, 'up');
  }

  /** A veth pair with names unique on this machine (≤ 15 characters). */
  private vethPair(): [string, string] {
    const n = ++this.links;
    const pair: [string, string] = [`${this.prefix}-${n}a`, `${this.prefix}-${n}b`];
    sh(['ip', 'link', 'add', pair[0], 'type', 'veth', 'peer', 'name', pair[1]]);
    return pair;
  }

  private ip(ns: string, ...args: string[]): void {
    sh(['ip', '-n', ns, ...args]);
  }
}
