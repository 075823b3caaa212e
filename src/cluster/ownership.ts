/**
 * Ownership: which node runs each space — its commands, its stage, its mix and its recording. Exactly
 * one node owns a space at a time; the others answer what they can from their read views and send
 * the rest to the owner.
 *
 * Implementations: local-ownership.ts (the embedded default: this node owns every space) and
 * redis-ownership.ts (a lease per space in Redis, fenced by an epoch the store hands out). One
 * contract suite runs against both (test/cluster/ownership-contract.ts).
 */
import { createHash } from 'node:crypto';
import type { Disposer } from '../bus/bus.js';
import type { SpaceId } from '../ids.js';
import type { Fence } from '../store/space-store.js';
import type { NodeInfo } from './node-identity.js';

export interface Ownership {
  readonly kind: string;
  /** This node. */
  readonly node: NodeInfo;
  /**
   * The node that owns the space now. When nobody does and this node ranks first for it, this node
   * takes it (and says so to onAcquired) before answering; when another node ranks first, that node
   * is named (it takes the space on the first request it gets). Rejects with space_not_found for an
   * unknown space, and with cluster_unavailable when no owner can be known (Redis away and the space
   * not held here). `forwarded`: the request was sent here by another node, so take the space rather
   * than name a third (views of the live nodes can differ for a moment).
   */
  ownerOf(id: SpaceId, options?: { forwarded?: boolean }): Promise<NodeInfo>;
  /** Whether this node holds the space's lease now (synchronous: the hot paths ask). */
  owns(id: SpaceId): boolean;
  /** This node's fence for a space it owns (undefined: not owned here, or the embedded default's unfenced writes). */
  fence(id: SpaceId): Fence | undefined;
  /** The spaces this node owns now. */
  owned(): SpaceId[];
  /** A commit was refused as stale (stale_owner): another node has the space; let it go now. */
  lost(id: SpaceId): void;
  /** Gives a space up (it ended and its last work is done): its lease goes, and with it its place here. */
  release(id: SpaceId): Promise<void>;
  /** This node took a space (at start, on a request, or from a node that died or stopped). */
  onAcquired(handler: (id: SpaceId, fence: Fence | undefined) => void): Disposer;
  /** This node no longer owns a space (its lease went to another node, or it is stopping). */
  onReleased(handler: (id: SpaceId) => void): Disposer;
  /** The live nodes, this one included. */
  nodes(): NodeInfo[];
  /** Starts keeping leases. */
  start(): Promise<void>;
  /** Hands every space over (the next node in each one's ranking takes it) and stops. */
  close(): Promise<void>;
}

/**
 * Rendezvous (highest random weight) hashing: every node ranks the live nodes for a space the same
 * way without asking anyone, and when a node goes only its spaces move.
 */
export function rank(space: string, nodes: readonly string[]): string[] {
  const weight = (node: string) => createHash('sha256').update(node).update('\0').update(space).digest().readBigUInt64BE(0);
  return [...nodes]
    .map((node) => ({ node, w: weight(node) }))
    .sort((a, b) => (a.w === b.w ? (a.node < b.node ? -1 : 1) : a.w > b.w ? -1 : 1))
    .map((x) => x.node);
}

/** Handlers kept in a set; each call sees a snapshot so a handler may dispose itself. */
export class Handlers<A extends unknown[]> {
  private readonly set = new Set<(...args: A) => void>();
  add(handler: (...args: A) => void): Disposer {
    this.set.add(handler);
    return () => this.set.delete(handler);
  }
  emit(...args: A): void {
    for (const h of [...this.set]) h(...args);
  }
}
