/**
 * Who is on stage: initials, a ring while they talk, a mute icon, their role — and, for the host and
 * co-hosts, what they may do to each (the server enforces the same rules; buttons it would refuse
 * are not shown).
 */
import type { Member } from './state.js';

export type Viewer = 'host' | 'cohost' | 'speaker' | 'listener' | 'operator';

const ROLE_LABEL: Record<Member['role'], string> = { host: 'Host', cohost: 'Co-host', speaker: 'Speaker' };

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? '?') + (words.length > 1 ? (words.at(-1)?.[0] ?? '') : '')).toUpperCase();
}

export function StageView(props: { stage: Member[]; viewer: Viewer; me: string | null; act: (identity: string, action: string) => void }) {
  const moderator = props.viewer === 'host' || props.viewer === 'cohost';
  return (
    <ul class="stage" aria-label="On stage" aria-live="polite">
      {props.stage.map((m) => (
        <li key={m.identity} class="member" data-identity={m.identity} data-muted={String(m.muted)} data-talking={String(m.talking)}>
          <span class={`avatar${m.talking ? ' talking' : ''}`} aria-hidden="true">
            {initials(m.name)}
          </span>
          <span class="name">
            {m.name}
            {m.identity === props.me ? ' (you)' : ''}
          </span>
          <span class="role">{ROLE_LABEL[m.role]}</span>
          {m.muted && (
            <span class="mute-icon" role="img" aria-label={`${m.name} is muted`}>
              🔇
            </span>
          )}
          {m.talking && <span class="visually-hidden">talking</span>}
          {moderator && m.identity !== props.me && m.role !== 'host' && (
            <span class="actions">
              {!m.muted && (
                <button type="button" onClick={() => props.act(m.identity, 'mute')} aria-label={`Mute ${m.name}`}>
                  Mute
                </button>
              )}
              {(props.viewer === 'host' || m.role === 'speaker') && (
                <button
                  type="button"
                  onClick={() => props.act(m.identity, 'move-to-audience')}
                  aria-label={`Move ${m.name} to the audience`}
                >
                  To audience
                </button>
              )}
              {props.viewer === 'host' && m.role === 'speaker' && (
                <button type="button" onClick={() => props.act(m.identity, 'appoint-cohost')} aria-label={`Make ${m.name} a co-host`}>
                  Make co-host
                </button>
              )}
              {props.viewer === 'host' && m.role === 'cohost' && (
                <button type="button" onClick={() => props.act(m.identity, 'dismiss-cohost')} aria-label={`Dismiss ${m.name} as co-host`}>
                  Dismiss co-host
                </button>
              )}
              <button
                type="button"
                class="danger"
                onClick={() => confirm(`Remove ${m.name} from this space for good?`) && props.act(m.identity, 'remove')}
                aria-label={`Remove ${m.name}`}
              >
                Remove
              </button>
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
