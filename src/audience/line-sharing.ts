/**
 * What the waiting rooms of several nodes share. Each node keeps its own line per space (FIFO, at its
 * share of the space's admission rate — the edge spreads joiners evenly over the nodes), so a
 * newcomer's answer never waits on another engine. What crosses nodes is what a ticket coming back
 * needs wherever it lands: how far each node's line has moved (published by its node every 250 ms)
 * and which tickets were used (a ticket admits one listener in the whole cluster).
 *
 * Implementation: redis-line-sharing.ts. The embedded default has one node and shares nothing.
 */
import type { SpaceId } from '../ids.js';

export interface LineState {
  /** Tickets released by that node's line (those numbered below may come in), and issued. */
  released: number;
  issued: number;
}

export interface LineSharing {
  readonly kind: string;
  /** Where this node's lines are read at each sync (the waiting room, once). */
  attach(lines: () => Iterable<[SpaceId, LineState]>): void;
  /**
   * Another node's line as last heard (from the last sync; read at once the first time a space is
   * asked about here); undefined when nothing is known of it (not yet published, or the engine is away).
   */
  lineOf(space: SpaceId, node: string): Promise<LineState | undefined>;
  /** Spends a ticket: true the first time anywhere in the cluster. */
  spend(space: SpaceId, node: string, seq: number, ttlMs: number): Promise<boolean>;
  /** Publishes and reads (every 250 ms; the tests call it by hand). */
  sync(): Promise<void>;
  /** Forgets a space (it ended). */
  forget(space: SpaceId): void;
  close(): Promise<void>;
}
