/**
 * A host's podcast feed: RSS 2.0 with the iTunes tags podcast apps read, one item per ended space
 * of theirs whose recording was kept, the recording as the enclosure (audio/mp4, its byte length).
 */
import type { Space } from '../control/model.js';
import { escapeMarkup } from '../escape.js';
import type { RecordingInfo } from './recording-store.js';

export interface FeedItem {
  space: Space;
  recording: RecordingInfo;
  pageUrl: string;
  recordingUrl: string;
}

export interface FeedChannel {
  hostName: string;
  feedUrl: string;
  siteUrl: string;
  items: FeedItem[];
}

const xml = escapeMarkup;

/** Seconds as the iTunes duration HH:MM:SS. */
export function itunesDuration(seconds: number): string {
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

export function renderFeed(channel: FeedChannel): string {
  const title = `${channel.hostName} on Rostrum`;
  const items = channel.items.map(({ space, recording, pageUrl, recordingUrl }) =>
    [
      '    <item>',
      `      <title>${xml(space.title)}</title>`,
      `      <link>${xml(pageUrl)}</link>`,
      `      <guid isPermaLink="false">rostrum:${xml(space.id)}</guid>`,
      `      <pubDate>${new Date(space.endedAt ?? recording.createdAt).toUTCString()}</pubDate>`,
      `      <description>${xml(`A live conversation hosted by ${space.hostName}.`)}</description>`,
      `      <enclosure url="${xml(recordingUrl)}" length="${recording.bytes}" type="audio/mp4"/>`,
      `      <itunes:duration>${itunesDuration(recording.duration)}</itunes:duration>`,
      '      <itunes:explicit>false</itunes:explicit>',
      '    </item>',
    ].join('\n'),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom">',
    '  <channel>',
    `    <title>${xml(title)}</title>`,
    `    <link>${xml(channel.siteUrl)}</link>`,
    `    <atom:link href="${xml(channel.feedUrl)}" rel="self" type="application/rss+xml"/>`,
    `    <description>${xml(`Recorded live audio conversations hosted by ${channel.hostName}.`)}</description>`,
    '    <language>en</language>',
    `    <itunes:author>${xml(channel.hostName)}</itunes:author>`,
    '    <itunes:explicit>false</itunes:explicit>',
    '    <itunes:type>episodic</itunes:type>',
    ...items,
    '  </channel>',
    '</rss>',
    '',
  ].join('\n');
}
