/**
 * The reaction bar and the floating emoji: everyone's reactions arrive as growing totals in the
 * state document; each increase floats that many emoji (a few at most) up the page, and one's own
 * float at once.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export const REACTIONS = ['👏', '❤️', '😂', '🔥', '💯', '🙏', '😮', '👍'] as const;

interface Floating {
  key: number;
  emoji: string;
  left: number;
}

export function Reactions(props: { totals: Record<string, number>; send: (emoji: string) => Promise<void> }) {
  const [floating, setFloating] = useState<Floating[]>([]);
  const previous = useRef<Record<string, number> | null>(null);
  const next = useRef(0);
  const own = useRef<Record<string, number>>({});

  const float = (emoji: string, count: number) => {
    const added = Array.from({ length: Math.min(count, 5) }, () => ({ key: next.current++, emoji, left: 5 + Math.random() * 85 }));
    setFloating((f) => [...f, ...added].slice(-40));
    for (const item of added) setTimeout(() => setFloating((f) => f.filter((x) => x.key !== item.key)), 3000);
  };

  useEffect(() => {
    const before = previous.current;
    previous.current = props.totals;
    if (!before) return;
    for (const [emoji, total] of Object.entries(props.totals)) {
      // Our own were floated when sent.
      let delta = total - (before[emoji] ?? 0);
      const mine = Math.min(delta, own.current[emoji] ?? 0);
      own.current[emoji] = (own.current[emoji] ?? 0) - mine;
      delta -= mine;
      if (delta > 0) float(emoji, delta);
    }
  }, [props.totals]);

  const react = async (emoji: string) => {
    float(emoji, 1);
    own.current[emoji] = (own.current[emoji] ?? 0) + 1;
    await props.send(emoji).catch(() => {
      own.current[emoji] = Math.max(0, (own.current[emoji] ?? 0) - 1);
    });
  };

  return (
    <section class="reactions" aria-label="Reactions">
      <div class="bar">
        {REACTIONS.map((emoji) => (
          <button key={emoji} type="button" onClick={() => void react(emoji)} aria-label={`React ${emoji}`}>
            {emoji}
            <span class="count">{props.totals[emoji] ? props.totals[emoji] : ''}</span>
          </button>
        ))}
      </div>
      <div class="floats" aria-hidden="true">
        {floating.map((f) => (
          <span key={f.key} class="float" data-emoji={f.emoji} style={{ left: `${f.left}%` }}>
            {f.emoji}
          </span>
        ))}
      </div>
    </section>
  );
}
