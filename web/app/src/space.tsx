/**
 * The space page — one URL, the share link, for everyone. What it shows follows the space's state
 * (lobby, live, replay) and who you are in it: a listener hears the broadcast (LL-HLS) and can react
 * and ask to speak; someone on stage talks over WebRTC instead; hosts and co-hosts get the console.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, claimsOf, heldInviteTag, keepInviteTag, keepToken, retryDelay, spaceToken } from './api.js';
import { HostConsole, useActions } from './host.js';
import { formatDuration, Player } from './player.js';
import { provePresence } from './pow.js';
import { Reactions } from './reactions.js';
import { SpeakerPanel, type StagePush } from './speaker.js';
import { StageView, type Viewer } from './stage-view.js';
import { type SpaceState, useSpaceState } from './state.js';

/** Heartbeat interval when the join's answer is not at hand (a reload keeps the token, not the answer), s. */
const DEFAULT_HEARTBEAT_SECONDS = 10;

/** The waiting room's answer to a join: a place in line. */
interface Queued {
  queued: true;
  ticket: string;
  position: number;
  estimatedWaitSeconds: number;
  retryAfterSeconds: number;
}

interface JoinResponse {
  token: string;
  identity: string;
  heartbeatIntervalSeconds: number;
  inviteTag: string;
}

export function SpacePage(props: { id: string }) {
  const { id } = props;
  const { doc, error, refresh } = useSpaceState(id);
  const [token, setToken] = useState(() => spaceToken(id));
  const [heartbeatEvery, setHeartbeatEvery] = useState<number | null>(null);
  const [asked, setAsked] = useState<'no' | 'pending' | 'declined'>('no');
  const [nudge, setNudge] = useState(0);
  const [queue, setQueue] = useState<{ position: number; waitSeconds: number } | null>(null);
  const [checking, setChecking] = useState(false);
  const joining = useRef<Promise<string> | undefined>(undefined);
  const claims = claimsOf(token);
  const me = claims?.sub ?? null;
  const member = doc?.stage.find((m) => m.identity === me);
  const viewer: Viewer = member?.role ?? (claims?.operator ? 'operator' : 'listener');
  const act = useActions(id, token, refresh);
  const inviteTag = useInviteTag(id, token, me, (doc?.invited.length ?? 0) > 0);

  /** A listener token, joining first if this tab has none (joins are cheap and stateless). */
  const ensureToken = (): Promise<string> => {
    if (token) return Promise.resolve(token);
    joining.current ??= joinInLine().finally(() => {
      joining.current = undefined;
    });
    return joining.current;
  };
  const joinInLine = async (): Promise<string> => {
    let ticket: string | undefined;
    let pow: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = ticket || pow ? { body: { ...(ticket ? { ticket } : {}), ...(pow ? { pow } : {}) } } : {};
        pow = undefined; // a solution admits one join
        const answer = await api<JoinResponse | Queued>('POST', `/api/spaces/${id}/join`, sent);
        if ('queued' in answer) {
          // The waiting room: show the place in line, come back with the ticket when told to.
          ticket = answer.ticket;
          setQueue({ position: answer.position, waitSeconds: answer.estimatedWaitSeconds });
          await new Promise((resolve) => setTimeout(resolve, answer.retryAfterSeconds * 1000 * (0.9 + Math.random() * 0.2)));
          continue;
        }
        setQueue(null);
        keepToken(id, answer.token);
        keepInviteTag(id, answer.identity, answer.inviteTag);
        setToken(answer.token);
        setHeartbeatEvery(answer.heartbeatIntervalSeconds);
        return answer.token;
      } catch (err) {
        if (err instanceof ApiError && err.code.startsWith('pow_') && attempt < 5) {
          // Under attack: prove this is a browser spending a moment of work, then join at once.
          setChecking(true);
          pow = await provePresence(id).finally(() => setChecking(false));
          continue;
        }
        if (err instanceof ApiError && err.code.startsWith('ticket_'))
          ticket = undefined; // start again at the end of the line
        else if (!(err instanceof ApiError) || (err.status !== 429 && err.status !== 503) || attempt > 5) throw err;
        await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt, err)));
      }
    }
  };

  // A listener is counted: join on arrival (cheap, no database write), then say "still here". A
  // listener waiting in the lobby joins shortly before the start, so go-live costs them no join.
  const startsSoon = doc?.state === 'scheduled' && (!doc.scheduledStart || Date.parse(doc.scheduledStart) - Date.now() < 120_000);
  useEffect(() => {
    if ((doc?.state === 'live' || startsSoon) && !token) void ensureToken().catch(() => undefined);
  }, [doc?.state, startsSoon, token]);
  useEffect(() => {
    if (!token || claims?.role !== 'listener' || doc?.state !== 'live') return;
    const every = heartbeatEvery ?? DEFAULT_HEARTBEAT_SECONDS;
    const beat = () => void api('POST', `/api/spaces/${id}/heartbeat`, { token }).catch(() => undefined);
    beat();
    const timer = setInterval(beat, every * 1000 * (0.8 + Math.random() * 0.2));
    return () => clearInterval(timer);
  }, [token, heartbeatEvery, doc?.state]);

  useEffect(() => {
    if (doc) document.title = `${doc.title} · Rostrum`;
  }, [doc?.title]);

  if (!doc) return <p role="status">{error ?? 'Loading…'}</p>;

  const onPush = (message: StagePush) => {
    if (message.type === 'request') setNudge((n) => n + 1);
    if (message.type === 'request_resolved' && message.identity === me && message.outcome !== 'approved') setAsked('declined');
    if (['stage', 'muted', 'unmuted', 'talking'].includes(message.type)) refresh();
  };
  const onStage = member !== undefined;
  const live = doc.state === 'live';

  return (
    <main>
      <Header doc={doc} />
      {error && (
        <p role="status" class="muted">
          {error}
        </p>
      )}
      {checking && (
        <p role="status" class="queue">
          Checking your browser before letting you in (the space is busy)…
        </p>
      )}
      {queue && (
        <p role="status" class="queue">
          You are in line: number {queue.position}, about {queue.waitSeconds} s to go. This page moves on by itself.
        </p>
      )}
      {doc.state === 'scheduled' && (
        <Lobby doc={doc} remind={async () => void (await api('PUT', `/api/spaces/${id}/reminder`, { token: await ensureToken() }))} />
      )}
      {/* A listener plays once admitted (joined): under a waiting room, after their turn. The player is
          there in the lobby already, so it starts by itself at go-live (see player.tsx). */}
      {doc.state !== 'ended' && !onStage && (
        <Player
          url={live && doc.playlistUrl && token ? doc.playlistUrl : null}
          live
          autoStart
          meta={{ title: doc.title, host: doc.host.name }}
        />
      )}
      {live && token && (onStage || asked === 'pending') && (
        <SpeakerPanel
          spaceId={id}
          token={token}
          muted={member?.muted ?? false}
          onPush={onPush}
          onLeave={() => void api('DELETE', `/api/spaces/${id}/stage`, { token }).then(refresh, (err: Error) => alert(err.message))}
        />
      )}
      {live && !onStage && inviteTag && doc.invited.includes(inviteTag) && token && (
        <Invitation spaceId={id} token={token} refresh={refresh} />
      )}
      {live && !onStage && viewer === 'listener' && (
        <RequestToSpeak
          asked={asked}
          ask={async () => {
            const t = await ensureToken();
            await api('POST', `/api/spaces/${id}/requests`, { token: t });
            setAsked('pending');
          }}
        />
      )}
      {doc.pinnedLink && <PinnedLink link={doc.pinnedLink} />}
      {doc.state === 'ended' && <Replay doc={doc} />}
      {doc.state !== 'ended' && (
        <>
          <h2>On stage</h2>
          <StageView stage={doc.stage} viewer={viewer} me={me} act={act} />
        </>
      )}
      {live && (
        <Reactions
          totals={doc.reactions}
          send={async (emoji) => void (await api('POST', `/api/spaces/${id}/reactions`, { token: await ensureToken(), body: { emoji } }))}
        />
      )}
      {token && (viewer === 'host' || viewer === 'cohost') && (
        <HostConsole doc={doc} token={token} isHost={viewer === 'host'} refresh={refresh} nudge={nudge} />
      )}
    </main>
  );
}

