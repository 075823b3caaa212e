/**
 * Titles and names in every output, as independent parsers read them back (issue 25): a title like
 * `$'` copied the rest of the page into the page (the shell's `String.prototype.replace` read it as
 * a pattern, on the space's page and on the home page, which lists every title), and characters XML
 * 1.0 forbids broke the host's podcast feed.
 *
 * - The renderers, for any string (a name from a token signed elsewhere, a title stored before the
 *   API refused controls): the page parsed by parse5 (WHATWG), the feed by saxes (a conforming XML
 *   1.0 parser), the .ics by ical.js give back the text, with what the format cannot carry as U+FFFD.
 * - The API end to end, for any string: a title that is not one line of text is refused (400
 *   validation_failed, nothing created); any other comes back exactly from the space's page, the
 *   home page, the state document and the calendar event.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { type DefaultTreeAdapterMap, parse } from 'parse5';
import { SaxesParser } from 'saxes';
import { icsText, spaceCalendar } from '../src/api/calendar.js';
import { PageShell } from '../src/api/page-shell.js';
import { renderFeed } from '../src/broadcast/feed.js';
import type { Space } from '../src/control/model.js';
import { escapeMarkup, visibleText } from '../src/escape.js';
import { startTestServer, type TestServer, tempDir } from './helpers/server.js';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

/** Strings that broke something, or could: replacement patterns, markup, controls, lone surrogates. */
const NASTY = ["$'", '$`', '$&', '$$', '$1', '<!--ssr-->', '<title>Rostrum</title>', '</script>', ']]>', '&amp;', '"', "'", '<', '>'];
const CONTROLS = ['\u0000', '\u0001', '\t', '\n', '\r', '\r\n', '\u000b', '\u000c', '\u001f', '\u007f', '\u0085', '\u2028'];
const ODD = ['\ud800', '\udfff', '\ufffe', '\uffff', '\ufdd0', '😀', 'e\u0301', '\u202e'];

/** Any string of UTF-16 code units, weighted towards the ones that matter here. */
const anyText = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
        { weight: 2, arbitrary: fc.constantFrom(...NASTY, ...CONTROLS, ...ODD) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) },
      ),
      { maxLength },
    )
    .map((parts) => parts.join(''));

/** A title the API takes: one line of visible text (no controls, lone surrogates or noncharacters), 1 to 140 code points. */
const isTextLine = (s: string) =>
  /\S/u.test(s) && !/[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u.test(s) && [...s].length >= 1 && [...s].length <= 140;

function find(node: Node, match: (e: Element) => boolean): Element | undefined {
  if ('tagName' in node && match(node)) return node;
  for (const child of 'childNodes' in node ? node.childNodes : []) {
    const found = find(child, match);
    if (found) return found;
  }
  return undefined;
}

function text(node: Node): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterMap['textNode']).value;
  return ('childNodes' in node ? node.childNodes : []).map(text).join('');
}

const attr = (e: Element | undefined, name: string) => e?.attrs.find((a) => a.name === name)?.value;

/** What a browser reads of a page: its <title>, og:title, and the text of the element `match` finds. */
function readPage(html: string, match: (e: Element) => boolean) {
  const doc = parse(html);
  return {
    title: text(find(doc, (e) => e.tagName === 'title')!),
    ogTitle: attr(
      find(doc, (e) => e.tagName === 'meta' && attr(e, 'property') === 'og:title'),
      'content',
    ),
    content: (() => {
      const e = find(doc, match);
      return e ? text(e) : undefined;
    })(),
  };
}

/** The feed through a conforming XML 1.0 parser: the first item's title and the author (throws on any error). */
function readFeed(xml: string): { itemTitle: string; author: string } {
  const parser = new SaxesParser({ xmlns: true });
  const stack: string[] = [];
  const texts = new Map<string, string>();
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (tag) => stack.push(tag.name));
  parser.on('closetag', () => stack.pop());
  parser.on('text', (t) => {
    const where = stack.join('/');
    texts.set(where, (texts.get(where) ?? '') + t);
  });
  parser.write(xml).close();
  return { itemTitle: texts.get('rss/channel/item/title') ?? '', author: texts.get('rss/channel/itunes:author') ?? '' };
}

function readEvent(ics: string): { summary: string; description: string } {
  const event = new ICAL.Event(new ICAL.Component(ICAL.parse(ics)).getFirstSubcomponent('vevent')!);
  return { summary: event.summary, description: event.description };
}

const shellFile = path.join(tempDir(), 'index.html');
fs.writeFileSync(
  shellFile,
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rostrum</title></head><body><div id="app"><!--ssr--></div><script type="module" src="/app/main.js"></script></body></html>',
);

