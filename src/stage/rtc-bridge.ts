/**
 * A stage socket that reached a node which does not run its space is bridged to the node that does:
 * once the first message (auth) has told which space it is for, this node opens the same socket to
 * the owner's `/rtc`, marked as forwarded with the cluster's key (the owner then runs it, never
 * bridges it on), sends the auth message, and from then on passes every message both ways unchanged.
 * Only signalling goes through the bridge: the speaker's ICE candidates and media go straight to the
 * owner's RTC address. Either side closing closes the other, with a code the client reconnects on.
 */
import { WebSocket } from 'ws';
import { FORWARDED_BY, NODE_KEY } from '../api/forward.js';
import type { NodeInfo } from '../cluster/node-identity.js';
import { CLOSE, MAX_MESSAGE_BYTES } from './protocol.js';

/** Messages a client may send before the owner answers the bridge (it sends auth, then waits for its welcome). */
const MAX_PENDING = 16;

/** Close codes a peer cannot send itself (1005, 1006, 1015) become "going away": the client reconnects. */
function sendable(code: number): number {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
    ? code
    : CLOSE.goingAway;
}

export interface Bridge {
  /** Sockets bridged now. */
  open: number;
  /** Bridges that could not reach the owner. */
  failed: number;
}

export function bridgeToOwner(
  client: WebSocket,
  owner: NodeInfo,
  self: NodeInfo,
  clusterKey: string,
  firstMessage: string,
  counts: Bridge,
): void {
  const url = `${owner.url.replace(/^http/, 'ws')}/rtc`;
  const upstream = new WebSocket(url, { headers: { [FORWARDED_BY]: self.id, [NODE_KEY]: clusterKey }, maxPayload: MAX_MESSAGE_BYTES });
  const pending: { data: Buffer; binary: boolean }[] = [{ data: Buffer.from(firstMessage), binary: false }];
  counts.open++;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    counts.open--;
  };

  client.on('message', (data: Buffer, binary) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
    else if (pending.length < MAX_PENDING) pending.push({ data, binary });
    else client.close(CLOSE.policy, 'too many messages before the stage answered');
  });
  upstream.on('open', () => {
    for (const m of pending.splice(0)) upstream.send(m.data, { binary: m.binary });
  });
  upstream.on('message', (data: Buffer, binary) => {
    if (client.readyState === WebSocket.OPEN) client.send(data, { binary });
  });
  upstream.on('close', (code, reason) => {
    finish();
    if (client.readyState === WebSocket.OPEN || client.readyState === WebSocket.CONNECTING) client.close(sendable(code), reason.toString());
  });
  upstream.on('error', () => {
    if (upstream.readyState !== WebSocket.OPEN) counts.failed++;
    finish();
    if (client.readyState === WebSocket.OPEN) {
      client.send(
        JSON.stringify({
          type: 'error',
          error: { code: 'cluster_unavailable', message: `The node that runs this space (${owner.id}) does not answer; reconnect.` },
        }),
      );
      client.close(CLOSE.goingAway, 'cluster_unavailable');
    }
  });
  client.on('close', () => {
    finish();
    if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
  });
  client.on('error', () => upstream.terminate());
}