function Header(props: { doc: SpaceState }) {
  const { doc } = props;
  const [shared, setShared] = useState(false);
  const share = async () => {
    const url = `${location.origin}${location.pathname}`;
    if (navigator.share) await navigator.share({ title: doc.title, url }).catch(() => undefined);
    else {
      await navigator.clipboard?.writeText(url).catch(() => undefined);
      setShared(true);
      setTimeout(() => setShared(false), 2000);
    }
  };
  return (
    <header>
      <p class={`state ${doc.state}`} data-state={doc.state}>
        {doc.state === 'live' ? '● Live' : doc.state === 'scheduled' ? 'Upcoming' : 'Ended'}
      </p>
      <h1>{doc.title}</h1>
      <p class="muted">
        Hosted by {doc.host.name}
        {doc.state === 'live' && (
          <>
            {' · '}
            <span class="listeners" aria-live="polite">
              {doc.listeners} {doc.listeners === 1 ? 'listener' : 'listeners'}
            </span>
          </>
        )}
      </p>
      <button type="button" onClick={() => void share()} aria-label="Share this space">
        {shared ? 'Link copied' : 'Share'}
      </button>
    </header>
  );
}

function Lobby(props: { doc: SpaceState; remind: () => Promise<void> }) {
  const [now, setNow] = useState(Date.now());
  const [reminded, setReminded] = useState<'no' | 'yes' | string>('no');
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const starts = props.doc.scheduledStart ? Date.parse(props.doc.scheduledStart) : null;
  const left = starts === null ? null : Math.max(0, Math.round((starts - now) / 1000));
  return (
    <section class="lobby" aria-label="Lobby">
      <p class="countdown" aria-live="polite">
        {left === null ? 'Starting soon' : left > 0 ? `Starts in ${formatDuration(left)}` : 'Starting any moment'}
      </p>
      <p class="muted">
        This page switches to the live broadcast by itself when the host goes live
        {props.doc.autoStart ? ', which happens by itself at the scheduled time' : ''}.
      </p>
      {starts !== null && (
        <p>
          <a href={`/api/spaces/${encodeURIComponent(props.doc.id)}/calendar.ics`} download>
            Add to calendar
          </a>
        </p>
      )}
      <button
        type="button"
        disabled={reminded === 'yes'}
        onClick={() =>
          void props.remind().then(
            () => setReminded('yes'),
            (err: Error) => setReminded(err.message),
          )
        }
      >
        {reminded === 'yes' ? 'Noted' : 'Remind me'}
      </button>
      {reminded === 'yes' && <p class="muted">Rostrum sends no reminder by itself: add the space to your calendar to be reminded.</p>}
      {reminded !== 'no' && reminded !== 'yes' && <p role="alert">{reminded}</p>}
    </section>
  );
}

