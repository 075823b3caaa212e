/**
 * The data directory holds the API secret, the database and the recordings: only the user the
 * server runs as may read it. A new one is made 0700 (the credentials file inside is 0600); one
 * that other users can read or enter — made by hand, or by a version that did not say — is not
 * changed behind the operator's back (it may be their home or a shared mount) but named in a warning
 * at every start with the command that closes it, as PostgreSQL names a data directory's loose mode.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';

export const DATA_DIR_MODE = 0o700;

/** Makes the directory (and its parents) if it is missing, private. */
export function makeDataDir(dir: string): void {
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
}

/** The directory's permission bits for other users (and the group), when it has any. */
export function looseMode(dir: string): number | null {
  const mode = fs.statSync(dir).mode & 0o777;
  return mode & 0o077 ? mode : null;
}

export function warnIfLoose(dir: string, log: Logger): void {
  const mode = looseMode(dir);
  if (mode === null) return;
  log.warn(
    { dataDir: dir, mode: mode.toString(8) },
    `the data directory can be read by other users (mode ${mode.toString(8)}): it holds the API secret, the database and the recordings; run: chmod 700 ${JSON.stringify(dir)}`,
  );
}
