/**
 * A replay trimmed by its host: its start and end cut at part boundaries, with no re-encoding. Every
 * part is a whole fragment (moof + mdat, ~256 ms) that decodes on its own, so a trimmed replay keeps
 * whole segments in the middle and, at each edge, the parts of one segment that fall inside the trim
 * (a slice, served under a name of its own: `<msn>.p<first>-<end>.m4s`, so that what an edge cached
 * as a whole segment is never replaced by different bytes under the same name). The recording itself
 * is left whole, so a trim can be widened again or undone; what it cuts is never served.
 *
 * Times are seconds on the replay's timeline as a player sees it: from the start of the first
 * segment, gaps counted at their length.
 */
import { boxChildren } from './fmp4.js';
import { type SegmentRecord, type SegmentSlice, segmentDuration } from './playlist.js';

export interface ReplayTrim {
  /** Seconds from the start of the recording where the replay begins. */
  start: number;
  /** Seconds from the start of the recording where it ends. */
  end: number;
}

/** The replay's length untrimmed, seconds. */
export const timelineLength = (records: readonly SegmentRecord[]): number => records.reduce((sum, r) => sum + segmentDuration(r), 0);

/**
 * The records a trimmed replay lists: a part is kept when its middle lies within the trim. Edge
 * segments keep a slice of their parts, their program date time moved to the first part kept.
 * `snapped` is the trim as kept (part boundaries); undefined when nothing would be left.
 */
export function trimRecords(
  records: readonly SegmentRecord[],
  trim: ReplayTrim,
): { records: SegmentRecord[]; snapped: ReplayTrim } | undefined {
  const kept: SegmentRecord[] = [];
  let at = 0;
  let first: number | undefined;
  let last = 0;
  for (const record of records) {
    let from = -1;
    let to = -1;
    let skipped = 0;
    record.parts.forEach((seconds, i) => {
      const middle = at + seconds / 2;
      if (middle >= trim.start && middle <= trim.end) {
        if (from < 0) from = i;
        to = i + 1;
        first ??= at;
        last = at + seconds;
      } else if (from < 0) skipped += seconds;
      at += seconds;
    });
    if (from < 0) continue;
    if (from === 0 && to === record.parts.length) {
      kept.push(record);
      continue;
    }
    kept.push({
      ...record,
      // A trimmed gap is a shorter gap: it has no parts to slice.
      ...(record.gap ? {} : { slice: [from, to, record.parts.length] as const }),
      pdt: Math.round(record.pdt + skipped * 1000),
      parts: record.parts.slice(from, to),
    });
  }
  if (first === undefined || kept.every((r) => r.gap)) return undefined;
  // The first segment kept opens the replay: nothing before it to be discontinuous with.
  const head = kept[0];
  if (head?.discontinuity) kept[0] = { ...head, discontinuity: false };
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return { records: kept, snapped: { start: round(first), end: round(last) } };
}

/**
 * Parts [first, end) of a recorded segment of `parts` parts: its fragments (a moof and what follows
 * it up to the next moof) in order. Undefined when the segment does not hold that many fragments
 * (damaged): it is then not served, like any damaged segment.
 */
export function sliceSegment(data: Buffer, [first, end, parts]: SegmentSlice): Buffer | undefined {
  const starts: number[] = [];
  try {
    for (const box of boxChildren(data, 0, data.length)) if (box.type === 'moof') starts.push(box.offset);
  } catch {
    return undefined;
  }
  if (starts.length !== parts || first < 0 || end > parts || first >= end) return undefined;
  return data.subarray(starts[first], end < parts ? starts[end] : data.length);
}
