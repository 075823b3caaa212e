/**
 * The SQLite schema as numbered migrations. Each runs once, in its own transaction, recorded in
 * schema_migrations; add new ones at the end and never edit an applied one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE spaces (
     id TEXT PRIMARY KEY,
     title TEXT NOT NULL,
     host_identity TEXT NOT NULL,
     host_name TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
     scheduled_start INTEGER,
     started_at INTEGER,
     ended_at INTEGER,
     recording INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     peak_listeners INTEGER NOT NULL DEFAULT 0,
     total_listeners INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX spaces_state ON spaces (state, created_at);
   CREATE TABLE stage_members (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('host', 'cohost', 'speaker')),
     muted INTEGER NOT NULL,
     joined_at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE stage_requests (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     name TEXT NOT NULL,
     requested_at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE invites (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     invited_by TEXT NOT NULL,
     invited_at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE removals (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     removed_by TEXT NOT NULL,
     removed_at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE demotions (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE reminders (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     registered_at INTEGER NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE actions (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     space_id TEXT NOT NULL REFERENCES spaces (id),
     at INTEGER NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT
   );
   CREATE INDEX actions_space ON actions (space_id, seq);`,
  `ALTER TABLE spaces ADD COLUMN reactions TEXT NOT NULL DEFAULT '{}';`,
  `ALTER TABLE spaces ADD COLUMN owner_node TEXT;
   ALTER TABLE spaces ADD COLUMN owner_epoch INTEGER NOT NULL DEFAULT 0;`,
  // 4: a space may go live by itself at its scheduled start (control/auto-start.ts).
  `ALTER TABLE spaces ADD COLUMN auto_start INTEGER NOT NULL DEFAULT 0;`,
];
