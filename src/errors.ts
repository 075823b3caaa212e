/**
 * The error registry: every error Rostrum reports has a stable string code, an HTTP status and a
 * default message. The API always answers `{"error":{"code","message"}}`. docs/errors.md lists every
 * code, and test/errors-doc.test.ts keeps the two in step.
 */

export const ERRORS = {
  // 400
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, message: 'The request does not match the schema.' },
  unknown_field: { status: 400, message: 'The request has a field this endpoint does not accept.' },
  replay_trim_empty: { status: 400, message: 'The trim leaves no audio: its start must come before its end, within the recording.' },
  invalid_id: { status: 400, message: 'An id in the path is malformed.' },
  bad_url: { status: 400, message: 'The URL is malformed (for example a broken %-escape).' },
  bad_request: { status: 400, message: 'The HTTP request is malformed.' },
  hls_too_far_ahead: { status: 400, message: 'The blocking playlist request asks for a segment more than two ahead of the live edge.' },
  hls_bad_request: {
    status: 400,
    message: 'The playlist request is malformed (for example _HLS_part without _HLS_msn, or an _HLS_msn that is not a whole number).',
  },
  invalid_time: { status: 400, message: 'A time is malformed or out of range.' },
  auto_start_needs_time: { status: 400, message: 'A space that starts by itself needs a scheduled start (scheduledStart).' },
  // 401
  token_missing: { status: 401, message: 'This request needs a bearer token.' },
  token_invalid: { status: 401, message: 'The token is malformed or its signature does not verify.' },
  token_expired: { status: 401, message: 'The token has expired.' },
  // 403
  permission_denied: { status: 403, message: 'Your role in this space may not do this.' },
  token_wrong_space: { status: 403, message: 'The token was issued for another space.' },
  identity_removed: { status: 403, message: 'This identity was removed from the space and may not rejoin.' },
  pow_required: {
    status: 403,
    message: 'Joins need a proof of work right now: solve GET /api/spaces/:id/challenge and join with it as "pow".',
  },
  pow_invalid: { status: 403, message: 'The proof of work does not verify (malformed, forged, wrong answer, or for another space).' },
  pow_expired: { status: 403, message: 'The proof-of-work challenge has expired; fetch a new one.' },
  ticket_invalid: { status: 403, message: 'The waiting-room ticket is not valid here (forged, altered, or for another space).' },
  ticket_expired: { status: 403, message: 'The waiting-room ticket has expired; join again for a new one.' },
  unmute_others_forbidden: { status: 403, message: 'Only the person themself may unmute.' },
  not_the_host: { status: 403, message: 'Only the identity that hosts this space may act as its host.' },
  // 404
  route_not_found: { status: 404, message: 'No such endpoint.' },
  space_not_found: { status: 404, message: 'No such space.' },
  participant_not_found: { status: 404, message: 'That identity is not on this stage.' },
  request_not_found: { status: 404, message: 'That identity has no pending request to speak.' },
  invite_not_found: { status: 404, message: 'There is no pending invitation for that identity.' },
  broadcast_not_found: { status: 404, message: 'This space has no broadcast (not live yet, or its recording was not kept).' },
  hls_object_not_found: { status: 404, message: 'No such part, segment or init segment (it may have left the live window).' },
  calendar_not_found: { status: 404, message: 'This space has no start time.' },
  recording_not_found: { status: 404, message: 'This space has no recording (not ended yet, or recording was off).' },
  feed_not_found: { status: 404, message: 'No spaces are hosted by that identity.' },
  webhook_not_found: { status: 404, message: 'No such webhook endpoint.' },
  delivery_not_found: { status: 404, message: 'No such webhook delivery.' },
  // 405
  method_not_allowed: { status: 405, message: 'This endpoint does not accept that method.' },
  // 409
  space_ended: { status: 409, message: 'The space has ended; it cannot be changed or restarted.' },
  pow_used: { status: 409, message: 'That proof of work was used already; each admits one join.' },
  ticket_used: { status: 409, message: 'The waiting-room ticket was used already; each admits one join.' },
  space_already_live: { status: 409, message: 'The space is already live.' },
  space_not_live: { status: 409, message: 'The space is not live.' },
  space_not_scheduled: { status: 409, message: 'The space is not scheduled.' },
  space_not_ended: { status: 409, message: 'A replay can be edited once its space has ended.' },
  stage_full: { status: 409, message: 'The stage already has the most speakers it allows.' },
  cohost_limit: { status: 409, message: 'The space already has the most co-hosts it allows.' },
  not_on_stage: { status: 409, message: 'That identity is not on the stage.' },
  request_queue_full: { status: 409, message: 'The request-to-speak queue is full; try again later.' },
  host_cannot_leave: { status: 409, message: 'The host stays on stage; end the space instead.' },
  invalid_target: { status: 409, message: 'That action does not apply to that participant.' },
  // 408
  request_timeout: { status: 408, message: 'The request did not arrive in time.' },
  // 413 / 415
  body_too_large: { status: 413, message: 'The request body is larger than allowed.' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json.' },
  // 426
  upgrade_required: { status: 426, message: 'This endpoint is a WebSocket: connect with an upgrade.' },
  // 431
  headers_too_large: { status: 431, message: 'The request headers are larger than allowed.' },
  // 429
  rate_limited: { status: 429, message: 'Too many requests; retry after the time given.' },
  connection_limit: {
    status: 429,
    message:
      'This address holds as many connections to the server as it may (ROSTRUM_ADDRESS_CONNECTIONS); close some, or retry after the time given.',
  },
  // 5xx
  internal_error: { status: 500, message: 'Something went wrong on the server.' },
  not_ready: { status: 503, message: 'The server is not ready to serve this request.' },
  hls_not_ready: { status: 503, message: 'The requested part is not out yet; retry the playlist request.' },
  recording_pending: { status: 503, message: 'The recording is being made; retry shortly.' },
  broadcast_starting: {
    status: 503,
    message: 'The space is live and its broadcast is starting on this node (it just went live, or was taken over); retry shortly.',
  },
  overloaded: { status: 503, message: 'The server is busy; retry after the time given.' },
  shutting_down: { status: 503, message: 'The server is shutting down; retry on another node.' },
  stale_owner: { status: 503, message: 'This node no longer owns the space (another took it over); retry, and the new owner answers.' },
  cluster_unavailable: {
    status: 503,
    message:
      'Which node runs this space cannot be known now (the shared Redis does not answer) and this node does not run it; retry after the time given.',
  },
  store_unavailable: {
    status: 503,
    message: 'The database does not answer; a change that must be durable cannot be made now. Retry after the time given.',
  },
  storage_full: {
    status: 503,
    message: "The server's disk is full; the change was not made. Retry after the time given.",
  },
  rtc_unavailable: {
    status: 503,
    message: 'No WebRTC session could be opened: every port of ROSTRUM_RTC_PORT_RANGE is in use, or the port could not be bound; retry.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class RostrumError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, retryAfter?: number) {
    super(message ?? ERRORS[code].message);
    this.name = 'RostrumError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfter = retryAfter;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Creates the coded error; throw it from anywhere and the API layer turns it into the response. */
export function fail(code: ErrorCode, message?: string, retryAfter?: number): RostrumError {
  return new RostrumError(code, message, retryAfter);
}
