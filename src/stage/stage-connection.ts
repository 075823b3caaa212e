/**
 * One `/rtc` WebSocket: it must authenticate first (a token for the space, within AUTH_DEADLINE_MS),
 * then may ping; every message is size-capped, rate-limited and schema-checked. Bad input gets a
 * coded error and the connection survives; only policy breaches (no auth, a sustained flood) close it.
 */
import type { ValidateFunction } from 'ajv';
import type { WebSocket } from 'ws';
import type { NodeInfo } from '../cluster/node-identity.js';
import type { Actor } from '../control/actor.js';
import { ERRORS, type ErrorCode, RostrumError } from '../errors.js';
import type { SpaceId } from '../ids.js';
import { AUTH_DEADLINE_MS, CLOSE, type ClientMessage, type ServerMessage } from './protocol.js';

export interface ConnectionHandlers {
  /**
   * Checks the token; resolves with the actor and the space, or throws a coded error — or, when
   * another node runs the space, with that node: the socket is then handed to `bridge`.
   */
  authenticate(token: string, space: string | undefined): Promise<{ actor: Actor; spaceId: SpaceId } | { bridgeTo: NodeInfo }>;
  /** Passes the socket, from its auth message on, to the node that runs its space (rtc-bridge.ts). */
  bridge(socket: WebSocket, owner: NodeInfo, firstMessage: string): void;
  /** Called once authenticated (send the welcome); and once closed. */
  joined(connection: StageConnection): void;
  left(connection: StageConnection): void;
  /** An error that is not one of ours: log it (it is also answered as internal_error). */
  unexpected(err: unknown, connection: StageConnection): void;
  /** Answers a speaker's SDP offer; resolves with the answer, or throws a coded error. */
  offer(connection: StageConnection, sdp: string): Promise<string>;
  /** A trickled ICE candidate for the current offer; rejects with a coded error. */
  candidate(connection: StageConnection, candidate: CandidateMessage): Promise<void>;
}

export type CandidateMessage = Extract<ClientMessage, { type: 'candidate' }>;

/** Token bucket: `burst` messages at once, refilled at `perSecond`. */
const RATE = { burst: 40, perSecond: 20 } as const;
/** Refusals in a row before a flood is treated as abuse and the socket closed. */
const MAX_REFUSALS = 100;

export class StageConnection {
  actor: Actor | undefined;
  spaceId: SpaceId | undefined;
  private tokens: number = RATE.burst;
  private refilledAt = Date.now();
  private refusals = 0;
  private authTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly validate: ValidateFunction<ClientMessage>,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.authTimer = setTimeout(() => this.close(CLOSE.policy, 'authenticate first'), AUTH_DEADLINE_MS);
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on('close', () => this.onClosed());
    socket.on('error', () => this.close(CLOSE.policy, 'socket error'));
  }

  send(message: ServerMessage): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify(message));
  }

  sendError(code: ErrorCode, message?: string): void {
    this.send({ type: 'error', error: { code, message: message ?? ERRORS[code].message } });
  }

  /** Idempotent. */
  close(code: number = CLOSE.normal, reason = ''): void {
    if (this.closed) return;
    this.socket.close(code, reason);
    this.onClosed();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.authTimer);
    this.handlers.left(this);
  }

  private allow(): boolean {
    const now = Date.now();
    this.tokens = Math.min(RATE.burst, this.tokens + ((now - this.refilledAt) / 1000) * RATE.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    const checked = this.check(data, isBinary);
    if (checked.kind === 'flood') this.close(CLOSE.policy, 'message flood');
    else if (checked.kind === 'refused') this.sendError(checked.code, checked.message);
    else this.dispatch(checked.message);
  }

  /** Rate, type and schema checks. */
  private check(
    data: Buffer,
    isBinary: boolean,
  ): { kind: 'ok'; message: ClientMessage } | { kind: 'refused'; code: ErrorCode; message: string } | { kind: 'flood' } {
    if (!this.allow()) {
      if (++this.refusals >= MAX_REFUSALS) return { kind: 'flood' };
      return { kind: 'refused', code: 'rate_limited', message: 'Too many messages; slow down.' };
    }
    this.refusals = 0;
    if (isBinary) return { kind: 'refused', code: 'validation_failed', message: 'Messages are JSON text.' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return { kind: 'refused', code: 'invalid_json', message: ERRORS.invalid_json.message };
    }
    if (!this.validate(parsed)) {
      const first = this.validate.errors?.[0];
      const where = first?.instancePath || '/';
      return { kind: 'refused', code: 'validation_failed', message: `Not a known message: ${where} ${first?.message ?? ''}`.trim() };
    }
    return { kind: 'ok', message: parsed };
  }

  /** Sends a thrown error as a coded error message; an unexpected one is reported as well. */
  private report(err: unknown): RostrumError {
    const coded = err instanceof RostrumError ? err : new RostrumError('internal_error');
    if (!(err instanceof RostrumError)) this.handlers.unexpected(err, this);
    this.sendError(coded.code, coded.message);
    return coded;
  }

  private dispatch(message: ClientMessage): void {
    if (message.type !== 'auth' && !this.actor) {
      this.sendError('token_missing', 'Authenticate first.');
      return;
    }
    switch (message.type) {
      case 'auth':
        if (this.actor) {
          this.sendError('validation_failed', 'Already authenticated.');
          return;
        }
        this.handlers.authenticate(message.token, message.space).then(
          (result) => {
            if (this.closed) return;
            clearTimeout(this.authTimer);
            if ('bridgeTo' in result) {
              // Another node runs the space: this connection steps aside and the bridge carries the socket.
              this.closed = true;
              this.socket.removeAllListeners('message');
              this.socket.removeAllListeners('close');
              this.socket.removeAllListeners('error');
              this.handlers.bridge(this.socket, result.bridgeTo, JSON.stringify(message));
              return;
            }
            this.actor = result.actor;
            this.spaceId = result.spaceId;
            this.handlers.joined(this);
          },
          (err: unknown) => this.close(CLOSE.policy, this.report(err).code),
        );
        return;
      case 'offer':
        this.handlers.offer(this, message.sdp).then(
          (sdp) => this.send({ type: 'answer', sdp }),
          (err: unknown) => this.report(err),
        );
        return;
      case 'candidate':
        this.handlers.candidate(this, message).catch((err: unknown) => this.report(err));
        return;
      case 'ping':
        this.send({ type: 'pong', t: message.t, serverTime: Date.now() });
        return;
    }
  }
}
