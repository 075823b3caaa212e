/**
 * Reads a V8 CPU profile (`node --cpu-prof`, written by each server child when `npm run bench --
 * --profile` stops it) and lists the functions with the most self time, also per request served,
 * so Rostrum's join and the bare reference can be compared without opening a profiler UI.
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  /** Self time divided by the requests the server answered, microseconds. */
  usPerRequest: number;
  /** Share of the busy (not idle) sampled time. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  requests: number;
  /** Busy (not idle) time per request, microseconds: the server's whole cost of one answer. */
  busyUsPerRequest: number;
  hot: HotFunction[];
}

/** The newest .cpuprofile in a folder, or undefined. */
export function newestProfile(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

export function summarize(file: string, requests: number, count = 20): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, HotFunction>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byNode.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    busy += micros;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '');
    const where = frame.url ? `${file}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}@${where}`;
    const entry = totals.get(key) ?? { name: frame.functionName || '(anonymous)', where, selfMs: 0, usPerRequest: 0, percent: 0 };
    entry.selfMs += micros / 1000;
    totals.set(key, entry);
  });
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const hot = [...totals.values()]
    .map((e) => ({
      ...e,
      selfMs: Math.round(e.selfMs),
      usPerRequest: requests > 0 ? round1((e.selfMs * 1000) / requests) : 0,
      percent: busy > 0 ? round1((e.selfMs * 1000 * 100) / busy) : 0,
    }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, count);
  return { file, requests, busyUsPerRequest: requests > 0 ? round1(busy / requests) : 0, hot };
}

export function profileMarkdown(title: string, s: ProfileSummary): string {
  return [
    `### ${title}: ${s.busyUsPerRequest} µs busy per request over ${s.requests} requests`,
    '',
    s.file,
    '',
    '| self ms | µs/request | % of busy | function | where |',
    '|---|---|---|---|---|',
    ...s.hot.map((h) => `| ${h.selfMs} | ${h.usPerRequest} | ${h.percent} | ${h.name} | ${h.where} |`),
  ].join('\n');
}
