/**
 * The operator's API key and secret. Configured through ROSTRUM_API_KEY / ROSTRUM_API_SECRET, or —
 * on the embedded default — generated on first start into `<data>/credentials.json` (mode 0600),
 * where the CLI on the same machine finds them.
 */

import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeDataDir } from './data-dir.js';
import { MIN_SECRET_LENGTH } from './tokens.js';

export interface Credentials {
  apiKey: string;
  apiSecret: string;
}

const FILE = 'credentials.json';

/**
 * A key for one purpose (waiting-room tickets, proof-of-work challenges), derived from the API
 * secret: every node with the same credentials derives the same key, and no purpose's key reveals
 * the secret or another purpose's key.
 */
export function deriveSecret(credentials: Credentials, purpose: string): Buffer {
  return createHmac('sha256', credentials.apiSecret).update(purpose).digest();
}

export function credentialsPath(dataDir: string): string {
  return path.join(dataDir, FILE);
}

function fromValues(apiKey: string | undefined, apiSecret: string | undefined): Credentials | undefined {
  if (apiKey === undefined && apiSecret === undefined) return undefined;
  if (!apiKey || !apiSecret) throw new Error('Set both ROSTRUM_API_KEY and ROSTRUM_API_SECRET, or neither.');
  if (apiSecret.length < MIN_SECRET_LENGTH) {
    throw new Error(`ROSTRUM_API_SECRET must be at least ${MIN_SECRET_LENGTH} characters.`);
  }
  return { apiKey, apiSecret };
}

function readFile(dataDir: string): Credentials | undefined {
  let text: string;
  try {
    text = fs.readFileSync(credentialsPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<Credentials>;
  const creds = fromValues(parsed.apiKey, parsed.apiSecret);
  if (!creds) throw new Error(`${credentialsPath(dataDir)} has no apiKey/apiSecret.`);
  return creds;
}

/** The server's view: configured values, else the data directory's file, else a new generated pair. */
export function resolveServerCredentials(dataDir: string, apiKey?: string, apiSecret?: string): Credentials {
  const configured = fromValues(apiKey, apiSecret);
  if (configured) return configured;
  const existing = readFile(dataDir);
  if (existing) return existing;
  const generated: Credentials = {
    apiKey: `RK${randomBytes(6).toString('hex')}`,
    apiSecret: randomBytes(32).toString('base64url'),
  };
  makeDataDir(dataDir);
  const tmp = `${credentialsPath(dataDir)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(generated, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, credentialsPath(dataDir));
  return generated;
}

/** The CLI's view: configured values, else the data directory's file; never generates. */
export function resolveClientCredentials(dataDir: string, apiKey?: string, apiSecret?: string): Credentials {
  const found = fromValues(apiKey, apiSecret) ?? readFile(dataDir);
  if (!found) {
    throw new Error(
      `No operator credentials: set ROSTRUM_API_KEY and ROSTRUM_API_SECRET, or pass --data pointing at the server's data directory (looked in ${credentialsPath(dataDir)}).`,
    );
  }
  return found;
}
