/**
 * Request and response schemas (TypeBox → JSON Schema). Fastify validates every body, query and
 * param against them, serialises responses with them, and @fastify/swagger publishes them as OpenAPI.
 * Objects are closed: an unknown field is an error, never silently dropped.
 */
import { type Static, Type } from 'typebox';
import { REACTIONS, ROLES, SPACE_STATES, STAGE_ROLES } from '../control/model.js';
import { IDENTITY_PATTERN, SPACE_ID_PATTERN } from '../ids.js';
import { HTTP_URL, TEXT_LINE } from './validation.js';

/** Objects are closed; times are ISO-8601 — shared by every schema file (webhook-schemas.ts, routes' own). */
export const closed = { additionalProperties: false } as const;
export const IsoTime = Type.String({ format: 'date-time', description: 'ISO-8601 date and time' });
export const NullableIso = Type.Union([IsoTime, Type.Null()]);

export const SpaceIdParam = Type.Object({ id: Type.String({ pattern: SPACE_ID_PATTERN }) }, closed);
export const TargetParams = Type.Object(
  { id: Type.String({ pattern: SPACE_ID_PATTERN }), identity: Type.String({ pattern: IDENTITY_PATTERN }) },
  closed,
);

/** `Retry-After` on an answer that says when to come back. */
const RetryAfter = { 'Retry-After': { type: 'integer', minimum: 0, description: 'Seconds to wait before trying again.' } };

/** The one error shape, described for one status (the codes it may carry are in docs/errors.md). */
function errorBody(description: string, retryAfter = false) {
  return Type.Object(
    { error: Type.Object({ code: Type.String({ description: 'Stable, machine-readable (docs/errors.md).' }), message: Type.String() }) },
    { description, ...(retryAfter ? { headers: RetryAfter } : {}) },
  );
}

/**
 * The error answers of every API operation, by what may go wrong. Every operation documents
 * `ErrorResponses`; one that takes a bearer token adds `AuthErrors`, one that takes a body and
 * changes something adds `WriteErrors`. Codes per status: docs/errors.md.
 */
export const ErrorResponses = {
  400: errorBody(
    'Malformed request: a path id, a query parameter or the URL itself (invalid_id, validation_failed, unknown_field, bad_url).',
  ),
  404: errorBody('No such space or object (space_not_found, route_not_found, …).'),
  503: errorBody('Overloaded (overloaded: new joins first), shutting down (shutting_down) or not ready; retry after Retry-After.', true),
};
export const AuthErrors = {
  401: errorBody('No bearer token, or one that is malformed, forged or expired (token_missing, token_invalid, token_expired).'),
  403: errorBody('The token may not do this here (permission_denied, token_wrong_space, identity_removed, not_the_host, …).'),
};
export const WriteErrors = {
  400: errorBody(
    'The body or the path does not match the schema (invalid_json, validation_failed, unknown_field, invalid_id, invalid_time).',
  ),
  409: errorBody('The space’s state forbids it now (space_ended, space_not_live, stage_full, …).'),
  413: errorBody('The body is larger than the server takes (body_too_large).'),
  415: errorBody('The body is not application/json (unsupported_media_type).'),
  429: errorBody('Too many requests from this address or token (rate_limited); retry after Retry-After.', true),
};
/** A write's error answers, all of them (a token, a body, limits). */
export const AuthWriteErrors = { ...ErrorResponses, ...AuthErrors, ...WriteErrors };
/** A join's: a write's, where 403 and 409 are about its proof of work and its waiting-room ticket. */
export const JoinErrors = {
  ...AuthWriteErrors,
  403: errorBody(
    'Joins need a proof of work now (pow_required: solve GET /api/spaces/{id}/challenge and join with {"pow": …}), or the proof, the ticket or the token sent is not good here (pow_invalid, pow_expired, ticket_invalid, ticket_expired, token_wrong_space, identity_removed).',
  ),
  409: errorBody('The proof of work or the waiting-room ticket already admitted a join (pow_used, ticket_used).'),
};
/** A conditional GET whose ETag still holds. */
export const NotModified = Type.Null({ description: 'Not modified: the ETag sent in If-None-Match is still current.' });

const ONE_LINE =
  'One line of visible text: not only white space, and no control characters (Unicode Cc: line breaks, tabs, NUL…), lone surrogates or noncharacters.';
export const Title = Type.String({ minLength: 1, maxLength: 140, format: TEXT_LINE, description: ONE_LINE });
export const DisplayName = Type.String({ minLength: 1, maxLength: 100, format: TEXT_LINE, description: ONE_LINE });

