/**
 * Notices a misconfigured edge: requests that carry X-Forwarded-For from a peer that is not in
 * ROSTRUM_TRUST_PROXY. Such an origin sees every listener behind the edge as the edge's one
 * address, so per-address limits throttle the whole crowd together (measured in issue 21: 896 of
 * 1,000 listeners joining through the shipped nginx edge never heard anything). Said once in the
 * log (warn, with the peer and the variable to set), kept for /readyz, and counted for /metrics.
 *
 * Both ways in call `forwarded()` only when the header is there — the join lane notices it in the
 * header scan it does anyway, Fastify's hook with one header lookup — so a request without the
 * header pays nothing more, and one with it a cached verdict on its peer.
 */
import proxyAddr from '@fastify/proxy-addr';
import type { Logger } from 'pino';

/** The machine-readable code /readyz names the warning with. */
export const UNTRUSTED_PROXY = 'untrusted_proxy';
/** Peers whose verdict is kept (edges are few; a client sending the header itself is one more). */
const PEERS_KEPT = 1024;

export interface ReadinessWarning {
  code: string;
  message: string;
  /** The address of the peer that sent the header (the first one seen). */
  peer: string;
}

export class ProxyWatch {
  /** Requests that carried X-Forwarded-For from an untrusted peer (read at each scrape). */
  untrusted = 0;
  private warning: ReadinessWarning | undefined;
  private readonly trusts: (address: string) => boolean;
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    trustProxy: readonly string[],
    private readonly log: Logger,
  ) {
    const trust = trustProxy.length > 0 ? proxyAddr.compile([...trustProxy]) : undefined;
    this.trusts = trust ? (address) => trust(address, 0) : () => false;
  }

  /** A request from `peer` (the socket's address) carried X-Forwarded-For. */
  forwarded(peer: string | undefined): void {
    const address = peer ?? '';
    let trusted = this.verdicts.get(address);
    if (trusted === undefined) {
      trusted = this.trusts(address);
      if (this.verdicts.size >= PEERS_KEPT) this.verdicts.clear();
      this.verdicts.set(address, trusted);
    }
    if (trusted) return;
    this.untrusted++;
    if (this.warning) return;
    this.warning = {
      code: UNTRUSTED_PROXY,
      peer: address,
      message:
        `Requests from ${address} carry X-Forwarded-For, but ${address} is not a trusted proxy: every client behind it ` +
        `counts as ${address} for per-address limits. If it is your edge or load balancer, set ROSTRUM_TRUST_PROXY=${address} ` +
        '(addresses or CIDRs, comma-separated); if not, a client sent the header itself and it was ignored.',
    };
    this.log.warn({ peer: address, variable: 'ROSTRUM_TRUST_PROXY', code: UNTRUSTED_PROXY }, this.warning.message);
  }

  /** What /readyz reports besides being ready. */
  warnings(): ReadinessWarning[] {
    return this.warning ? [this.warning] : [];
  }
}
