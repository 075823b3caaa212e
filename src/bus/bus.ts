/**
 * Bus: typed publish/subscribe of RostrumEvents. Implementations: local-bus.ts (in-process,
 * embedded default); Redis later, for fan-out between nodes.
 */
import type { EventHandler, EventName, RostrumEvents } from './events.js';

/** Call it to stop listening; calling it twice is harmless. */
export type Disposer = () => void;

export interface Bus {
  publish<K extends EventName>(name: K, payload: RostrumEvents[K]): void;
  subscribe<K extends EventName>(name: K, handler: EventHandler<K>): Disposer;
  close(): Promise<void>;
}
