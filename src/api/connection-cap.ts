/**
 * Connections per client address, capped (issue 25): one address opening thousands of idle
 * keep-alive or slow connections cannot take a node's file descriptors and memory from everyone
 * else. Counted at the socket, before any byte is parsed; a connection over the cap is answered
 * `429 connection_limit` in the API's error shape (Retry-After) and closed. A trusted proxy's own
 * connections are not counted — every listener behind an edge comes from its address — nor are
 * loopback ones: a peer on this machine is the operator's own proxy or tooling (an nginx in front
 * without ROSTRUM_TRUST_PROXY would otherwise put every listener under one cap). Like nginx's
 * limit_conn, not a rate: an address that closes its connections may open new ones at once.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { fail } from '../errors.js';
import { rawErrorAnswer } from './client-errors.js';

export class ConnectionCap {
  private readonly open = new Map<string, number>();
  /** Connections closed for being over the cap (metrics). */
  refused = 0;

  constructor(
    private readonly max: number,
    /** The trusted proxies (ROSTRUM_TRUST_PROXY, compiled), whose own connections are not counted. */
    private readonly trusted: ((address: string, hop: number) => boolean) | undefined,
  ) {}

  /** Counts every connection `server` accepts from now on. */
  attach(server: Server): void {
    if (this.max <= 0) return;
    server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /** Addresses holding connections now (tests, metrics). */
  get addresses(): number {
    return this.open.size;
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress;
    if (!address || isLoopback(address) || this.trusted?.(address, 0)) return;
    const held = this.open.get(address) ?? 0;
    if (held >= this.max) {
      this.refused++;
      socket.end(rawErrorAnswer(fail('connection_limit', undefined, 5)));
      socket.destroySoon();
      return;
    }
    this.open.set(address, held + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
