/**
 * What an operator's backend is told, and how a change of a space becomes it. The events of a
 * change (bus/events.ts) are mapped here to webhook events, which the command runner writes into the
 * outbox in the same transaction as the change itself (control/commands.ts): an acknowledged change
 * always has its events, and a refused one has none.
 */
import crypto from 'node:crypto';
import type { AnyEvent } from '../control/commands.js';
import type { Space, StageMember } from '../control/model.js';
import type { Identity, SpaceId } from '../ids.js';

export const WEBHOOK_EVENTS = [
  'space.scheduled',
  'space.live',
  'space.ended',
  'recording.ready',
  'reminder.due',
  'stage.joined',
  'stage.left',
  'participant.removed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** One event in the outbox, before the store gives it its place in the space's sequence. */
export interface OutboxEvent {
  /**
   * `evt_` and random, or derived from what makes the event unique when it may be produced again
   * (a reminder at a start time, a space's recording): the store keeps the first and ignores repeats.
   */
  id: string;
  type: WebhookEventType;
  spaceId: SpaceId;
  occurredAt: number;
  data: Record<string, unknown>;
}

export function newEventId(): string {
  return `evt_${crypto.randomBytes(16).toString('base64url')}`;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The space as every event names it. */
export function spaceSummary(space: Space): Record<string, unknown> {
  return {
    id: space.id,
    title: space.title,
    host: { identity: space.hostIdentity, name: space.hostName },
    scheduledStart: iso(space.scheduledStart),
  };
}

function event(type: WebhookEventType, space: Space, now: number, data: Record<string, unknown>): OutboxEvent {
  return { id: newEventId(), type, spaceId: space.id, occurredAt: now, data: { space: spaceSummary(space), ...data } };
}

/**
 * The webhook events of one change: `stage` is the stage before it (the command's view of memory,
 * not yet changed), so who joined and who left are the difference with the stage the change ends on.
 */
export function webhookEvents(
  space: Space,
  stage: ReadonlyMap<Identity, StageMember>,
  events: readonly AnyEvent[],
  now: number,
): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (const [name, payload] of events) {
    switch (name) {
      case 'space.created':
        if (payload.space.state === 'scheduled') out.push(event('space.scheduled', payload.space, now, {}));
        break;
      case 'space.live':
        out.push(event('space.live', space, now, { startedAt: iso(payload.startedAt) }));
        break;
      case 'space.ended':
        out.push(event('space.ended', space, now, { endedAt: iso(payload.endedAt), recording: payload.recording }));
        break;
      case 'stage.changed': {
        const after = new Map(payload.stage.map((m) => [m.identity, m]));
        for (const m of payload.stage) {
          if (!stage.has(m.identity)) out.push(event('stage.joined', space, now, { identity: m.identity, name: m.name, role: m.role }));
        }
        for (const m of stage.values()) {
          if (!after.has(m.identity)) out.push(event('stage.left', space, now, { identity: m.identity, name: m.name, role: m.role }));
        }
        break;
      }
      case 'participant.removed':
        out.push(event('participant.removed', space, now, { identity: payload.identity, by: payload.by }));
        break;
      default:
        break;
    }
  }
  return out;
}

/**
 * A space's recording made into one file: one event per space, whichever node makes it and however
 * often — and one more each time its host edits the replay (a trim, or undoing it: the file is made
 * again, its duration changes), told apart by when the space was last changed.
 */
export function recordingReady(space: Space, duration: number, bytes: number, now: number): OutboxEvent {
  const edited = space.endedAt !== null && space.updatedAt > space.endedAt;
  return {
    ...event('recording.ready', space, now, {
      duration,
      bytes,
      path: `/api/spaces/${space.id}/recording.m4a`,
      trim: space.replayTrim,
    }),
    id: edited ? `evt_recording_${space.id}_${space.updatedAt}` : `evt_recording_${space.id}`,
  };
}

/** Most identities in one reminder.due event; more are sent as several parts. */
export const REMINDER_PART = 1000;

/** The reminders of a space's start, as events of up to REMINDER_PART identities: the same ids each time. */
export function remindersDue(space: Space, start: number, identities: readonly Identity[], now: number): OutboxEvent[] {
  const parts = Math.max(1, Math.ceil(identities.length / REMINDER_PART));
  return Array.from({ length: parts }, (_, i) => ({
    ...event('reminder.due', space, now, {
      start: iso(start),
      identities: identities.slice(i * REMINDER_PART, (i + 1) * REMINDER_PART),
      part: i + 1,
      parts,
    }),
    id: `evt_reminder_${space.id}_${i + 1}`,
  }));
}
