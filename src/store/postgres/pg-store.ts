/**
 * SpaceStore on PostgreSQL (node-postgres), for several nodes sharing one durable record. A commit is
 * one transaction that first locks the space's row (SELECT … FOR UPDATE): its fence is checked and
 * its ops applied with no other commit or claim of that space in between, so a stale owner can never
 * slip a write past its successor. A database that does not answer fails fast (connect timeout 2 s,
 * queries 5 s) with the coded `store_unavailable` (503, Retry-After), never a hang or a 500.
 */
import type pg from 'pg';
import type { HostFeed } from '../../control/host-feed.js';
import type { ActionRecord, Space, SpaceSnapshot, StageMember } from '../../control/model.js';
import { fail } from '../../errors.js';
import type { Identity, SpaceId } from '../../ids.js';
import type { OutboxEvent } from '../../webhooks/events.js';
import { type Row, SPACE_COLUMNS, spaceFromRow } from '../space-row.js';
import {
  type Fence,
  type SpacePatch,
  type SpaceQuery,
  type SpaceStore,
  type StoreOp,
  staleOwner,
  type TallyPoint,
} from '../space-store.js';
import { MIGRATIONS } from './migrations.js';
import { openPool, translate } from './pg-pool.js';
import { appendEvent, PgWebhooks } from './pg-webhooks.js';

/** An arbitrary constant: the advisory lock nodes take turns on while migrating. */
const MIGRATION_LOCK = 7_262_577;

const toSpace = (r: Row): Space => spaceFromRow(r, { boolean: (v) => v as boolean, json: (v) => v });

