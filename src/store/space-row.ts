/**
 * The `spaces` table as both stores lay it out: the column of each patchable field, and a row back
 * into a Space. The engines differ only in how a boolean and the reactions come back (SQLite: 0/1 and
 * JSON text; PostgreSQL: boolean and JSONB), which each store passes in.
 */
import type { ReplayTrim } from '../broadcast/replay-trim.js';
import type { PinnedLink, Space, SpaceState } from '../control/model.js';
import type { Identity, SpaceId } from '../ids.js';
import type { SpacePatch } from './space-store.js';

export type Row = Record<string, unknown>;

export const SPACE_COLUMNS: Record<keyof SpacePatch, string> = {
  title: 'title',
  state: 'state',
  scheduledStart: 'scheduled_start',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  recording: 'recording',
  autoStart: 'auto_start',
  updatedAt: 'updated_at',
  peakListeners: 'peak_listeners',
  totalListeners: 'total_listeners',
  reactions: 'reactions',
  pinnedLink: 'pinned_link',
  replayTrim: 'replay_trim',
};

/** `json` reads a JSON column (SQLite: text; PostgreSQL: already parsed). */
export function spaceFromRow(r: Row, decode: { boolean(v: unknown): boolean; json(v: unknown): unknown }): Space {
  return {
    id: r.id as SpaceId,
    title: r.title as string,
    hostIdentity: r.host_identity as Identity,
    hostName: r.host_name as string,
    state: r.state as SpaceState,
    scheduledStart: r.scheduled_start as number | null,
    startedAt: r.started_at as number | null,
    endedAt: r.ended_at as number | null,
    recording: decode.boolean(r.recording),
    autoStart: decode.boolean(r.auto_start),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    peakListeners: r.peak_listeners as number,
    totalListeners: r.total_listeners as number,
    reactions: decode.json(r.reactions) as Record<string, number>,
    pinnedLink: r.pinned_link === null || r.pinned_link === undefined ? null : (decode.json(r.pinned_link) as PinnedLink),
    replayTrim: r.replay_trim === null || r.replay_trim === undefined ? null : (decode.json(r.replay_trim) as ReplayTrim),
  };
}
