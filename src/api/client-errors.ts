/**
 * Answers to requests Node cannot hand to Fastify — a request line or header it cannot parse (400),
 * headers over its size limit (431), a request whose headers and body did not arrive within the
 * request timeout (408: a body sent a byte at a time) — in the API's error shape, like every other
 * error, then the connection closes. Fastify's own answer to these has another shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type ErrorCode, fail, type RostrumError } from '../errors.js';

function codeOf(err: NodeJS.ErrnoException): ErrorCode {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  return 'bad_request';
}

/** Fastify's `clientErrorHandler`: the coded answer where one can still be written. */
export function clientErrorHandler(log: Logger): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // A reset connection, or one already gone: nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const coded = fail(codeOf(err));
    // Noise any client on the internet can make: debug, never an error line per peer.
    log.debug({ code: coded.code, reason: err.code }, 'client error before routing');
    // As Node does: no answer over one already begun on this socket.
    const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !current?.headersSent) socket.write(rawErrorAnswer(coded));
    socket.destroy();
  };
}

/** A whole HTTP/1.1 answer carrying a coded error, written straight to a socket (the connection then closes). */
export function rawErrorAnswer(coded: RostrumError): string {
  const body = JSON.stringify({ error: { code: coded.code, message: coded.message } });
  const retry = coded.retryAfter !== undefined ? `Retry-After: ${coded.retryAfter}\r\n` : '';
  return (
    `HTTP/1.1 ${coded.status} ${STATUS_CODES[coded.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`
  );
}
