/**
 * The host's and co-hosts' console: go live, end (with confirmation), the recording switch (host),
 * the queue of requests to speak with approve and decline, and inviting someone from the audience
 * by identity; once ended, the host's replay editor (replay-editor.tsx). Per-speaker actions sit on the stage list (stage-view.tsx).
 */

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AnalyticsPanel } from './analytics.js';
import { api } from './api.js';
import { ReplayEditor } from './replay-editor.js';
import type { SpaceState } from './state.js';

interface Request {
  identity: string;
  name: string;
  requestedAt: string;
}

export function HostConsole(props: { doc: SpaceState; token: string; isHost: boolean; refresh: () => void; nudge: number }) {
  const { doc, token } = props;
  const base = `/api/spaces/${doc.id}`;
  const [requests, setRequests] = useState<Request[]>([]);
  const [invitee, setInvitee] = useState('');
  const [pin, setPin] = useState({ url: '', title: '' });
  const [message, setMessage] = useState<string | null>(null);

  // The queue: fetched every 2 s, and at once when a `request` push arrives (nudge).
  useEffect(() => {
    if (doc.state !== 'live') return;
    let stopped = false;
    const load = () =>
      api<{ requests: Request[] }>('GET', `${base}/requests`, { token })
        .then((r) => !stopped && setRequests(r.requests))
        .catch(() => undefined);
    void load();
    const timer = setInterval(load, 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [doc.id, doc.state, props.nudge]);

  const run = async (what: () => Promise<unknown>, done?: string) => {
    try {
      await what();
      setMessage(done ?? null);
      props.refresh();
    } catch (err) {
      setMessage((err as Error).message);
    }
  };
  const act = (identity: string, action: string) =>
    run(() => api('POST', `${base}/participants/${encodeURIComponent(identity)}/${action}`, { token }));

  return (
    <section class="console" aria-label="Host console">
      <h2>Host console</h2>
      <div class="row">
        {doc.state === 'scheduled' && props.isHost && (
          <button type="button" class="primary" onClick={() => void run(() => api('POST', `${base}/start`, { token }))}>
            Go live
          </button>
        )}
        {doc.state === 'live' && props.isHost && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirm('End this space for everyone? It cannot be restarted.') && void run(() => api('POST', `${base}/end`, { token }))
            }
          >
            End space
          </button>
        )}
        {props.isHost && doc.state !== 'ended' && (
          <Setting checked={doc.recording} onChange={(recording) => void run(() => api('PATCH', base, { token, body: { recording } }))}>
            Record this space
          </Setting>
        )}
        {props.isHost && doc.state === 'scheduled' && doc.scheduledStart && (
          <Setting checked={doc.autoStart} onChange={(autoStart) => void run(() => api('PATCH', base, { token, body: { autoStart } }))}>
            Go live by itself at {new Date(doc.scheduledStart).toLocaleTimeString()}
          </Setting>
        )}
      </div>
      {props.isHost &&
        doc.state === 'scheduled' &&
        doc.scheduledStart &&
        !doc.autoStart &&
        Date.parse(doc.scheduledStart) <= Date.now() && (
          <p role="status" class="due">
            It is time: your listeners are waiting. Press Go live.
          </p>
        )}
      {doc.state === 'live' && (
        <>
          <h3>Requests to speak ({requests.length})</h3>
          {requests.length === 0 ? (
            <p class="muted">Nobody has asked yet.</p>
          ) : (
            <ul class="requests" aria-label="Requests to speak">
              {requests.map((r) => (
                <li key={r.identity} data-identity={r.identity}>
                  <span>{r.name}</span>
                  <button type="button" onClick={() => void act(r.identity, 'approve')} aria-label={`Approve ${r.name}`}>
                    Approve
                  </button>
                  <button type="button" onClick={() => void act(r.identity, 'decline')} aria-label={`Decline ${r.name}`}>
                    Decline
                  </button>
                </li>
              ))}
            </ul>
          )}
          <AudienceList
            spaceId={doc.id}
            token={token}
            invite={(identity, name) => void run(() => act(identity, 'invite'), `Invited ${name}.`)}
          />
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (invitee.trim()) void run(() => act(invitee.trim(), 'invite'), `Invited ${invitee.trim()}.`);
            }}
          >
            <label>
              Invite from the audience (identity){' '}
              <input value={invitee} onInput={(e) => setInvitee(e.currentTarget.value)} maxLength={128} />
            </label>
            <button type="submit">Invite</button>
          </form>
        </>
      )}
      {doc.state === 'ended' && props.isHost && <ReplayEditor doc={doc} token={token} refresh={props.refresh} />}
      {doc.state !== 'scheduled' && <AnalyticsPanel spaceId={doc.id} token={token} live={doc.state === 'live'} />}
      {doc.state !== 'ended' && (
        <form
          class="row pin"
          aria-label="Pin a link"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => api('PUT', `${base}/pinned-link`, { token, body: { url: pin.url.trim(), title: pin.title.trim() } }), 'Pinned.');
          }}
        >
          <label>
            Pin a link{' '}
            <input
              type="url"
              placeholder="https://…"
              value={pin.url}
              onInput={(e) => setPin({ ...pin, url: e.currentTarget.value })}
              maxLength={2048}
              required
            />
          </label>
          <label>
            Title <input value={pin.title} onInput={(e) => setPin({ ...pin, title: e.currentTarget.value })} maxLength={100} required />
          </label>
          <button type="submit">Pin</button>
          {doc.pinnedLink && (
            <button type="button" onClick={() => void run(() => api('DELETE', `${base}/pinned-link`, { token }), 'Unpinned.')}>
              Unpin
            </button>
          )}
        </form>
      )}
      {message && <p role="status">{message}</p>}
    </section>
  );
}