export const CreateSpaceBody = Type.Object(
  {
    title: Title,
    scheduledStart: Type.Optional(IsoTime),
    recording: Type.Optional(Type.Boolean({ default: true })),
    autoStart: Type.Optional(
      Type.Boolean({ default: false, description: 'Go live by itself at scheduledStart (which it needs); else the host starts it.' }),
    ),
    host: Type.Optional(Type.Object({ identity: Type.String({ pattern: IDENTITY_PATTERN }), name: Type.Optional(DisplayName) }, closed)),
    startNow: Type.Optional(Type.Boolean({ description: 'Go live at once instead of waiting for start.' })),
  },
  closed,
);
export type CreateSpaceBody = Static<typeof CreateSpaceBody>;

export const UpdateSpaceBody = Type.Object(
  {
    title: Type.Optional(Title),
    recording: Type.Optional(Type.Boolean()),
    scheduledStart: Type.Optional(NullableIso),
    autoStart: Type.Optional(Type.Boolean()),
  },
  { ...closed, minProperties: 1 },
);
export type UpdateSpaceBody = Static<typeof UpdateSpaceBody>;

/** The link a host or co-host pinned for listeners: text and an http(s) URL, never markup. */
const PinnedLinkView = Type.Union([Type.Object({ url: Type.String(), title: Type.String(), pinnedAt: IsoTime }), Type.Null()]);
export const PinnedLinkBody = Type.Object(
  {
    url: Type.String({ maxLength: 2048, format: HTTP_URL, description: 'An http or https URL.' }),
    title: Type.String({ minLength: 1, maxLength: 100, format: TEXT_LINE }),
  },
  closed,
);

export const Space = Type.Object({
  id: Type.String(),
  title: Type.String(),
  state: Type.Enum(SPACE_STATES),
  host: Type.Object({ identity: Type.String(), name: Type.String() }),
  scheduledStart: NullableIso,
  startedAt: NullableIso,
  endedAt: NullableIso,
  recording: Type.Boolean(),
  autoStart: Type.Boolean(),
  createdAt: IsoTime,
  peakListeners: Type.Integer(),
  totalListeners: Type.Integer(),
  pinnedLink: PinnedLinkView,
  replayTrim: Type.Union([Type.Object({ start: Type.Number(), end: Type.Number() }), Type.Null()], {
    description: 'Where the host trimmed the replay (seconds from the start of the recording, at part boundaries), or null.',
  }),
  listenUrl: Type.String(),
  stateUrl: Type.String(),
  ownerNode: Type.Optional(
    Type.Union([Type.String(), Type.Null()], {
      description:
        'Operator’s view only: the ROSTRUM_NODE_ID of the node that runs the space (its commands, stage and mix); null when that cannot be known now (Redis away).',
    }),
  ),
});

export const CreatedSpace = Type.Object({ ...Space.properties, hostToken: Type.String(), hostUrl: Type.String() });

export const SpaceList = Type.Object({ spaces: Type.Array(Space) });

export const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Enum(SPACE_STATES)),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  closed,
);
export type ListQuery = Static<typeof ListQuery>;

export const StageMember = Type.Object({
  identity: Type.String(),
  name: Type.String(),
  role: Type.Enum(STAGE_ROLES),
  muted: Type.Boolean(),
});

export const StageRequest = Type.Object({ identity: Type.String(), name: Type.String(), requestedAt: IsoTime });
export const RequestList = Type.Object({ requests: Type.Array(StageRequest) });

export const StateDocument = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    state: Type.Enum(SPACE_STATES),
    scheduledStart: NullableIso,
    startedAt: NullableIso,
    endedAt: NullableIso,
    host: Type.Object({ identity: Type.String(), name: Type.String() }),
    recording: Type.Boolean(),
    autoStart: Type.Boolean(),
    stage: Type.Array(Type.Object({ ...StageMember.properties, talking: Type.Boolean() })),
    invited: Type.Array(Type.String(), {
      description:
        'Invitations to speak, as tags (never identities): a listener whose own tag (its join answer, or GET /api/spaces/:id/invite-tag) is listed is invited.',
    }),
    listeners: Type.Integer(),
    peakListeners: Type.Integer(),
    reactions: Type.Record(Type.String(), Type.Integer()),
    pinnedLink: PinnedLinkView,
    playlistUrl: Type.Optional(Type.String()),
    recordingUrl: Type.Optional(Type.String()),
    replayTrim: Type.Optional(
      Type.Union([Type.Object({ start: Type.Number(), end: Type.Number() }), Type.Null()], {
        description: 'A replay: where its host trimmed it (seconds from the start of the recording), or null.',
      }),
    ),
  },
  { description: 'Cacheable for one second by any shared cache; never holds private data.' },
);

