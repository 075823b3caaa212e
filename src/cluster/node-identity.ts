/**
 * This node's name and address among several: ROSTRUM_NODE_ID, or one made from the host name and a
 * random suffix (unique across restarts, so a restarted node never takes over a lease its previous
 * life held), and ROSTRUM_NODE_URL, or the address it listens on.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { type Credentials, deriveSecret } from '../control/credentials.js';

export interface NodeInfo {
  id: string;
  /** Where other nodes (and an edge) reach this node. */
  url: string;
}

export function generatedNodeId(hostname = os.hostname()): string {
  const host = hostname.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40) || 'node';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

/** The key nodes show each other on a forwarded request or a bridged socket: derived from the API secret every node shares. */
export function nodeKey(credentials: Credentials): string {
  return deriveSecret(credentials, 'rostrum node key').toString('hex');
}
