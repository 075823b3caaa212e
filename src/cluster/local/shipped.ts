/**
 * Shipped configuration files (deploy/) run as operators get them: a test replaces only the defaults
 * a file documents as "meant to be edited", each of which must occur exactly once outside comments —
 * so a test can never run a file that differs from the shipped one in anything else.
 */

/** Replaces `from` where it occurs outside comments (after `#`); it must occur there exactly once. */
export function replaceOnce(text: string, from: string, to: string, file = 'the file'): string {
  let count = 0;
  const lines = text.split('\n').map((line) => {
    const hash = line.indexOf('#');
    const code = hash < 0 ? line : line.slice(0, hash);
    const found = code.split(from).length - 1;
    count += found;
    return found > 0 ? code.replaceAll(from, to) + line.slice(code.length) : line;
  });
  if (count !== 1) throw new Error(`${file}: expected the default "${from}" exactly once outside comments, found it ${count} times`);
  return lines.join('\n');
}

/** Replaces each default of `defaults` with its value in `values` (same keys). */
export function withDefaultsReplaced<K extends string>(
  text: string,
  defaults: Record<K, string>,
  values: Record<K, string>,
  file: string,
): string {
  let out = text;
  for (const key of Object.keys(defaults) as K[]) out = replaceOnce(out, defaults[key], values[key], file);
  return out;
}
