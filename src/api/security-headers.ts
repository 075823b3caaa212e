/**
 * Headers every response carries, and those every HTML page carries. Constant strings, set with
 * one call each: the part and playlist paths answer thousands of requests a second, so nothing
 * here is computed per request. (@fastify/helmet was the library for the page headers, but it adds
 * two onRequest hooks to every route of the app, one of them async — a promise per request, parts
 * included — and builds helmet's middleware again on each request; the pages need six constants.)
 */
import type { FastifyReply } from 'fastify';

/**
 * The pages' Content-Security-Policy: only this origin's own scripts, styles and connections, and
 * no framing. What the web app needs, proven in Chromium by test/web-app.test.ts (no violation on
 * the home page, the lobby, a live listen page playing, the host console and the replay):
 * - scripts and styles: Vite's built files only — no inline script or style element is emitted
 *   (Preact's style props go through CSSOM, which CSP does not govern);
 * - `media-src blob:`: hls.js plays through Media Source Extensions, whose URL is a blob:;
 * - `worker-src blob:`: hls.js may start its transmuxer as a worker from a blob: URL;
 * - `connect-src 'self'`: the API, the broadcast (hls.js fetches it) and the stage's `/rtc`
 *   WebSocket (CSP Level 3: 'self' also matches ws:/wss: on the same host and port);
 * - WebCrypto (the join's proof of work) and WebRTC need no directive;
 * - `frame-ancestors 'none'`: the host console's URL carries its token (in the fragment), so no
 *   other site may frame the pages and trick a host into clicking (clickjacking).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Set on every HTML page (the app's shell and the error pages). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  // For browsers without frame-ancestors.
  'x-frame-options': 'DENY',
  // The pages link to nothing outside the origin that needs to know where a visitor came from, and
  // a share page's URL names a space that may be unlisted: send no Referer anywhere.
  'referrer-policy': 'no-referrer',
  // A page that opened the host console (window.open) gets no handle on it.
  'cross-origin-opener-policy': 'same-origin',
  // The microphone is for the stage, on these pages only; nothing here needs the rest.
  'permissions-policy': 'microphone=(self), camera=(), geolocation=(), payment=()',
};

/** Paths whose answers other origins may read (the public API and the broadcast): see cors.ts. */
function crossOrigin(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/hls/') || url.startsWith('/feeds/');
}

/**
 * Headers any client may need to read cross-origin beyond the CORS-safelisted ones: Retry-After on
 * 429/503/202 (a player or page must honour it) and the state document's ETag.
 */
export const EXPOSED_HEADERS = 'Retry-After, ETag, Content-Range, Accept-Ranges';

/** The headers of every response Fastify answers, set as it starts on the request (the join lane writes LANE_HEADERS). */
export function setResponseHeaders(url: string, reply: FastifyReply): void {
  // No content-type guessing by browsers: a JSON error is never run as a script, an m3u8 never as HTML.
  reply.header('x-content-type-options', 'nosniff');
  if (crossOrigin(url)) {
    // No cookie or other ambient credential is used anywhere (bearer tokens only), so any origin may
    // read these answers: a page on another site can only do what its own token allows.
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
  }
}

/** The same headers, as the join lane writes them with its answer. */
export const LANE_HEADERS: readonly string[] = [
  'x-content-type-options',
  'nosniff',
  'access-control-allow-origin',
  '*',
  'access-control-expose-headers',
  EXPOSED_HEADERS,
];
