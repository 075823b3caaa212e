/**
 * LL-HLS media playlists (RFC 8216bis; Apple's HLS authoring spec), rendered from the packager's
 * view of the broadcast. Three views of the same segments:
 * - `ll`: Low-Latency — the live window with its recent parts (EXT-X-PART), a preload hint for the
 *   next part and blocking reload (EXT-X-SERVER-CONTROL);
 * - `plain`: the same window as whole segments only, for players without LL-HLS;
 * - once the broadcast has ended, both become the VOD playlist: every segment, EXT-X-ENDLIST.
 * A segment lost when a broadcast resumed on another node (or after a crash) is listed with
 * EXT-X-GAP (no media, no parts). Deviations from the authoring spec, on purpose: no EXT-X-SKIP delta updates (a 6-segment window
 * is ~2 KB), no rendition reports (one rendition), and mono audio (AAC-LC, 48 kHz): the spec's audio
 * section asks for a stereo AAC rendition, but a space is one mixed channel of voices, every HLS
 * player plays mono AAC-LC, and two copies of that channel would double the encoder's work for nothing.
 */

import { HOLD_BACK_PARTS } from '../config.js';

/** One segment as recorded (index.jsonl keeps exactly this). */
export interface SegmentRecord {
  /** Media sequence number. */
  msn: number;
  /** Which encoder run made it (its init segment is init-<run>.mp4). */
  run: number;
  /** First segment after a restart of the encoder or of the server. */
  discontinuity: boolean;
  /** Wall-clock time of its first sample, epoch ms (EXT-X-PROGRAM-DATE-TIME). */
  pdt: number;
  /** Duration of each of its parts, seconds (a gap: one entry, its length). */
  parts: number[];
  /**
   * No media: where a broadcast resumed after its node stopped or died, the segment that node may
   * have been making (and serving parts of) when it stopped is marked missing (EXT-X-GAP) instead of
   * being numbered again — so a part's URL never names two different pieces of audio (edges cache
   * them for a year), and players skip it by the playlist's own rule.
   */
  gap?: true;
  /**
   * Only some of the recorded segment's parts (a trimmed replay's first or last segment: replay-trim.ts):
   * [first, end) of the `of` parts it was recorded with. Served under a name of its own (sliceName).
   * Never recorded: a trim applies when a replay is read.
   */
  slice?: SegmentSlice;
}

/** Parts [first, end) of a segment recorded with `of` parts. */
export type SegmentSlice = readonly [first: number, end: number, of: number];

/** The name a segment is served under: `<msn>.m4s`, or for a slice of it `<msn>.p<first>-<end>.m4s`. */
export const segmentName = (s: Pick<SegmentRecord, 'msn' | 'slice'>): string =>
  s.slice ? `${s.msn}.p${s.slice[0]}-${s.slice[1]}.m4s` : `${s.msn}.m4s`;

export interface PlaylistSegment extends SegmentRecord {
  /** False for the segment still being filled (listed only as parts). */
  complete: boolean;
  /** List its parts (the last few segments of a live LL playlist). */
  listParts: boolean;
}

export interface PlaylistView {
  segments: PlaylistSegment[];
  /** Discontinuities in the segments before the first one listed (each listed one is tagged). */
  discontinuitySequence: number;
  ended: boolean;
  /** The part the next preload hint names: [msn, part]. */
  nextPart: [number, number];
  partTarget: number;
  targetDuration: number;
}

export type PlaylistKind = 'll' | 'plain';

export const segmentDuration = (s: SegmentRecord): number => s.parts.reduce((a, b) => a + b, 0);

/** A segment's record once its audio is lost (a write given up, a file damaged): a gap as long as it was. */
export function asGap(record: SegmentRecord): SegmentRecord {
  return {
    msn: record.msn,
    run: record.run,
    discontinuity: record.discontinuity,
    pdt: record.pdt,
    parts: [segmentDuration(record)],
    gap: true,
  };
}

/** Seconds of audio a segment holds (a gap holds none). */
export const mediaDuration = (s: SegmentRecord): number => (s.gap ? 0 : segmentDuration(s));

const secs = (n: number): string => n.toFixed(5).replace(/0+$/, '').replace(/\.$/, '.0');

export function renderPlaylist(view: PlaylistView, kind: PlaylistKind): string {
  const ll = kind === 'll' && !view.ended;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', `#EXT-X-TARGETDURATION:${view.targetDuration}`];
  if (view.ended) lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  if (ll) {
    // Hold back at least three parts behind the live edge (Apple: PART-HOLD-BACK ≥ 3 × PART-TARGET).
    const holdBack = secs(Math.round(view.partTarget * HOLD_BACK_PARTS * 1000) / 1000);
    lines.push(`#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${holdBack}`);
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${secs(view.partTarget)}`);
  }
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${view.segments[0]?.msn ?? view.nextPart[0]}`);
  lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${view.discontinuitySequence}`);
  let run: number | undefined;
  for (const segment of view.segments) {
    if (!segment.complete && !ll) break;
    if (segment.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (segment.run !== run) lines.push(`#EXT-X-MAP:URI="init-${segment.run}.mp4"`);
    run = segment.run;
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(segment.pdt).toISOString()}`);
    if (segment.gap) lines.push('#EXT-X-GAP');
    if (ll && segment.listParts && !segment.gap) {
      segment.parts.forEach((d, i) => {
        lines.push(`#EXT-X-PART:DURATION=${secs(d)},URI="${segment.msn}.${i}.m4s",INDEPENDENT=YES`);
      });
    }
    if (segment.complete) lines.push(`#EXTINF:${secs(segmentDuration(segment))},`, segmentName(segment));
  }
  if (ll) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${view.nextPart[0]}.${view.nextPart[1]}.m4s"`);
  if (view.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
