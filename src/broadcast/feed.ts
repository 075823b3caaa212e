/**
 * A host's podcast feed: RSS 2.0 with the iTunes tags Apple Podcasts requires and recommends
 * (podcasters.apple.com, "Podcast RSS feed requirements") — channel: title, description, artwork
 * (itunes:image), language, category, explicit, author, owner, link; items: title, enclosure (the
 * recording, `audio/x-m4a` as Apple lists .m4a, its byte length), guid, pubDate, duration, artwork,
 * explicit — one item per ended space of theirs whose recording was kept. The show's settings are
 * the host's (control/host-feed.ts), with defaults for what they did not set.
 */
import { FEED_DEFAULTS, type HostFeed } from '../control/host-feed.js';
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
  /** The artwork Rostrum draws, used when the host set none. */
  defaultImageUrl: string;
  settings?: HostFeed;
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
  const settings = channel.settings ?? {};
  const title = settings.title ?? `${channel.hostName} on Rostrum`;
  const author = settings.author ?? channel.hostName;
  const image = settings.imageUrl ?? channel.defaultImageUrl;
  const explicit = String(settings.explicit ?? FEED_DEFAULTS.explicit);
  const category = settings.category ?? FEED_DEFAULTS.category;
  const items = channel.items.map(({ space, recording, pageUrl, recordingUrl }) =>
    [
      '    <item>',
      `      <title>${xml(space.title)}</title>`,
      `      <link>${xml(pageUrl)}</link>`,
      `      <guid isPermaLink="false">rostrum:${xml(space.id)}</guid>`,
      `      <pubDate>${new Date(space.endedAt ?? recording.createdAt).toUTCString()}</pubDate>`,
      `      <description>${xml(`A live conversation hosted by ${space.hostName}.`)}</description>`,
      `      <enclosure url="${xml(recordingUrl)}" length="${recording.bytes}" type="audio/x-m4a"/>`,
      `      <itunes:duration>${itunesDuration(recording.duration)}</itunes:duration>`,
      `      <itunes:image href="${xml(image)}"/>`,
      `      <itunes:explicit>${explicit}</itunes:explicit>`,
      '      <itunes:episodeType>full</itunes:episodeType>',
      '    </item>',
    ].join('\n'),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom">',
    '  <channel>',
    `    <title>${xml(title)}</title>`,
    `    <link>${xml(settings.link ?? channel.siteUrl)}</link>`,
    `    <atom:link href="${xml(channel.feedUrl)}" rel="self" type="application/rss+xml"/>`,
    `    <description>${xml(settings.description ?? `Recorded live audio conversations hosted by ${channel.hostName}.`)}</description>`,
    `    <language>${xml(settings.language ?? FEED_DEFAULTS.language)}</language>`,
    `    <image><url>${xml(image)}</url><title>${xml(title)}</title><link>${xml(settings.link ?? channel.siteUrl)}</link></image>`,
    `    <itunes:image href="${xml(image)}"/>`,
    settings.subcategory
      ? `    <itunes:category text="${xml(category)}"><itunes:category text="${xml(settings.subcategory)}"/></itunes:category>`
      : `    <itunes:category text="${xml(category)}"/>`,
    `    <itunes:explicit>${explicit}</itunes:explicit>`,
    `    <itunes:author>${xml(author)}</itunes:author>`,
    '    <itunes:owner>',
    `      <itunes:name>${xml(settings.ownerName ?? author)}</itunes:name>`,
    ...(settings.ownerEmail ? [`      <itunes:email>${xml(settings.ownerEmail)}</itunes:email>`] : []),
    '    </itunes:owner>',
    '    <itunes:type>episodic</itunes:type>',
    ...items,
    '  </channel>',
    '</rss>',
    '',
  ].join('\n');
}
