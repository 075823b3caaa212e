/**
 * Every state change in Rostrum is one of these typed events. Producers publish after the change is
 * durable; consumers (WebSocket pushes, webhooks, the state document) subscribe by name.
 */
import type { Space, StageMember } from '../control/model.js';
import type { Identity, SpaceId } from '../ids.js';

export interface RostrumEvents {
  'space.created': { spaceId: SpaceId; space: Space };
  'space.updated': { spaceId: SpaceId; space: Space };
  'space.live': { spaceId: SpaceId; startedAt: number };
  'space.ended': { spaceId: SpaceId; endedAt: number; recording: boolean };
  /** Anything about who is on stage or in what role changed; carries the whole stage. */
  'stage.changed': { spaceId: SpaceId; stage: StageMember[] };
  'participant.muted': { spaceId: SpaceId; identity: Identity; by: Identity };
  'participant.unmuted': { spaceId: SpaceId; identity: Identity };
  /** Someone on stage started or stopped talking (measured from their audio, with hysteresis). */
  'participant.talking': { spaceId: SpaceId; identity: Identity; talking: boolean };
  'participant.moved_to_audience': { spaceId: SpaceId; identity: Identity; by: Identity };
  /** The identity's access is revoked: tear down its sessions at once. */
  'participant.removed': { spaceId: SpaceId; identity: Identity; by: Identity };
  'request.created': { spaceId: SpaceId; identity: Identity; name: string };
  'request.resolved': { spaceId: SpaceId; identity: Identity; outcome: 'approved' | 'declined' | 'cancelled' };
  'invite.created': { spaceId: SpaceId; identity: Identity; by: Identity };
  /** A space's recording was made into one file (recording.m4a), seconds and bytes. */
  'recording.ready': { spaceId: SpaceId; duration: number; bytes: number };
  'invite.resolved': { spaceId: SpaceId; identity: Identity; outcome: 'accepted' | 'declined' };
}

export type EventName = keyof RostrumEvents;
export type EventHandler<K extends EventName> = (payload: RostrumEvents[K]) => void;