export class PostgresSpaceStore implements SpaceStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  readonly webhooks: PgWebhooks;

  private constructor(url: string) {
    this.pool = openPool(url, 10);
    this.webhooks = new PgWebhooks(
      (sql, params) => this.query(sql, params),
      (work) => this.transaction(work),
    );
  }

  /** Connects and brings the schema up to date (safe when several nodes start at once). */
  static async open(url: string): Promise<PostgresSpaceStore> {
    const store = new PostgresSpaceStore(url);
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const applied = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number));
      for (const [index, sql] of MIGRATIONS.entries()) {
        const version = index + 1;
        if (applied.has(version)) continue;
        await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
      }
    });
  }

  /** Runs `work` in one transaction on one connection; database trouble becomes `store_unavailable`. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translate(err);
    } finally {
      client.release();
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
  }

  private async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, params)).rows as Row[];
    } catch (err) {
      throw translate(err);
    }
  }

  async createSpace(space: Space, host: StageMember, events: readonly OutboxEvent[] = []): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(
        `INSERT INTO spaces (id, title, host_identity, host_name, state, scheduled_start, started_at, ended_at,
           recording, created_at, updated_at, peak_listeners, total_listeners, reactions, auto_start)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          space.id,
          space.title,
          space.hostIdentity,
          space.hostName,
          space.state,
          space.scheduledStart,
          space.startedAt,
          space.endedAt,
          space.recording,
          space.createdAt,
          space.updatedAt,
          space.peakListeners,
          space.totalListeners,
          JSON.stringify(space.reactions),
          space.autoStart,
        ],
      );
      await putStage(c, space.id, host);
      for (const event of events) await appendEvent(c, event);
    });
  }

  async loadSpace(id: SpaceId): Promise<SpaceSnapshot | undefined> {
    const [space] = await this.query('SELECT * FROM spaces WHERE id = $1', [id]);
    if (!space) return undefined;
    const of = (table: string, order: string) => this.query(`SELECT * FROM ${table} WHERE space_id = $1 ORDER BY ${order}`, [id]);
    const [stage, requests, invites, removals, demotions] = await Promise.all([
      of('stage_members', 'joined_at, identity'),
      of('stage_requests', 'requested_at, identity'),
      of('invites', 'invited_at, identity'),
      of('removals', 'identity'),
      of('demotions', 'identity'),
    ]);
    return {
      space: toSpace(space),
      stage: stage.map((r) => ({
        identity: r.identity as Identity,
        name: r.name as string,
        role: r.role as StageMember['role'],
        muted: r.muted as boolean,
        joinedAt: r.joined_at as number,
      })),
      requests: requests.map((r) => ({ identity: r.identity as Identity, name: r.name as string, requestedAt: r.requested_at as number })),
      invites: invites.map((r) => ({
        identity: r.identity as Identity,
        invitedBy: r.invited_by as Identity,
        invitedAt: r.invited_at as number,
      })),
      removals: removals.map((r) => ({
        identity: r.identity as Identity,
        removedBy: r.removed_by as Identity,
        removedAt: r.removed_at as number,
      })),
      demotions: demotions.map((r) => ({ identity: r.identity as Identity, at: r.at as number })),
    };
  }

  async listSpaces(query: SpaceQuery): Promise<Space[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.states && query.states.length > 0) {
      params.push(query.states);
      where.push(`state = ANY($${params.length})`);
    }
    if (query.hostIdentity !== undefined) {
      params.push(query.hostIdentity);
      where.push(`host_identity = $${params.length}`);
    }
    params.push(query.limit);
    const sql = `SELECT * FROM spaces ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT $${params.length}`;
    return (await this.query(sql, params)).map(toSpace);
  }

  async commit(id: SpaceId, ops: readonly StoreOp[], fence?: Fence): Promise<void> {
    await this.transaction(async (c) => {
      const [row] = (await c.query('SELECT owner_epoch FROM spaces WHERE id = $1 FOR UPDATE', [id])).rows as Row[];
      if (!row) throw fail('space_not_found');
      if (fence && (row.owner_epoch as number) > fence.epoch) throw staleOwner(id, fence, row.owner_epoch as number);
      for (const op of ops) await apply(c, id, op);
    });
  }

  async claim(id: SpaceId, node: string): Promise<number> {
    const [row] = await this.query('UPDATE spaces SET owner_epoch = owner_epoch + 1, owner_node = $2 WHERE id = $1 RETURNING owner_epoch', [
      id,
      node,
    ]);
    if (!row) throw fail('space_not_found');
    return row.owner_epoch as number;
  }

  async owner(id: SpaceId): Promise<Fence | undefined> {
    const [row] = await this.query('SELECT owner_node, owner_epoch FROM spaces WHERE id = $1', [id]);
    return row?.owner_node ? { node: row.owner_node as string, epoch: row.owner_epoch as number } : undefined;
  }

  async listTallies(id: SpaceId): Promise<TallyPoint[]> {
    const rows = await this.query('SELECT at, listeners, reactions FROM space_tallies WHERE space_id = $1 ORDER BY at', [id]);
    return rows.map((r) => ({ at: Number(r.at), listeners: Number(r.listeners), reactions: r.reactions as Record<string, number> }));
  }

  async addReplayCounts(id: SpaceId, plays: number, downloads: number): Promise<void> {
    await this.query(
      `INSERT INTO replay_counts (space_id, plays, downloads) VALUES ($1, $2, $3)
       ON CONFLICT (space_id) DO UPDATE SET plays = replay_counts.plays + excluded.plays,
         downloads = replay_counts.downloads + excluded.downloads`,
      [id, plays, downloads],
    );
  }

  async replayCounts(id: SpaceId): Promise<{ plays: number; downloads: number }> {
    const [row] = await this.query('SELECT plays, downloads FROM replay_counts WHERE space_id = $1', [id]);
    return { plays: Number(row?.plays ?? 0), downloads: Number(row?.downloads ?? 0) };
  }

  async getHostFeed(host: Identity): Promise<HostFeed | undefined> {
    const [row] = await this.query('SELECT settings FROM host_feeds WHERE host_identity = $1', [host]);
    return row ? (row.settings as HostFeed) : undefined;
  }

  async putHostFeed(host: Identity, settings: HostFeed, at: number): Promise<void> {
    await this.query(
      `INSERT INTO host_feeds (host_identity, settings, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (host_identity) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
      [host, JSON.stringify(settings), at],
    );
  }

  async listActions(id: SpaceId, limit: number): Promise<ActionRecord[]> {
    const rows = await this.query('SELECT at, actor, action, target FROM actions WHERE space_id = $1 ORDER BY seq LIMIT $2', [id, limit]);
    return rows.map((r) => ({
      at: r.at as number,
      actor: r.actor as Identity,
      action: r.action as string,
      target: (r.target as Identity | null) ?? null,
    }));
  }

  async addReminder(id: SpaceId, identity: Identity, at: number): Promise<boolean> {
    const rows = await this.query(
      'INSERT INTO reminders (space_id, identity, registered_at) VALUES ($1, $2, $3) ON CONFLICT (space_id, identity) DO NOTHING RETURNING identity',
      [id, identity, at],
    );
    return rows.length === 1;
  }

  async removeReminder(id: SpaceId, identity: Identity): Promise<boolean> {
    return (
      (await this.query('DELETE FROM reminders WHERE space_id = $1 AND identity = $2 RETURNING identity', [id, identity])).length === 1
    );
  }

  async countReminders(id: SpaceId): Promise<number> {
    const [row] = await this.query('SELECT count(*)::int AS n FROM reminders WHERE space_id = $1', [id]);
    return row?.n as number;
  }

  async listReminders(id: SpaceId, limit: number, after = 0): Promise<Array<{ identity: Identity; at: number }>> {
    const rows = await this.query(
      'SELECT identity, registered_at FROM reminders WHERE space_id = $1 ORDER BY registered_at, identity LIMIT $2 OFFSET $3',
      [id, limit, after],
    );
    return rows.map((r) => ({ identity: r.identity as Identity, at: r.registered_at as number }));
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

async function putStage(c: pg.PoolClient, id: SpaceId, m: StageMember): Promise<void> {
  await c.query(
    `INSERT INTO stage_members (space_id, identity, name, role, muted, joined_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (space_id, identity) DO UPDATE SET name = excluded.name, role = excluded.role, muted = excluded.muted,
       joined_at = excluded.joined_at`,
    [id, m.identity, m.name, m.role, m.muted, m.joinedAt],
  );
}

async function apply(c: pg.PoolClient, id: SpaceId, op: StoreOp): Promise<void> {
  switch (op.op) {
    case 'space.update': {
      const entries = Object.entries(op.patch).filter(([, v]) => v !== undefined);
      if (entries.length === 0) return;
      const sets = entries.map(([k], i) => `${SPACE_COLUMNS[k as keyof SpacePatch]} = $${i + 1}`).join(', ');
      const values = entries.map(([, v]) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v));
      await c.query(`UPDATE spaces SET ${sets} WHERE id = $${entries.length + 1}`, [...values, id]);
      return;
    }
    case 'stage.put':
      return putStage(c, id, op.member);
    case 'stage.delete':
      await c.query('DELETE FROM stage_members WHERE space_id = $1 AND identity = $2', [id, op.identity]);
      return;
    case 'request.put':
      await c.query(
        `INSERT INTO stage_requests (space_id, identity, name, requested_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (space_id, identity) DO UPDATE SET name = excluded.name, requested_at = excluded.requested_at`,
        [id, op.request.identity, op.request.name, op.request.requestedAt],
      );
      return;
    case 'request.delete':
      await c.query('DELETE FROM stage_requests WHERE space_id = $1 AND identity = $2', [id, op.identity]);
      return;
    case 'invite.put':
      await c.query(
        `INSERT INTO invites (space_id, identity, invited_by, invited_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (space_id, identity) DO UPDATE SET invited_by = excluded.invited_by, invited_at = excluded.invited_at`,
        [id, op.invite.identity, op.invite.invitedBy, op.invite.invitedAt],
      );
      return;
    case 'invite.delete':
      await c.query('DELETE FROM invites WHERE space_id = $1 AND identity = $2', [id, op.identity]);
      return;
    case 'removal.put':
      await c.query(
        `INSERT INTO removals (space_id, identity, removed_by, removed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (space_id, identity) DO UPDATE SET removed_by = excluded.removed_by, removed_at = excluded.removed_at`,
        [id, op.removal.identity, op.removal.removedBy, op.removal.removedAt],
      );
      return;
    case 'demotion.put':
      await c.query(
        `INSERT INTO demotions (space_id, identity, at) VALUES ($1, $2, $3)
         ON CONFLICT (space_id, identity) DO UPDATE SET at = excluded.at`,
        [id, op.demotion.identity, op.demotion.at],
      );
      return;
    case 'action.append':
      await c.query('INSERT INTO actions (space_id, at, actor, action, target) VALUES ($1, $2, $3, $4, $5)', [
        id,
        op.action.at,
        op.action.actor,
        op.action.action,
        op.action.target,
      ]);
      return;
    case 'event.append':
      return appendEvent(c, op.event);
    case 'tally.append':
      await c.query('INSERT INTO space_tallies (space_id, at, listeners, reactions) VALUES ($1, $2, $3, $4)', [
        id,
        op.tally.at,
        op.tally.listeners,
        JSON.stringify(op.tally.reactions),
      ]);
      return;
  }
}
