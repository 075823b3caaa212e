/**
 * The HTTP application: Fastify with strict JSON parsing, schema validation, one error shape (an
 * error page for a browser that asked for a page), 405s for known paths with the wrong method and
 * OPTIONS answered for CORS preflights, the headers of every response, compression where a route
 * asks, per-route metrics, the untrusted-proxy watch, OpenAPI, and every route plugin.
 */
import { createServer, type ServerOptions } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerFactory,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import secureJson from 'secure-json-parse';
import { nodeKey } from '../cluster/node-identity.js';
import { fail } from '../errors.js';
import { clientErrorHandler } from './client-errors.js';
import { registerCompression } from './compression.js';
import { ConnectionCap } from './connection-cap.js';
import { registerPreflight } from './cors.js';
import type { ApiDeps } from './deps.js';
import { registerForwarding } from './forward.js';
import { errorHandler, sendError } from './http-errors.js';
import { createJoinLane, type JoinLane } from './join-lane.js';
import { type PressureLimits, registerLanes } from './lanes.js';
import { MethodTable } from './method-table.js';
import { PageShell, wantsHtml } from './page-shell.js';
import { ProxyWatch } from './proxy-watch.js';
import { type RateLimits, registerRateLimits } from './rate-limits.js';
import { analyticsRoutes } from './routes/analytics.js';
import { audienceRoutes } from './routes/audience.js';
import { broadcastRoutes } from './routes/broadcast.js';
import { hostRoutes } from './routes/hosts.js';
import { listenRoutes } from './routes/listen.js';
import { opsRoutes } from './routes/ops.js';
import { pageRoutes } from './routes/pages.js';
import { replayRoutes } from './routes/replay.js';
import { spaceRoutes } from './routes/spaces.js';
import { stageRoutes } from './routes/stage.js';
import { webhookRoutes } from './routes/webhooks.js';
import { setResponseHeaders } from './security-headers.js';
import { validatorCompiler } from './validation.js';

export interface AppOptions {
  logger: Logger;
  bodyLimit: number;
  /** How long a request's headers and body may take to arrive, ms (default 30,000; config.ts). */
  requestTimeoutMs?: number;
  /** When to shed load, by lane (see lanes.ts). */
  pressure: PressureLimits;
  /** Per-address and per-token limits on writes (see rate-limits.ts). */
  limits: RateLimits;
  /** Proxies (edges) whose X-Forwarded-For is believed, so per-address limits see listeners, not the edge. */
  trustProxy: string[];
  /** Connections one client address may hold open at once (connection-cap.ts); 0 = no cap. */
  addressConnections?: number;
  /** True from the start of shutdown: /readyz answers 503 so balancers stop sending traffic. */
  isDraining: () => boolean;
  /** True once the server stops taking requests: new ones get a coded 503 (liveness still answers). */
  isClosing: () => boolean;
}

/** Fastify's default keep-alive, ms (longer than the usual proxy's, so the proxy closes first). */
const KEEP_ALIVE_MS = 72_000;

/**
 * The HTTP server, as Fastify would make it, with the join lane (join-lane.ts) in front of
 * Fastify's handler: `lane` is set once the routes are registered, before the server listens.
 */
function serverWithLane(lane: () => JoinLane | undefined): FastifyServerFactory {
  return (handler, fastifyOptions) => {
    const options = fastifyOptions as FastifyServerOptions & { http?: ServerOptions | null };
    // Requests past their timeout are looked for every quarter of it, at most every 5 s (Node's
    // default, 30 s, would let a 30 s timeout run to a minute).
    const checking = Math.min(5000, Math.max(250, (options.requestTimeout ?? 0) / 4));
    const server = createServer({ connectionsCheckingInterval: checking, ...options.http }, (request, response) => {
      if (lane()?.(request, response)) return;
      handler(request, response);
    });
    server.keepAliveTimeout = options.keepAliveTimeout ?? KEEP_ALIVE_MS;
    server.requestTimeout = options.requestTimeout ?? 0;
    // Node refuses a headers timeout longer than the request timeout.
    if (server.requestTimeout > 0) server.headersTimeout = Math.min(server.headersTimeout, server.requestTimeout);
    server.setTimeout(options.connectionTimeout ?? 0);
    if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };
}

