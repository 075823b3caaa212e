/**
 * The PostgreSQL schema as numbered migrations. Each runs once, in one transaction with the others of
 * a start, recorded in schema_migrations; nodes starting at once take turns on an advisory lock, so
 * each migration runs exactly once. Add new ones at the end and never edit an applied one.
 * Times are epoch milliseconds (BIGINT), as everywhere inside Rostrum.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE spaces (
     id TEXT PRIMARY KEY,
     title TEXT NOT NULL,
     host_identity TEXT NOT NULL,
     host_name TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
     scheduled_start BIGINT,
     started_at BIGINT,
     ended_at BIGINT,
     recording BOOLEAN NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     peak_listeners INTEGER NOT NULL DEFAULT 0,
     total_listeners INTEGER NOT NULL DEFAULT 0,
     reactions JSONB NOT NULL DEFAULT '{}',
     owner_node TEXT,
     owner_epoch BIGINT NOT NULL DEFAULT 0
   );
   CREATE INDEX spaces_state ON spaces (state, created_at);
   CREATE INDEX spaces_host ON spaces (host_identity, created_at);
   CREATE TABLE stage_members (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('host', 'cohost', 'speaker')),
     muted BOOLEAN NOT NULL,
     joined_at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE stage_requests (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     name TEXT NOT NULL,
     requested_at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE invites (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     invited_by TEXT NOT NULL,
     invited_at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE removals (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     removed_by TEXT NOT NULL,
     removed_at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE demotions (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE reminders (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     identity TEXT NOT NULL,
     registered_at BIGINT NOT NULL,
     PRIMARY KEY (space_id, identity)
   );
   CREATE TABLE actions (
     seq BIGSERIAL PRIMARY KEY,
     space_id TEXT NOT NULL REFERENCES spaces (id),
     at BIGINT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT
   );
   CREATE INDEX actions_space ON actions (space_id, seq);`,
  // 2: recordings (store/postgres/pg-recordings.ts). Audio is stored as it is (EXTERNAL: AAC does not
  // compress, and range reads of an uncompressed value are cheap). No foreign keys to spaces: a
  // recording's rows are written by its owner while the space's row is being committed elsewhere.
  `CREATE TABLE recording_inits (
     space_id TEXT NOT NULL,
     run INTEGER NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (space_id, run)
   );
   CREATE TABLE recording_segments (
     space_id TEXT NOT NULL,
     msn INTEGER NOT NULL,
     record JSONB NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (space_id, msn)
   );
   ALTER TABLE recording_segments ALTER COLUMN data SET STORAGE EXTERNAL;
   CREATE TABLE recordings (
     space_id TEXT PRIMARY KEY,
     state TEXT NOT NULL CHECK (state IN ('making', 'ready')),
     updated_at BIGINT NOT NULL,
     duration DOUBLE PRECISION,
     bytes BIGINT,
     created_at BIGINT,
     chunks INTEGER
   );
   CREATE TABLE recording_chunks (
     space_id TEXT NOT NULL,
     chunk INTEGER NOT NULL,
     data BYTEA NOT NULL,
     PRIMARY KEY (space_id, chunk)
   );
   ALTER TABLE recording_chunks ALTER COLUMN data SET STORAGE EXTERNAL;`,
  // 3: a space may go live by itself at its scheduled start (control/auto-start.ts).
  `ALTER TABLE spaces ADD COLUMN auto_start BOOLEAN NOT NULL DEFAULT false;
   CREATE INDEX spaces_auto_start ON spaces (scheduled_start) WHERE auto_start AND state = 'scheduled';`,
  // 4: webhooks — endpoints, the outbox of events (in the transaction of their change) and deliveries.
  `ALTER TABLE spaces ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
   CREATE TABLE webhook_endpoints (
     id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     events TEXT NOT NULL,
     secret TEXT NOT NULL,
     description TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     space_id TEXT NOT NULL,
     seq BIGINT NOT NULL,
     type TEXT NOT NULL,
     occurred_at BIGINT NOT NULL,
     data JSONB NOT NULL
   );
   CREATE TABLE webhook_deliveries (
     id TEXT PRIMARY KEY,
     event_id TEXT NOT NULL REFERENCES webhook_events (id),
     endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
     state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at BIGINT,
     retry_from BIGINT NOT NULL,
     lease_node TEXT,
     lease_until BIGINT,
     last_status INTEGER,
     last_error TEXT,
     created_at BIGINT NOT NULL,
     delivered_at BIGINT
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
   CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
   CREATE TABLE webhook_attempts (
     delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
     at BIGINT NOT NULL,
     status INTEGER,
     error TEXT,
     duration_ms INTEGER NOT NULL,
     node TEXT NOT NULL
   );
   CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);`,
  // 5: a host's podcast settings (control/host-feed.ts).
  `CREATE TABLE host_feeds (host_identity TEXT PRIMARY KEY, settings JSONB NOT NULL, updated_at BIGINT NOT NULL);`,
  // 6: the link a host or co-host pinned for listeners, kept with the replay.
  `ALTER TABLE spaces ADD COLUMN pinned_link JSONB;`,
  // 7: analytics — the audience at each tally, and the replay's plays and downloads.
  `CREATE TABLE space_tallies (
     space_id TEXT NOT NULL REFERENCES spaces (id),
     at BIGINT NOT NULL,
     listeners INTEGER NOT NULL,
     reactions JSONB NOT NULL
   );
   CREATE INDEX space_tallies_space ON space_tallies (space_id, at);
   CREATE TABLE replay_counts (space_id TEXT PRIMARY KEY, plays BIGINT NOT NULL, downloads BIGINT NOT NULL);`,
  // 8: where the host trimmed the replay (start and end, seconds; broadcast/replay-trim.ts).
  `ALTER TABLE spaces ADD COLUMN replay_trim JSONB;`,
];
