/**
 * The CLI's view of a running server: its URL (--server, ROSTRUM_URL, default
 * http://127.0.0.1:8080) and an operator token minted from the local credentials.
 */
import { resolveClientCredentials } from '../control/credentials.js';
import { createToken } from '../control/tokens.js';

export interface ClientOptions {
  server?: string;
  data?: string;
}

/** A failure the CLI reports as one line on stderr. */
export class CliError extends Error {}

/** The server URL from --server, ROSTRUM_URL or the default; checked. (Listening needs no credentials.) */
export function serverUrl(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): string {
  const server = (options.server ?? env.ROSTRUM_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`--server "${server}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server must be http(s), got ${url.protocol}`);
  return server;
}

export class ApiClient {
  readonly server: string;
  private readonly token: string;

  constructor(options: ClientOptions, env: NodeJS.ProcessEnv = process.env) {
    this.server = serverUrl(options, env);
    let creds: { apiKey: string; apiSecret: string };
    try {
      creds = resolveClientCredentials(options.data ?? env.ROSTRUM_DATA ?? './data', env.ROSTRUM_API_KEY, env.ROSTRUM_API_SECRET);
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    this.token = createToken({ ...creds, identity: 'operator', name: 'Operator', operator: true, ttlSeconds: 300 });
  }

  /** Calls the API as the operator, or with `asToken` (a participant's token) when given. */
  async request<T>(method: string, path: string, body?: unknown, asToken?: string): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${asToken ?? this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the Rostrum server at ${this.server} (${cause}); start it with "rostrum serve" or set --server`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`${method} ${path}: HTTP ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new CliError(`${error?.code ?? `http_${response.status}`}: ${error?.message ?? response.statusText}`);
    }
    return parsed as T;
  }
}