function RequestToSpeak(props: { asked: 'no' | 'pending' | 'declined'; ask: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  if (props.asked === 'pending') return null; // the speaker panel shows the waiting state
  return (
    <section class="request">
      <button type="button" onClick={() => void props.ask().catch((err: Error) => setError(err.message))}>
        ✋ Request to speak
      </button>
      {props.asked === 'declined' && <p role="status">The host declined your request this time.</p>}
      {error && <p role="alert">{error}</p>}
    </section>
  );
}

/**
 * This tab's invite tag: the state document lists invitations as tags, never identities. A joined
 * listener got its tag in the join answer; a token from elsewhere (the operator's backend) asks
 * for its own once, when there are invitations to look at.
 */
function useInviteTag(id: string, token: string | null, me: string | null, anyInvited: boolean): string | null {
  const [tag, setTag] = useState<string | null>(() => (me ? heldInviteTag(id, me) : null));
  useEffect(() => {
    if (!me) return;
    const held = heldInviteTag(id, me);
    if (held) {
      setTag(held);
      return;
    }
    if (!token || !anyInvited) return;
    void api<{ inviteTag: string }>('GET', `/api/spaces/${id}/invite-tag`, { token }).then(
      (answer) => {
        keepInviteTag(id, me, answer.inviteTag);
        setTag(answer.inviteTag);
      },
      () => undefined,
    );
  }, [id, token, me, anyInvited]);
  return tag;
}

function Invitation(props: { spaceId: string; token: string; refresh: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const answer = (what: 'accept' | 'decline') =>
    void api('POST', `/api/spaces/${props.spaceId}/invite/${what}`, { token: props.token }).then(props.refresh, (err: Error) =>
      setError(err.message),
    );
  return (
    <section class="invitation" role="alertdialog" aria-label="Invitation to speak">
      <p>The host invites you to speak on stage.</p>
      <button type="button" class="primary" onClick={() => answer('accept')}>
        Join the stage
      </button>{' '}
      <button type="button" onClick={() => answer('decline')}>
        Not now
      </button>
      {error && <p role="alert">{error}</p>}
    </section>
  );
}

/** The host's pinned link: its title as text, never markup; only http(s) URLs reach here (the API refuses others). */
function PinnedLink(props: { link: NonNullable<SpaceState['pinnedLink']> }) {
  const { url, title } = props.link;
  const safe = /^https?:\/\//i.test(url);
  return (
    <aside class="pinned" aria-label="Pinned link">
      <span aria-hidden="true">📌 </span>
      {safe ? (
        <a href={url} target="_blank" rel="noopener noreferrer nofollow ugc">
          {title}
        </a>
      ) : (
        <span>{title}</span>
      )}
      <span class="muted"> · {new URL(url, location.href).hostname}</span>
    </aside>
  );
}

function Replay(props: { doc: SpaceState }) {
  const { doc } = props;
  if (!doc.playlistUrl) return <p>This space was not recorded.</p>;
  return (
    <section class="replay" aria-label="Replay">
      <h2>Replay</h2>
      <Player url={doc.playlistUrl} live={false} autoStart={false} meta={{ title: doc.title, host: doc.host.name }} />
      <p>
        {doc.recordingUrl && (
          <a href={doc.recordingUrl} download>
            Download the recording
          </a>
        )}
        {' · '}
        <a href={`/feeds/${encodeURIComponent(doc.host.identity)}.rss`}>Podcast feed</a>
      </p>
    </section>
  );
}
