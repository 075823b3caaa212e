/**
 * What the proof of work shares between nodes: the solutions already used (a solution admits one
 * join in the whole cluster, whichever node it is sent to), the operator's switch (set on any node,
 * followed by all), and how hard each node's auto mode has made the work (the cluster asks for the
 * highest: a flood spread over the nodes raises it everywhere).
 *
 * Implementations: LocalPowCoordination here (the embedded default: one node, in memory) and
 * redis-pow-coordination.ts. One contract suite runs against both (test/pow/pow-contract.ts).
 */
import { fail } from '../errors.js';
import type { PowMode } from './proof-of-work.js';

export interface PowSetting {
  mode: PowMode;
  level: number;
  /** When the operator set it (ms): a newer setting replaces an older one. */
  at: number;
}

export interface PowCoordination {
  readonly kind: string;
  /** Spends a verified solution (its challenge's signature) until its challenge expires: true the first time only. */
  spend(signature: string, expiresAtS: number): Promise<boolean>;
  /**
   * Once a second: says this node's own level (and a setting the operator made here, if any);
   * answers with the newest operator setting and the highest level any live node asks for.
   */
  exchange(ownLevel: number, setting?: PowSetting): Promise<{ setting: PowSetting | undefined; clusterLevel: number }>;
  close(): Promise<void>;
}

/** Used solutions remembered at most (each cost its sender a solve); beyond it joins are shed. */
export const MAX_REMEMBERED = 2_000_000;

/** Used solutions in this process, in the order they were used, forgotten once their challenge expired. */
export class UsedSolutions {
  private readonly used = new Map<string, number>();

  spend(signature: string, expiresAtS: number): boolean {
    if (this.used.has(signature)) return false;
    if (this.used.size >= MAX_REMEMBERED) throw fail('overloaded', 'Too many joins to remember; retry after Retry-After.', 5);
    this.used.set(signature, expiresAtS);
    return true;
  }

  /** Forgets what expired: nearly expiry order (every challenge lives as long), so one not yet expired stops the sweep. */
  sweep(nowS: number): void {
    for (const [signature, expiresAt] of this.used) {
      if (expiresAt >= nowS) break;
      this.used.delete(signature);
    }
  }

  get size(): number {
    return this.used.size;
  }
}

export class LocalPowCoordination implements PowCoordination {
  readonly kind = 'local';
  private readonly used = new UsedSolutions();
  private setting: PowSetting | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async spend(signature: string, expiresAtS: number): Promise<boolean> {
    this.used.sweep(this.now() / 1000);
    return this.used.spend(signature, expiresAtS);
  }

  async exchange(ownLevel: number, setting?: PowSetting): Promise<{ setting: PowSetting | undefined; clusterLevel: number }> {
    if (setting && (!this.setting || setting.at >= this.setting.at)) this.setting = setting;
    return { setting: this.setting, clusterLevel: ownLevel };
  }

  async close(): Promise<void> {}
}