export async function createApp(deps: ApiDeps, options: AppOptions): Promise<FastifyInstance> {
  let lane: JoinLane | undefined;
  const app = Fastify({
    serverFactory: serverWithLane(() => lane),
    loggerInstance: options.logger as FastifyBaseLogger,
    // Our own onResponse hook logs each request at debug, with the space id (info stays for lifecycle lines).
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino's child() costs microseconds on every join); lines that
    // need the request id add it themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: options.bodyLimit,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    clientErrorHandler: clientErrorHandler(options.logger),
    ...(options.trustProxy.length > 0 ? { trustProxy: options.trustProxy } : {}),
    // We answer requests that arrive while closing ourselves, in our own error shape (see onRequest).
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // URLs Fastify cannot route (broken %-escapes, params longer than maxParamLength) get our shape too.
    frameworkErrors: (error, request, reply) => {
      setResponseHeaders(request.url, reply);
      return sendError(
        reply,
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? fail('invalid_id', 'An id in the path is too long.') : fail('bad_url'),
      );
    },
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);

  const trusted = options.trustProxy.length > 0 ? proxyAddr.compile(options.trustProxy) : undefined;
  const connections = new ConnectionCap(options.addressConnections ?? 0, trusted);
  connections.attach(app.server);
  deps.metrics.countFrom(
    'rostrum_connections_refused_total',
    'Connections closed at once because their address held ROSTRUM_ADDRESS_CONNECTIONS already (429 connection_limit)',
    () => connections.refused,
  );

  // JSON only; an empty body is "no body" (so a bodyless POST with a JSON content type is fine),
  // and __proto__/constructor keys are refused rather than merged.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      done(fail('invalid_json'), undefined);
    }
  });

  // X-Forwarded-For from a peer not trusted: said once, in /readyz and in /metrics (proxy-watch.ts).
  const proxies = new ProxyWatch(options.trustProxy, options.logger);
  deps.metrics.countFrom(
    'rostrum_untrusted_forwarded_requests_total',
    'Requests that carried X-Forwarded-For from a peer not in ROSTRUM_TRUST_PROXY (their clients all share the peer’s address for rate limits)',
    () => proxies.untrusted,
  );
  // Hooks on every request are callback-style: an async hook costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    // On the reply, not the raw response: headers set on the raw response before Fastify's
    // writeHead send every other header of the answer through Node's slower merging path.
    setResponseHeaders(request.url, reply);
    if (request.headers['x-forwarded-for'] !== undefined) proxies.forwarded(request.socket.remoteAddress);
    if (options.isClosing() && request.url !== '/healthz') {
      reply.header('connection', 'close');
      sendError(reply, fail('shutting_down', undefined, 1));
      return;
    }
    done();
  });

  const methods = new MethodTable();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));

  const debug = options.logger.isLevelEnabled('debug');
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.http.series(request.method, route, reply.statusCode).observe(reply.elapsedTime / 1000);
    if (debug) {
      const spaceId = (request.params as { id?: string } | undefined)?.id;
      request.log.debug(
        { reqId: request.id, spaceId, method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
        'request',
      );
    }
    done();
  });

  const shell = new PageShell();
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allowed = methods.allowed(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, fail('method_not_allowed', `${request.method} is not allowed here; use ${allowed.join(', ')}.`));
    }
    // A browser that followed a bad link gets a page with a way home; an API client the JSON error.
    if (request.method === 'GET' && wantsHtml(request))
      return shell.sendError(reply, fail('route_not_found', `There is no page at ${path}.`));
    return sendError(reply, fail('route_not_found', `No endpoint at ${request.method} ${path}.`));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Rostrum API',
        version: '0.1.0',
        description:
          'Live audio spaces for huge audiences. Every error is {"error":{"code","message"}} with a stable code; 429 and 503 carry Retry-After.',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });

  const counters = registerRateLimits(app, options.limits);
  // Requests only a space's owner serves go to it (after this node's limits and validation).
  const forwarding = await registerForwarding(
    app,
    deps.ownership,
    nodeKey(deps.credentials),
    (id) => deps.broadcaster.recordings.shared && deps.audience.held(id)?.space.state === 'ended',
  );
  deps.metrics.countFrom(
    'rostrum_forwarded_requests_total',
    'Requests this node sent to the node that runs their space',
    () => forwarding.counts.forwarded,
  );
  deps.metrics.countFrom(
    'rostrum_forward_failures_total',
    'Requests for another node’s space that could not reach it (answered 503 cluster_unavailable)',
    () => forwarding.counts.failed,
  );
  registerCompression(app);

  const joinsShed = await registerLanes(app, options.pressure);
  opsRoutes(app, deps, { isDraining: options.isDraining, warnings: () => proxies.warnings() });
  spaceRoutes(app, deps, counters.spaceCreate);
  stageRoutes(app, deps);
  audienceRoutes(app, deps);
  broadcastRoutes(app, deps);
  listenRoutes(app, deps);
  webhookRoutes(app, deps);
  hostRoutes(app, deps);
  analyticsRoutes(app, deps);
  replayRoutes(app, deps);
  pageRoutes(app, deps, shell);
  registerPreflight(app, methods);

  lane = createJoinLane({
    deps,
    isClosing: options.isClosing,
    joinsShed,
    joinLimit: counters.join,
    // What Fastify's request.ip is, with and without trusted proxies.
    clientIp: trusted ? (request) => proxyAddr(request, trusted) : (request) => request.socket.remoteAddress ?? '',
    logger: options.logger,
    forwarded: (peer) => proxies.forwarded(peer),
  });
  return app;
}
