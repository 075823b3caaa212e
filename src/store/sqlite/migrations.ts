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
  // 5: webhooks — endpoints, the outbox of events (in the transaction of their change) and deliveries.
  `ALTER TABLE spaces ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE webhook_endpoints (
     id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     events TEXT NOT NULL,
     secret TEXT NOT NULL,
     description TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     space_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     type TEXT NOT NULL,
     occurred_at INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE TABLE webhook_deliveries (
     id TEXT PRIMARY KEY,
     event_id TEXT NOT NULL REFERENCES webhook_events (id),
     endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
     state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER,
     retry_from INTEGER NOT NULL,
     lease_node TEXT,
     lease_until INTEGER,
     last_status INTEGER,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     delivered_at INTEGER
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
   CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
   CREATE TABLE webhook_attempts (
     delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
     at INTEGER NOT NULL,
     status INTEGER,
     error TEXT,
     duration_ms INTEGER NOT NULL,
     node TEXT NOT NULL
   );
   CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);`,
  // 6: a host's podcast settings (control/host-feed.ts), as JSON.
  `CREATE TABLE host_feeds (host_identity TEXT PRIMARY KEY, settings TEXT NOT NULL, updated_at INTEGER NOT NULL);`,
  // 7: the link a host or co-host pinned for listeners (JSON), kept with the replay.
  `ALTER TABLE spaces ADD COLUMN pinned_link TEXT;`,
  // 8: analytics — the audience at each tally, and the replay's plays and downloads.
  `CREATE TABLE space_tallies (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     at INTEGER NOT NULL,
     listeners INTEGER NOT NULL,
     reactions TEXT NOT NULL
   );
   CREATE INDEX space_tallies_space ON space_tallies (space_id, at);
   CREATE TABLE replay_counts (space_id TEXT PRIMARY KEY, plays INTEGER NOT NULL, downloads INTEGER NOT NULL);`,
  // 9: where the host trimmed the replay (JSON: start and end, seconds; broadcast/replay-trim.ts).
  `ALTER TABLE spaces ADD COLUMN replay_trim TEXT;`,
];
