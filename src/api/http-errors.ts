/**
 * Turns anything thrown while handling a request into the one error shape
 * `{"error":{"code","message"}}` with a code from the registry. Fastify's own errors (bad JSON,
 * oversized bodies, wrong media types, schema failures) are mapped to our codes here.
 */

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, fail, RostrumError } from '../errors.js';
import { TEXT_LINE } from './validation.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fromValidation(err: FastifyError & { validation: AjvError[]; validationContext?: string }): RostrumError {
  const first = err.validation[0];
  const where = err.validationContext ?? 'request';
  if (where === 'params') return fail('invalid_id', `Malformed id in the path (${first?.instancePath.slice(1) || 'id'}).`);
  // The blocking-reload parameters of a playlist request (RFC 8216bis §6.2.5): the playlist's own code.
  if (where === 'querystring' && first?.instancePath.startsWith('/_HLS_')) {
    return fail('hls_bad_request', `${first.instancePath.slice(1)} ${first.message ?? 'is invalid'}.`);
  }
  if (first?.keyword === 'additionalProperties') {
    const field = String(first.params.additionalProperty);
    return fail('unknown_field', `${where}${first.instancePath} has an unknown field "${field}".`);
  }
  if (first?.keyword === 'format' && first.params.format === 'date-time') {
    return fail('invalid_time', `${where}${first.instancePath} must be an ISO-8601 date and time.`);
  }
  const path = `${where}${first?.instancePath ?? ''}`;
  if (first?.keyword === 'format' && first.params.format === TEXT_LINE) {
    return fail(
      'validation_failed',
      `${path} must be one line of visible text: not only white space, and no control characters (line breaks, tabs, NUL…), lone surrogates or noncharacters.`,
    );
  }
  return fail('validation_failed', `${path} ${first?.message ?? 'is invalid'}.`);
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
};

/** Maps any error to a RostrumError; unknown ones become internal_error (and are logged by the caller). */
export function toRostrumError(err: unknown): RostrumError {
  if (err instanceof RostrumError) return err;
  const e = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (e?.validation) return fromValidation(e as FastifyError & { validation: AjvError[] });
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return fail(mapped);
  if (e instanceof SyntaxError || e?.statusCode === 400) return fail('invalid_json');
  if (e?.statusCode === 413) return fail('body_too_large');
  if (e?.statusCode === 415) return fail('unsupported_media_type');
  return fail('internal_error');
}

export function sendError(reply: FastifyReply, err: RostrumError): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(Math.ceil(err.retryAfter)));
  return reply
    .code(err.status)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(err.toJSON()));
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const coded = toRostrumError(err);
  if (coded.status >= 500 && coded.code === 'internal_error') {
    request.log.error({ err, reqId: request.id, url: request.url }, 'request failed');
  }
  return sendError(reply, coded);
}
