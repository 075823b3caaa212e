/**
 * The app's side of the Rostrum API: JSON calls with the one error shape, tokens kept per space for
 * the tab (sessionStorage), and retry delays with full jitter that honour Retry-After, so a crowd of
 * pages never retries in step.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait, from Retry-After. */
    readonly retryAfter: number | undefined,
  ) {
    super(message);
  }
}

export async function api<T = unknown>(method: string, path: string, options: { token?: string | null; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const error = (parsed as { error?: { code: string; message: string } } | undefined)?.error;
    const retryAfter = Number(response.headers.get('retry-after')) || undefined;
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? response.statusText, retryAfter);
  }
  return parsed as T;
}

/** Next wait before a retry: full jitter over an exponential ceiling, never less than Retry-After. */
export function retryDelay(attempt: number, err?: unknown, baseMs = 500, capMs = 30_000): number {
  const jitter = Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
  const after = err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : 0;
  return Math.max(after, jitter);
}

export interface Claims {
  sub: string;
  name?: string;
  role?: string;
  space?: string;
  operator?: boolean;
  exp?: number;
}

/** The payload of a token, read without checking it (the server checks; the page only needs the identity). */
export function claimsOf(token: string | null): Claims | null {
  if (!token) return null;
  try {
    const part = token.split('.')[1] ?? '';
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Claims;
  } catch {
    return null;
  }
}

const key = (space: string) => `rostrum:token:${space}`;

/** The token this tab holds for a space: from the link (`#token=`), else from earlier in the tab. */
export function spaceToken(space: string): string | null {
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromLink) {
    sessionStorage.setItem(key(space), fromLink);
    history.replaceState(null, '', location.pathname + location.search);
    return fromLink;
  }
  const held = sessionStorage.getItem(key(space));
  const claims = claimsOf(held);
  if (held && claims?.exp && claims.exp * 1000 < Date.now()) {
    sessionStorage.removeItem(key(space));
    return null;
  }
  return held;
}

export function keepToken(space: string, token: string): void {
  sessionStorage.setItem(key(space), token);
}

const tagKey = (space: string, identity: string) => `rostrum:invite-tag:${space}:${identity}`;

/** This tab's invite tag for a space and identity, once known (the join answer says it). */
export function heldInviteTag(space: string, identity: string): string | null {
  return sessionStorage.getItem(tagKey(space, identity));
}

export function keepInviteTag(space: string, identity: string, tag: string): void {
  sessionStorage.setItem(tagKey(space, identity), tag);
}

export const OPERATOR_KEY = 'rostrum:operator';