interface Listener {
  identity: string;
  name: string;
  joinedAt: string;
}

/** The listeners the operator's backend named, newest first, to invite without typing an id; more a page at a time. */
function AudienceList(props: { spaceId: string; token: string; invite: (identity: string, name: string) => void }) {
  const [listeners, setListeners] = useState<Listener[]>([]);
  const [listening, setListening] = useState(0);
  const [next, setNext] = useState<string | null>(null);
  const [pages, setPages] = useState(1);
  useEffect(() => {
    let stopped = false;
    const load = async () => {
      let all: Listener[] = [];
      let after: string | null = null;
      let total = 0;
      for (let page = 0; page < pages; page++) {
        const query: string = after ? `?limit=50&after=${encodeURIComponent(after)}` : '?limit=50';
        const got: { listeners: Listener[]; next: string | null; listening: number } = await api(
          'GET',
          `/api/spaces/${props.spaceId}/audience${query}`,
          {
            token: props.token,
          },
        );
        all = [...all, ...got.listeners];
        after = got.next;
        total = got.listening;
        if (!after) break;
      }
      if (stopped) return;
      setListeners(all);
      setNext(after);
      setListening(total);
    };
    void load().catch(() => undefined);
    const timer = setInterval(() => void load().catch(() => undefined), 5000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [props.spaceId, pages]);
  return (
    <>
      <h3>
        Audience ({listening} listening, {listeners.length}
        {next ? '+' : ''} named)
      </h3>
      {listeners.length === 0 ? (
        <p class="muted">No named listeners yet: anonymous listeners are counted, not listed.</p>
      ) : (
        <ul class="requests" aria-label="Audience">
          {listeners.map((l) => (
            <li key={l.identity} data-identity={l.identity}>
              <span>{l.name}</span>
              <button type="button" onClick={() => props.invite(l.identity, l.name)} aria-label={`Invite ${l.name} to speak`}>
                Invite
              </button>
            </li>
          ))}
        </ul>
      )}
      {next && (
        <button type="button" onClick={() => setPages(pages + 1)}>
          More
        </button>
      )}
    </>
  );
}

/** A checkbox that sets one of the space's settings. */
function Setting(props: { checked: boolean; onChange: (checked: boolean) => void; children: ComponentChildren }) {
  return (
    <label>
      <input type="checkbox" checked={props.checked} onChange={(e) => props.onChange(e.currentTarget.checked)} /> {props.children}
    </label>
  );
}

export function useActions(spaceId: string, token: string | null, refresh: () => void) {
  return (identity: string, action: string) =>
    void api('POST', `/api/spaces/${spaceId}/participants/${encodeURIComponent(identity)}/${action}`, { token })
      .then(refresh)
      .catch((err: Error) => alert(err.message));
}
