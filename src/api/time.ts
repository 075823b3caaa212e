import { fail } from '../errors.js';

/** Parses an ISO-8601 time from the API into epoch ms; the schema already checked its shape. */
export function parseTime(value: string, field: string): number {
  const ms = Date.parse(value);
  // Years 2000–9999: anything else is a typo, not a schedule.
  if (!Number.isFinite(ms) || ms < 946684800000 || ms > 253402300799999) {
    throw fail('invalid_time', `${field} must be an ISO-8601 time between 2000 and 9999.`);
  }
  return ms;
}
