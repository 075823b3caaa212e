/**
 * What every PostgreSQL client of Rostrum shares: a pool that fails fast (connect timeout 2 s,
 * queries 5 s) and survives the database restarting, BIGINTs read as numbers, and the line between
 * "the database is away" (the coded 503 store_unavailable, Retry-After) and a rejected statement.
 */
import pg from 'pg';
import { fail, RostrumError } from '../../errors.js';

/** BIGINT comes back as a number: every BIGINT here is epoch milliseconds or an epoch, far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function openPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 2000,
    query_timeout: 5000,
    idleTimeoutMillis: 30_000,
    types: TYPES,
  });
  // An idle client losing its connection (the database restarting) is not a crash: it is replaced.
  pool.on('error', () => {});
  return pool;
}

/** Errors that mean the database is away (not that the request was wrong): connection refused or lost, timeouts, shutdown. */
export function unavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (
    typeof e.code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|57P0[1-3]|08\w{3}|53300)$/.test(e.code)
  )
    return true;
  return /timeout|Connection terminated|connect ECONN|Client has encountered a connection error/i.test(e.message ?? '');
}

/** Database trouble as the coded 503; a RostrumError (a decision) or a rejected statement as it is. */
export function translate(err: unknown): unknown {
  if (err instanceof RostrumError) return err;
  if (unavailable(err)) return fail('store_unavailable', `The database does not answer: ${(err as Error).message}`, 2);
  // 53100 disk_full: the database cannot take the change now (nothing was written).
  if ((err as { code?: string }).code === '53100') return fail('storage_full', undefined, 5);
  return err;
}
