/**
 * Home: live and upcoming spaces (title, host, listeners, start time) and, for the operator, a form
 * for a new space. The operator signs in by pasting an operator token (minted by their backend or
 * `rostrum token`), kept in this browser only.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, OPERATOR_KEY } from './api.js';

interface SpaceItem {
  id: string;
  title: string;
  state: 'scheduled' | 'live' | 'ended';
  host: { identity: string; name: string };
  scheduledStart: string | null;
  listenUrl: string;
}

export function HomePage() {
  const [spaces, setSpaces] = useState<SpaceItem[] | null>(null);
  const [listeners, setListeners] = useState<Record<string, number>>({});
  const [operator, setOperator] = useState(() => localStorage.getItem(OPERATOR_KEY) ?? '');

  useEffect(() => {
    document.title = 'Rostrum';
    const load = async () => {
      const [live, upcoming] = await Promise.all(
        (['live', 'scheduled'] as const).map((state) => api<{ spaces: SpaceItem[] }>('GET', `/api/spaces?state=${state}&limit=50`)),
      );
      const all = [...(live?.spaces ?? []), ...(upcoming?.spaces ?? [])];
      setSpaces(all);
      for (const s of all.filter((x) => x.state === 'live').slice(0, 20)) {
        api<{ listeners: number }>('GET', `/api/spaces/${s.id}/state`)
          .then((doc) => setListeners((l) => ({ ...l, [s.id]: doc.listeners })))
          .catch(() => undefined);
      }
    };
    void load().catch(() => setSpaces([]));
  }, []);

  return (
    <main>
      <h1>Rostrum</h1>
      <p class="muted">Live and upcoming spaces</p>
      {spaces === null ? (
        <p role="status">Loading…</p>
      ) : spaces.length === 0 ? (
        <p class="muted">Nothing live or scheduled yet.</p>
      ) : (
        <ul class="spaces">
          {spaces.map((s) => (
            <li key={s.id}>
              <a href={`/s/${s.id}`}>{s.title}</a> <span class={`state ${s.state}`}>{s.state === 'live' ? '● Live' : 'Upcoming'}</span>{' '}
              <span class="muted">
                {s.host.name}
                {s.state === 'live' && listeners[s.id] !== undefined ? ` · ${listeners[s.id]} listening` : ''}
                {s.state === 'scheduled' && s.scheduledStart ? ` · ${new Date(s.scheduledStart).toLocaleString()}` : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
      <NewSpace operator={operator} setOperator={setOperator} />
    </main>
  );
}

function NewSpace(props: { operator: string; setOperator: (t: string) => void }) {
  const [title, setTitle] = useState('');
  const [hostName, setHostName] = useState('');
  const [at, setAt] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (!props.operator) {
    return (
      <details class="new-space">
        <summary>New space (operator)</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const value = new FormData(e.currentTarget).get('token');
            if (typeof value === 'string' && value.trim()) {
              localStorage.setItem(OPERATOR_KEY, value.trim());
              props.setOperator(value.trim());
            }
          }}
        >
          <label>
            Operator token <input name="token" type="password" autoComplete="off" required />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </details>
    );
  }
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const created = await api<{ hostUrl: string }>('POST', '/api/spaces', {
        token: props.operator,
        body: {
          title,
          ...(hostName
            ? {
                host: {
                  identity:
                    hostName
                      .toLowerCase()
                      .replace(/[^a-z0-9_-]+/g, '-')
                      .slice(0, 60) || 'host',
                  name: hostName,
                },
              }
            : {}),
          ...(at ? { scheduledStart: new Date(at).toISOString() } : { startNow: false }),
        },
      });
      location.href = created.hostUrl;
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="new-space" onSubmit={(e) => void create(e)} aria-label="New space">
      <h2>New space</h2>
      <label>
        Title <input value={title} onInput={(e) => setTitle(e.currentTarget.value)} required maxLength={140} />
      </label>
      <label>
        Host name <input value={hostName} onInput={(e) => setHostName(e.currentTarget.value)} maxLength={100} />
      </label>
      <label>
        Starts at (optional) <input type="datetime-local" value={at} onInput={(e) => setAt(e.currentTarget.value)} />
      </label>
      <button type="submit" class="primary">
        Create
      </button>
      <button
        type="button"
        onClick={() => {
          localStorage.removeItem(OPERATOR_KEY);
          props.setOperator('');
        }}
      >
        Sign out
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
