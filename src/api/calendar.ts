/**
 * A scheduled space as an RFC 5545 calendar event: the one reminder a listener without an account can
 * keep. Made with ical-generator (escaping, line folding and the required properties are its job).
 * The event's UID is the space's, so a calendar that imports the file again updates the event; its
 * SEQUENCE follows the space's last change (seconds), so a moved start time replaces the old one.
 * A space has no planned end: the event is given an hour.
 */
import ical, { ICalCalendarMethod, ICalEventStatus } from 'ical-generator';
import type { Space } from '../control/model.js';
import { visibleText } from '../escape.js';

export const CALENDAR_EVENT_MS = 60 * 60_000;

/**
 * Text an RFC 5545 TEXT value can carry (§3.3.11: no CONTROL but tab; line breaks are escaped as
 * \n by ical-generator): the controls XML forbids become U+FFFD as in the pages and the feed
 * (escape.ts), DEL too, and a carriage return a line break.
 */
export function icsText(s: string): string {
  return visibleText(s)
    .replace(/\r\n?/g, '\n')
    .replace(/\u007f/g, '\ufffd');
}

export function spaceCalendar(space: Space, pageUrl: string, now: number = Date.now()): string {
  const start = space.startedAt ?? space.scheduledStart;
  if (start === null) throw new Error('a space without a start time has no calendar event');
  const calendar = ical({ prodId: { company: 'Rostrum', product: 'Rostrum', language: 'EN' }, method: ICalCalendarMethod.PUBLISH });
  calendar.createEvent({
    id: `${space.id}@${new URL(pageUrl).host}`,
    sequence: Math.floor(space.updatedAt / 1000),
    stamp: new Date(now),
    start: new Date(start),
    end: new Date(space.endedAt ?? start + CALENDAR_EVENT_MS),
    summary: icsText(space.title),
    description: icsText(`${space.hostName} hosts "${space.title}" on Rostrum. Listen: ${pageUrl}`),
    url: pageUrl,
    status: ICalEventStatus.CONFIRMED,
  });
  return calendar.toString();
}
