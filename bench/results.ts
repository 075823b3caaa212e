/**
 * The bench's results as files: bench/results/latest.json for machines (every figure with its value,
 * unit, reference value, ratio, goal and pass) and bench/results/latest.md for people (the same as a
 * table, with the machine, the settings and the rounds). A figure without a goal is informational.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Goal {
  /** What the goal is about: the figure's value or its ratio to the reference. */
  on: 'value' | 'ratio';
  op: '>=' | '<=' | '==';
  target: number;
}

export interface Figure {
  id: string;
  name: string;
  value: number;
  unit: string;
  reference: number | null;
  ratio: number | null;
  goal: Goal | null;
  /** null when the figure has no goal (reported for information). */
  pass: boolean | null;
  note?: string;
}

export interface RoundSummary {
  referenceRps: number;
  joinRps: number;
  ratio: number;
  joinP99Ms: number;
  failures: number;
}

export interface Report {
  suite: string;
  date: string;
  mode: 'quick' | 'full';
  durationSeconds: number;
  machine: {
    node: string;
    platform: string;
    arch: string;
    release: string;
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    loadavg: number[];
    wrk: string;
  };
  settings: Record<string, string | number>;
  figures: Figure[];
  /** The join suite's alternating rounds (other suites have none). */
  rounds?: RoundSummary[];
  /** Anything that invalidates the run (failed sanity checks); non-empty means failed. */
  problems: string[];
  /**
   * Why the run says nothing about Rostrum, when it does not (its load generator was saturated):
   * non-empty means the verdict is VOID — the figures are shown, as neither a pass nor a fail.
   */
  voided?: string[];
  pass: boolean;
  /** Extra markdown for the end of latest.md (e.g. a CPU profile summary). */
  appendix?: string;
  details?: unknown;
}

export type Verdict = 'PASS' | 'FAIL' | 'VOID';

/** A report's verdict: a failure of the run itself counts; a void run's figures do not. */
export function verdict(report: Pick<Report, 'pass' | 'problems' | 'voided'>): Verdict {
  if (report.problems.length > 0) return 'FAIL';
  if ((report.voided?.length ?? 0) > 0) return 'VOID';
  return report.pass ? 'PASS' : 'FAIL';
}

export function judge(figure: Omit<Figure, 'pass'>): Figure {
  const { goal } = figure;
  if (!goal) return { ...figure, pass: null };
  const actual = goal.on === 'ratio' ? figure.ratio : figure.value;
  let pass = false;
  if (actual !== null && Number.isFinite(actual)) {
    if (goal.op === '>=') pass = actual >= goal.target;
    else if (goal.op === '<=') pass = actual <= goal.target;
    else pass = actual === goal.target;
  }
  return { ...figure, pass };
}

/** A number for people: thousands separated, about three significant digits. */
export function num(value: number | null, unit = ''): string {
  if (value === null) return '—';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}${unit ? ` ${unit}` : ''}`;
}

function goalText(goal: Goal | null): string {
  if (!goal) return '—';
  const op = { '>=': '≥', '<=': '≤', '==': '=' }[goal.op];
  return `${goal.on === 'ratio' ? 'ratio ' : ''}${op} ${goal.target}`;
}

export function toMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# Rostrum benchmark: ${report.suite} (${report.mode})`,
    '',
    `**${verdict(report)}** — ${report.date}, took ${Math.round(report.durationSeconds)} s.`,
    '',
    ...(report.voided?.length
      ? [`Void — this run says nothing about Rostrum, neither pass nor fail: ${report.voided.join('; ')}.`, '']
      : []),
    `Machine: node ${m.node}, ${m.platform} ${m.arch} ${m.release}, ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, load ${m.loadavg.map((l) => l.toFixed(2)).join(' ')}, ${m.wrk}.`,
    '',
    `Settings: ${Object.entries(report.settings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    '| figure | value | reference | ratio | goal | pass/fail |',
    '|---|---|---|---|---|---|',
    ...report.figures.map(
      (f) =>
        `| ${f.name} | ${num(f.value, f.unit)} | ${num(f.reference, f.reference === null ? '' : f.unit)} | ${num(f.ratio)} | ${goalText(f.goal)} | ${f.pass === null ? 'info' : f.pass ? 'pass' : '**FAIL**'} |`,
    ),
    '',
    ...report.figures.filter((f) => f.note).map((f) => `- ${f.name}: ${f.note}`),
    ...(report.rounds?.length
      ? [
          '',
          '## Rounds (reference and Rostrum alternating)',
          '',
          '| round | reference req/s | join req/s | ratio | join p99 | failures |',
          '|---|---|---|---|---|---|',
          ...report.rounds.map(
            (r, i) =>
              `| ${i + 1} | ${num(r.referenceRps)} | ${num(r.joinRps)} | ${num(r.ratio)} | ${num(r.joinP99Ms, 'ms')} | ${r.failures} |`,
          ),
        ]
      : []),
    '',
    `Problems: ${report.problems.length === 0 ? 'none' : ''}`,
    ...report.problems.map((p) => `- ${p}`),
    '',
    ...(report.appendix ? [report.appendix, ''] : []),
  ];
  return lines.join('\n');
}

/** Writes `<name>.json` and `<name>.md` (one pair per suite) into `dir`. */
export function writeResults(report: Report, dir: string, name: string): { json: string; markdown: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const markdown = path.join(dir, `${name}.md`);
  fs.writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(markdown, toMarkdown(report));
  return { json, markdown };
}