function space(title: string, hostName: string): Space {
  const t = Date.UTC(2026, 11, 4, 20);
  return {
    id: 'AbCdEfGhIjKl',
    title,
    hostName,
    scheduledStart: t,
    startedAt: t,
    endedAt: t + 3_600_000,
    updatedAt: t,
  } as unknown as Space;
}

test('the page shell, for any title: parse5 reads back the title, og:title and content, and nothing else moved', () => {
  const shell = new PageShell(shellFile);
  fc.assert(
    fc.property(anyText(40), (title) => {
      // As the routes fill it: the title, escaped, in the content too.
      const html = shell.render(title, `<main><h1>${escapeMarkup(title)}</h1></main>`);
      const page = readPage(html, (e) => e.tagName === 'h1');
      assert.equal(page.title, visibleText(title));
      assert.equal(page.ogTitle, visibleText(title));
      assert.equal(page.content, visibleText(title));
      // The shell's own parts, once each: a pattern in the title copied them.
      assert.equal(html.split('<script type="module"').length, 2);
      assert.equal(html.split('<!doctype html>').length, 2);
    }),
    { numRuns: 2000, examples: NASTY.map((s) => [s]) },
  );
});

test('the podcast feed, for any title and host name: a conforming XML parser reads it, and reads them back', () => {
  fc.assert(
    fc.property(anyText(40), anyText(20), (title, host) => {
      const xml = renderFeed({
        hostName: host,
        feedUrl: 'http://127.0.0.1/feed.xml',
        siteUrl: 'http://127.0.0.1/',
        defaultImageUrl: 'http://127.0.0.1/feeds/h.png',
        // The host's own settings are users' text too.
        settings: { description: title, ownerName: host, subcategory: title },
        items: [
          {
            space: space(title, host),
            recording: { duration: 61, bytes: 1000, createdAt: Date.UTC(2026, 11, 4) } as never,
            pageUrl: 'http://127.0.0.1/s/AbCdEfGhIjKl',
            recordingUrl: 'http://127.0.0.1/r.m4a',
          },
        ],
      });
      const feed = readFeed(xml);
      assert.equal(feed.itemTitle, visibleText(title));
      assert.equal(feed.author, visibleText(host));
    }),
    { numRuns: 2000, examples: [...CONTROLS, ...ODD].map((s) => [s, s]) },
  );
});

test('the calendar event, for any title and host name: ical.js reads them back', () => {
  fc.assert(
    fc.property(anyText(40), anyText(20), (title, host) => {
      const event = readEvent(spaceCalendar(space(title, host), 'http://127.0.0.1/s/AbCdEfGhIjKl', Date.UTC(2026, 11, 4)));
      assert.equal(event.summary, icsText(title));
      assert.equal(event.description, icsText(`${host} hosts "${title}" on Rostrum. Listen: http://127.0.0.1/s/AbCdEfGhIjKl`));
    }),
    { numRuns: 1000, examples: [...CONTROLS, ...ODD, ...NASTY].map((s) => [s, s]) },
  );
});

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

test('any title through the API: refused with validation_failed unless one line of text, else read back exactly from every output', async () => {
  const { api, operator } = server;
  await fc.assert(
    fc.asyncProperty(anyText(30), anyText(12), async (title, name) => {
      const body = {
        title,
        scheduledStart: new Date(Date.now() + 3_600_000).toISOString(),
        host: { identity: 'host', name },
      };
      const created = await api.post('/api/spaces', { token: operator, body });
      if (!isTextLine(title) || !isTextLine(name) || [...name].length > 100) {
        assert.equal(created.status, 400, JSON.stringify({ title, name, body: created.body }));
        assert.equal(created.body.error.code, 'validation_failed');
        assert.match(created.body.error.message, /body\/(title|host\/name) must (be one line of visible text|NOT have (fewer|more))/);
        return;
      }
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      try {
        const html = { headers: { accept: 'text/html' } };
        const page = readPage((await api.get(`/s/${id}`, html)).body, (e) => e.tagName === 'h1');
        assert.deepEqual(page, { title: `${title} · Rostrum`, ogTitle: `${title} · Rostrum`, content: title });
        const home = readPage((await api.get('/', html)).body, (e) => e.tagName === 'a' && attr(e, 'href') === `/s/${id}`);
        assert.equal(home.content, title, 'listed on the home page as it is');
        const state = await api.get(`/api/spaces/${id}/state`);
        assert.equal(state.body.title, title);
        const event = readEvent((await api.get(`/api/spaces/${id}/calendar.ics`)).body);
        assert.equal(event.summary, title);
        assert.ok(event.description.startsWith(`${name} hosts "${title}" on Rostrum. Listen: `), event.description);
      } finally {
        // Ended, so the home page's fifty stay the newest.
        await api.post(`/api/spaces/${id}/end`, { token: operator });
      }
    }),
    { numRuns: 150, examples: NASTY.map((s) => [s, 'Host']) },
  );
});
