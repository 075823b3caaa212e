/**
 * SpaceStore on SQLite (better-sqlite3): WAL journal with synchronous=FULL, so a write acknowledged
 * to a client has reached the disk and survives a kill -9 or a power cut. better-sqlite3 is
 * synchronous; each call takes microseconds, so the event loop is not held in any way that matters.
 */

import path from 'node:path';
import Database from 'better-sqlite3';
import { makeDataDir } from '../../control/data-dir.js';
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
import { appendEvent, SqliteWebhooks } from './sqlite-webhooks.js';

const toSpace = (r: Row): Space => spaceFromRow(r, { boolean: (v) => v === 1, json: (v) => JSON.parse(v as string) });

const sqlValue = (v: unknown): unknown => {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
};

export class SqliteSpaceStore implements SpaceStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmts;
  /** Why the database file is known to be damaged (PRAGMA quick_check at start, or an error since). */
  private damaged: string | undefined;
  readonly webhooks: SqliteWebhooks;

  constructor(file: string) {
    if (file !== ':memory:') makeDataDir(path.dirname(file));
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a committed transaction is on disk before the call returns (an acknowledged moderation
    // action is never lost), at the cost of an fsync per commit.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    // A damaged file is found at start (a quick check reads every page once; it does not check
    // indexes against their tables, which integrity_check would, at many times the cost).
    const check = this.db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') this.damaged = `quick_check: ${check}`;
    this.webhooks = new SqliteWebhooks(this.db, (call) => this.guard(call));
    const db = this.db;
    this.stmts = {
      insertSpace: db.prepare(
        `INSERT INTO spaces (id, title, host_identity, host_name, state, scheduled_start, started_at, ended_at,
           recording, created_at, updated_at, peak_listeners, total_listeners, reactions, auto_start)
         VALUES (@id, @title, @hostIdentity, @hostName, @state, @scheduledStart, @startedAt, @endedAt,
           @recording, @createdAt, @updatedAt, @peakListeners, @totalListeners, @reactions, @autoStart)`,
      ),
      getSpace: db.prepare('SELECT * FROM spaces WHERE id = ?'),
      stage: db.prepare('SELECT * FROM stage_members WHERE space_id = ? ORDER BY joined_at, identity'),
      requests: db.prepare('SELECT * FROM stage_requests WHERE space_id = ? ORDER BY requested_at, identity'),
      invites: db.prepare('SELECT * FROM invites WHERE space_id = ? ORDER BY invited_at, identity'),
      removals: db.prepare('SELECT * FROM removals WHERE space_id = ?'),
      demotions: db.prepare('SELECT * FROM demotions WHERE space_id = ?'),
      putStage: db.prepare(
        `INSERT INTO stage_members (space_id, identity, name, role, muted, joined_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (space_id, identity) DO UPDATE SET name = excluded.name, role = excluded.role,
           muted = excluded.muted, joined_at = excluded.joined_at`,
      ),
      deleteStage: db.prepare('DELETE FROM stage_members WHERE space_id = ? AND identity = ?'),
      putRequest: db.prepare('INSERT OR REPLACE INTO stage_requests (space_id, identity, name, requested_at) VALUES (?, ?, ?, ?)'),
      deleteRequest: db.prepare('DELETE FROM stage_requests WHERE space_id = ? AND identity = ?'),
      putInvite: db.prepare('INSERT OR REPLACE INTO invites (space_id, identity, invited_by, invited_at) VALUES (?, ?, ?, ?)'),
      deleteInvite: db.prepare('DELETE FROM invites WHERE space_id = ? AND identity = ?'),
      putRemoval: db.prepare('INSERT OR REPLACE INTO removals (space_id, identity, removed_by, removed_at) VALUES (?, ?, ?, ?)'),
      putDemotion: db.prepare('INSERT OR REPLACE INTO demotions (space_id, identity, at) VALUES (?, ?, ?)'),
      appendAction: db.prepare('INSERT INTO actions (space_id, at, actor, action, target) VALUES (?, ?, ?, ?, ?)'),
      actions: db.prepare('SELECT at, actor, action, target FROM actions WHERE space_id = ? ORDER BY seq LIMIT ?'),
      addReminder: db.prepare('INSERT OR IGNORE INTO reminders (space_id, identity, registered_at) VALUES (?, ?, ?)'),
      removeReminder: db.prepare('DELETE FROM reminders WHERE space_id = ? AND identity = ?'),
      countReminders: db.prepare('SELECT count(*) AS n FROM reminders WHERE space_id = ?'),
      listReminders: db.prepare(
        'SELECT identity, registered_at FROM reminders WHERE space_id = ? ORDER BY registered_at, identity LIMIT ? OFFSET ?',
      ),
      appendTally: db.prepare('INSERT INTO space_tallies (space_id, at, listeners, reactions) VALUES (?, ?, ?, ?)'),
      ping: db.prepare('SELECT 1'),
      epoch: db.prepare('SELECT owner_epoch FROM spaces WHERE id = ?'),
      claim: db.prepare('UPDATE spaces SET owner_epoch = owner_epoch + 1, owner_node = ? WHERE id = ? RETURNING owner_epoch'),
      owner: db.prepare('SELECT owner_node, owner_epoch FROM spaces WHERE id = ?'),
    };
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => r.version as number));
    MIGRATIONS.forEach((sql, index) => {
      const version = index + 1;
      if (applied.has(version)) return;
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
      })();
    });
  }

  async createSpace(space: Space, host: StageMember, events: readonly OutboxEvent[] = []): Promise<void> {
    return this.guard(() => {
      this.db.transaction(() => {
        this.stmts.insertSpace.run({
          ...space,
          recording: space.recording ? 1 : 0,
          autoStart: space.autoStart ? 1 : 0,
          reactions: JSON.stringify(space.reactions),
        });
        this.putStage(space.id, host);
        for (const event of events) appendEvent(this.db, event);
      })();
    });
  }

  async loadSpace(id: SpaceId): Promise<SpaceSnapshot | undefined> {
    return this.guard(() => {
      const row = this.stmts.getSpace.get(id) as Row | undefined;
      if (!row) return undefined;
      const rows = (stmt: Database.Statement) => stmt.all(id) as Row[];
      return {
        space: toSpace(row),
        stage: rows(this.stmts.stage).map((r) => ({
          identity: r.identity as Identity,
          name: r.name as string,
          role: r.role as StageMember['role'],
          muted: r.muted === 1,
          joinedAt: r.joined_at as number,
        })),
        requests: rows(this.stmts.requests).map((r) => ({
          identity: r.identity as Identity,
          name: r.name as string,
          requestedAt: r.requested_at as number,
        })),
        invites: rows(this.stmts.invites).map((r) => ({
          identity: r.identity as Identity,
          invitedBy: r.invited_by as Identity,
          invitedAt: r.invited_at as number,
        })),
        removals: rows(this.stmts.removals).map((r) => ({
          identity: r.identity as Identity,
          removedBy: r.removed_by as Identity,
          removedAt: r.removed_at as number,
        })),
        demotions: rows(this.stmts.demotions).map((r) => ({ identity: r.identity as Identity, at: r.at as number })),
      };
    });
  }

  async listSpaces(query: SpaceQuery): Promise<Space[]> {
    return this.guard(() => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.states && query.states.length > 0) {
        where.push(`state IN (${query.states.map(() => '?').join(', ')})`);
        params.push(...query.states);
      }
      if (query.hostIdentity !== undefined) {
        where.push('host_identity = ?');
        params.push(query.hostIdentity);
      }
      const sql = `SELECT * FROM spaces ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`;
      return (this.db.prepare(sql).all(...params, query.limit) as Row[]).map(toSpace);
    });
  }

  async commit(id: SpaceId, ops: readonly StoreOp[], fence?: Fence): Promise<void> {
    return this.guard(() => {
      this.db.transaction(() => {
        const row = this.stmts.epoch.get(id) as { owner_epoch: number } | undefined;
        if (!row) throw fail('space_not_found');
        if (fence && row.owner_epoch > fence.epoch) throw staleOwner(id, fence, row.owner_epoch);
        for (const op of ops) this.apply(id, op);
      })();
    });
  }

  async claim(id: SpaceId, node: string): Promise<number> {
    return this.guard(() => {
      const row = this.stmts.claim.get(node, id) as { owner_epoch: number } | undefined;
      if (!row) throw fail('space_not_found');
      return row.owner_epoch;
    });
  }

  async owner(id: SpaceId): Promise<Fence | undefined> {
    return this.guard(() => {
      const row = this.stmts.owner.get(id) as { owner_node: string | null; owner_epoch: number } | undefined;
      return row?.owner_node ? { node: row.owner_node, epoch: row.owner_epoch } : undefined;
    });
  }

  private putStage(id: SpaceId, m: StageMember): void {
    this.stmts.putStage.run(id, m.identity, m.name, m.role, m.muted ? 1 : 0, m.joinedAt);
  }

  private apply(id: SpaceId, op: StoreOp): void {
    const s = this.stmts;
    switch (op.op) {
      case 'space.update': {
        const entries = Object.entries(op.patch).filter(([, v]) => v !== undefined);
        if (entries.length === 0) return;
        const sets = entries.map(([k]) => `${SPACE_COLUMNS[k as keyof SpacePatch]} = ?`).join(', ');
        this.db.prepare(`UPDATE spaces SET ${sets} WHERE id = ?`).run(...entries.map(([, v]) => sqlValue(v)), id);
        return;
      }
      case 'stage.put':
        this.putStage(id, op.member);
        return;
      case 'stage.delete':
        s.deleteStage.run(id, op.identity);
        return;
      case 'request.put':
        s.putRequest.run(id, op.request.identity, op.request.name, op.request.requestedAt);
        return;
      case 'request.delete':
        s.deleteRequest.run(id, op.identity);
        return;
      case 'invite.put':
        s.putInvite.run(id, op.invite.identity, op.invite.invitedBy, op.invite.invitedAt);
        return;
      case 'invite.delete':
        s.deleteInvite.run(id, op.identity);
        return;
      case 'removal.put':
        s.putRemoval.run(id, op.removal.identity, op.removal.removedBy, op.removal.removedAt);
        return;
      case 'demotion.put':
        s.putDemotion.run(id, op.demotion.identity, op.demotion.at);
        return;
      case 'action.append':
        s.appendAction.run(id, op.action.at, op.action.actor, op.action.action, op.action.target);
        return;
      case 'event.append':
        appendEvent(this.db, op.event);
        return;
      case 'tally.append':
        s.appendTally.run(id, op.tally.at, op.tally.listeners, JSON.stringify(op.tally.reactions));
        return;
    }
  }

  async listActions(id: SpaceId, limit: number): Promise<ActionRecord[]> {
    return this.guard(() => {
      return (this.stmts.actions.all(id, limit) as Row[]).map((r) => ({
        at: r.at as number,
        actor: r.actor as Identity,
        action: r.action as string,
        target: (r.target as Identity | null) ?? null,
      }));
    });
  }

  async addReminder(id: SpaceId, identity: Identity, at: number): Promise<boolean> {
    return this.guard(() => {
      return this.stmts.addReminder.run(id, identity, at).changes === 1;
    });
  }

  async removeReminder(id: SpaceId, identity: Identity): Promise<boolean> {
    return this.guard(() => {
      return this.stmts.removeReminder.run(id, identity).changes === 1;
    });
  }

  async countReminders(id: SpaceId): Promise<number> {
    return this.guard(() => {
      return (this.stmts.countReminders.get(id) as { n: number }).n;
    });
  }
  async listReminders(id: SpaceId, limit: number, after = 0): Promise<Array<{ identity: Identity; at: number }>> {
    return this.guard(() => {
      return (this.stmts.listReminders.all(id, limit, after) as Row[]).map((r) => ({
        identity: r.identity as Identity,
        at: r.registered_at as number,
      }));
    });
  }

  async listTallies(id: SpaceId): Promise<TallyPoint[]> {
    return this.guard(() =>
      (this.db.prepare('SELECT at, listeners, reactions FROM space_tallies WHERE space_id = ? ORDER BY at').all(id) as Row[]).map((r) => ({
        at: r.at as number,
        listeners: r.listeners as number,
        reactions: JSON.parse(r.reactions as string) as Record<string, number>,
      })),
    );
  }

  async addReplayCounts(id: SpaceId, plays: number, downloads: number): Promise<void> {
    this.guard(() =>
      this.db
        .prepare(
          `INSERT INTO replay_counts (space_id, plays, downloads) VALUES (?, ?, ?)
           ON CONFLICT (space_id) DO UPDATE SET plays = plays + excluded.plays, downloads = downloads + excluded.downloads`,
        )
        .run(id, plays, downloads),
    );
  }

  async replayCounts(id: SpaceId): Promise<{ plays: number; downloads: number }> {
    return this.guard(() => {
      const row = this.db.prepare('SELECT plays, downloads FROM replay_counts WHERE space_id = ?').get(id) as Row | undefined;
      return { plays: (row?.plays as number) ?? 0, downloads: (row?.downloads as number) ?? 0 };
    });
  }

  async getHostFeed(host: Identity): Promise<HostFeed | undefined> {
    return this.guard(() => {
      const row = this.db.prepare('SELECT settings FROM host_feeds WHERE host_identity = ?').get(host) as Row | undefined;
      return row ? (JSON.parse(row.settings as string) as HostFeed) : undefined;
    });
  }

  async putHostFeed(host: Identity, settings: HostFeed, at: number): Promise<void> {
    this.guard(() =>
      this.db
        .prepare(
          `INSERT INTO host_feeds (host_identity, settings, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (host_identity) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
        )
        .run(host, JSON.stringify(settings), at),
    );
  }

  /** Fails while the database is known to be damaged (found at start, or by any statement since). */
  async ping(): Promise<void> {
    if (this.damaged) throw new Error(`the database file is damaged: ${this.damaged}`);
    this.guard(() => this.stmts.ping.get());
  }

  /**
   * Runs a call on the database, translating what the disk or the file can do to it into coded
   * errors: a full disk is storage_full (503, Retry-After) — the change was not made — and a damaged
   * file marks the store not ready (ping fails: /readyz) and answers store_unavailable, never a 500.
   */
  private guard<T>(call: () => T): T {
    try {
      return call();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'SQLITE_FULL') throw fail('storage_full', undefined, 5);
      if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_IOERR')) {
        this.damaged ??= `${code}: ${(err as Error).message}`;
        throw fail('store_unavailable', `The database file cannot be read or written (${code}).`, 5);
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
