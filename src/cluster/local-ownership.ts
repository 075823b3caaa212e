/**
 * Ownership on the embedded default: one node, which owns every space. Writes are unfenced (there is
 * nobody to be stale against), so the store's epochs are never raised.
 */
import type { Disposer } from '../bus/bus.js';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { NodeInfo } from './node-identity.js';
import type { Ownership } from './ownership.js';

export class LocalOwnership implements Ownership {
  readonly kind = 'local';

  constructor(
    readonly node: NodeInfo,
    private readonly exists: (id: SpaceId) => Promise<boolean>,
  ) {}

  async ownerOf(id: SpaceId): Promise<NodeInfo> {
    if (!(await this.exists(id))) throw fail('space_not_found');
    return this.node;
  }

  owns(): boolean {
    return true;
  }

  fence(): undefined {
    return undefined;
  }

  owned(): SpaceId[] {
    return [];
  }

  lost(): void {}

  async release(): Promise<void> {}

  onAcquired(): Disposer {
    return () => {};
  }

  onReleased(): Disposer {
    return () => {};
  }

  nodes(): NodeInfo[] {
    return [this.node];
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}
}
