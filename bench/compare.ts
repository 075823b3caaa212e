/**
 * Two bench runs side by side: every goal of both, its value or ratio in each, and whether their
 * verdicts agree. A goal that passes on a quiet box and fails on a loaded one (or on another day)
 * measures the box, not the code; `npm run bench` compares each run with the one before it (the
 * previous bench/results/latest.json, same mode) and writes the table at the end of latest.md.
 *
 *   node dist/bench/compare.js PREVIOUS.json CURRENT.json           print the table
 *   node dist/bench/compare.js PREVIOUS.json CURRENT.json --write   also add it to CURRENT's .md
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Figure, num, type Report, toMarkdown } from './results.js';

export interface Comparison {
  markdown: string;
  /** Goals both runs judged, with different verdicts. */
  disagreements: string[];
  /** Goals both runs judged. */
  compared: number;
}

const verdictOf = (f: Figure) => (f.pass === null ? 'info' : f.pass ? 'pass' : 'FAIL');
/** What a goal judges: the ratio or the value, with its unit. */
const judged = (f: Figure) => (f.goal?.on === 'ratio' ? `${num(f.ratio)}×` : num(f.value, f.unit));
const when = (r: Report) => `${r.date.slice(0, 16).replace('T', ' ')} UTC, load ${r.machine.loadavg.map((l) => l.toFixed(1)).join(' ')}`;

export function compareVerdicts(previous: Report, current: Report, label = 'previous run'): Comparison {
  const before = new Map(previous.figures.filter((f) => f.goal).map((f) => [f.id, f]));
  const rows: string[] = [];
  const disagreements: string[] = [];
  let compared = 0;
  for (const f of current.figures.filter((g) => g.goal)) {
    const p = before.get(f.id);
    if (!p) {
      rows.push(`| ${f.name} | not measured | ${judged(f)} ${verdictOf(f)} | — |`);
      continue;
    }
    compared++;
    const agree = verdictOf(p) === verdictOf(f);
    if (!agree) disagreements.push(`${f.name}: ${verdictOf(p)} in the ${label}, ${verdictOf(f)} in this one`);
    rows.push(`| ${f.name} | ${judged(p)} ${verdictOf(p)} | ${judged(f)} ${verdictOf(f)} | ${agree ? 'yes' : '**no**'} |`);
  }
  const markdown = [
    `## Verdicts against the ${label}`,
    '',
    `The ${label}: ${previous.suite}, ${when(previous)}, ${previous.machine.cpus} × ${previous.machine.cpuModel}. This run: ${when(current)}.`,
    `${compared} goals judged in both; ${disagreements.length === 0 ? 'every verdict agrees' : `${disagreements.length} disagree`}.`,
    '',
    `| goal | ${label} | this run | agree |`,
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  return { markdown, disagreements, compared };
}

/** The previous run of the same mode in `file`, if there is one that parses. */
export function previousRun(file: string, mode: Report['mode']): Report | undefined {
  try {
    const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
    return report.mode === mode && Array.isArray(report.figures) ? report : undefined;
  } catch {
    return undefined;
  }
}

function main(args: string[]): number {
  const [previousFile, currentFile] = args.filter((a) => !a.startsWith('--'));
  if (!previousFile || !currentFile) {
    process.stderr.write('usage: node dist/bench/compare.js PREVIOUS.json CURRENT.json [--write]\n');
    return 2;
  }
  const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  const current = read(currentFile);
  const comparison = compareVerdicts(read(previousFile), current);
  process.stdout.write(comparison.markdown);
  if (args.includes('--write')) {
    const appendix = [current.appendix, comparison.markdown].filter(Boolean).join('\n\n');
    fs.writeFileSync(currentFile.replace(/\.json$/, '.md'), toMarkdown({ ...current, appendix }));
  }
  return comparison.disagreements.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exit(main(process.argv.slice(2)));
}