export const JoinResponse = Type.Object({
  token: Type.String(),
  identity: Type.String(),
  role: Type.Literal('listener'),
  expiresAt: IsoTime,
  heartbeatIntervalSeconds: Type.Integer(),
  inviteTag: Type.String({
    description: "This listener's tag: when the state document's `invited` lists it, the host invites them to speak.",
  }),
  space: Type.Object({ id: Type.String(), title: Type.String(), state: Type.String() }),
  urls: Type.Object({
    state: Type.String(),
    heartbeat: Type.String(),
    reactions: Type.String(),
    playlist: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const InviteTagResponse = Type.Object({
  inviteTag: Type.String({
    description: "The token holder's tag: the state document's `invited` lists it while they are invited to speak.",
  }),
});

export const QueuedResponse = Type.Object(
  {
    queued: Type.Boolean({ description: 'Always true: a place in the waiting room, not a token.' }),
    ticket: Type.String({ description: 'Join again with {"ticket": …} after Retry-After.' }),
    position: Type.Integer({ description: '1 = next in line.' }),
    estimatedWaitSeconds: Type.Integer(),
    retryAfterSeconds: Type.Integer(),
  },
  { description: 'In the waiting room: come back with the ticket after Retry-After seconds.', headers: RetryAfter },
);

export const ReactionBody = Type.Object({ emoji: Type.Enum(REACTIONS, { description: 'One of the fixed reaction set.' }) }, closed);
export type ReactionBody = Static<typeof ReactionBody>;

export const ReminderResponse = Type.Object({ registered: Type.Boolean(), reminders: Type.Integer() });

export const ReminderList = Type.Object({
  /** Everyone who asked; `reminders` is one page of them, oldest first. */
  count: Type.Integer(),
  reminders: Type.Array(Type.Object({ identity: Type.String(), at: IsoTime })),
});

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'Skip this many (the next page).' })),
  },
  closed,
);

export const TokenBody = Type.Object(
  {
    identity: Type.String({ pattern: IDENTITY_PATTERN }),
    name: Type.Optional(DisplayName),
    role: Type.Enum(ROLES),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600 })),
  },
  closed,
);
export type TokenBody = Static<typeof TokenBody>;
export const TokenResponse = Type.Object({ token: Type.String(), identity: Type.String(), role: Type.String(), expiresAt: IsoTime });

export const Ok = Type.Object({ ok: Type.Literal(true) });

export const ActionList = Type.Object({
  actions: Type.Array(
    Type.Object({ at: IsoTime, actor: Type.String(), action: Type.String(), target: Type.Union([Type.String(), Type.Null()]) }),
  ),
});
export const LimitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }, closed);

export const NoContent = Type.Null();
/** For endpoints that take no body: absent, empty, or `{}` — anything else is an unknown field. */
export const EmptyBody = Type.Object({}, closed);
/** A join's body: nothing, the waiting-room ticket from an earlier try, and/or a proof of work. */
export const JoinBodySchema = Type.Object(
  {
    ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    pow: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'Base64 of the ALTCHA payload {challenge, solution} solving GET /api/spaces/:id/challenge (when pow_required).',
      }),
    ),
  },
  closed,
);

export const AudienceQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    after: Type.Optional(Type.String({ maxLength: 400, description: 'The `next` of the page before.' })),
  },
  closed,
);
export const AudienceList = Type.Object({
  listening: Type.Integer({ description: 'Everyone listening now, named or not.' }),
  listeners: Type.Array(Type.Object({ identity: Type.String(), name: Type.String(), joinedAt: IsoTime }), {
    description: 'Listeners whose token carries a name, newest first.',
  }),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` for the next page; null on the last.' }),
});

export const PowChallenge = Type.Object({
  required: Type.Boolean({ description: 'Whether joins need a solution right now.' }),
  level: Type.Integer(),
  challenge: Type.Object(
    {
      parameters: Type.Object({}, { additionalProperties: true }),
      signature: Type.String(),
    },
    { description: 'An ALTCHA (v2, SHA-256) challenge bound to this space, good for two minutes and one join.' },
  ),
});

export const PowStatus = Type.Object({
  mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
  required: Type.Boolean(),
  level: Type.Integer(),
  difficulty: Type.Integer({ description: 'The largest counter a challenge hides now (0 when off).' }),
});
export const PowSetBody = Type.Object(
  {
    mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    level: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  },
  closed,
);
