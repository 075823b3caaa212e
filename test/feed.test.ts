/**
 * A host's podcast feed meets Apple Podcasts' requirements (issue 26): every tag Apple requires,
 * read back by an independent parser (rss-parser), from settings set per host with the CLI, or the
 * defaults — among them an artwork Rostrum draws, a real 1400 × 1400 PNG. Spaces made with
 * `rostrum space create --host` are in their host's feed only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import Parser from 'rss-parser';
import { runCli, startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t: TestServer;
const cli = async (...args: string[]) => {
  const run = await runCli([...args, '--server', t.url, '--data', t.dataDir]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
};

/** A recorded space of `host`, ended, its file made. */
async function recorded(host: string, name: string, title: string): Promise<string> {
  const { id } = JSON.parse(await cli('space', 'create', '--title', title, '--host', host, '--host-name', name, '--start', '--json'));
  await sleep(2500);
  await cli('space', 'end', id);
  for (let i = 0; i < 100; i++) {
    const file = await fetch(`${t.url}/api/spaces/${id}/recording.m4a`, { method: 'HEAD' });
    if (file.status === 200) return id;
    await sleep(200);
  }
  throw new Error('the recording was not made');
}

type Feed = Parser.Output<Record<string, unknown>> & { itunes: Record<string, any>; image?: { url: string } };

async function parsed(host: string): Promise<{ xml: string; feed: Feed }> {
  const answer = await fetch(`${t.url}/feeds/${host}.rss`);
  assert.equal(answer.status, 200);
  const xml = await answer.text();
  const parser = new Parser({ customFields: { feed: ['language'], item: ['enclosure'] } });
  return { xml, feed: (await parser.parseString(xml)) as unknown as Feed };
}

/** Apple Podcasts' required channel and episode tags (podcasters.apple.com, "Podcast RSS feed requirements"). */
function meetsApple(xml: string, feed: Feed): void {
  assert.ok(feed.title, 'title');
  assert.ok(feed.description, 'description');
  assert.ok(feed.link, 'link');
  assert.ok((feed as { language?: string }).language, 'language');
  assert.ok(feed.itunes.image, 'itunes:image');
  assert.ok((feed.itunes.categories?.length ?? 0) > 0, 'itunes:category');
  assert.match(String(feed.itunes.explicit), /^(true|false)$/, 'itunes:explicit');
  assert.ok(feed.itunes.author, 'itunes:author');
  assert.ok(feed.itunes.owner?.name, 'itunes:owner');
  assert.ok(feed.items.length > 0);
  for (const item of feed.items) {
    assert.ok(item.title, 'item title');
    assert.ok(item.guid, 'item guid');
    assert.ok(item.pubDate, 'item pubDate');
    const enclosure = item.enclosure as unknown as { url: string; length: string; type: string };
    assert.equal(enclosure.type, 'audio/x-m4a', 'an enclosure type Apple lists');
    assert.ok(Number(enclosure.length) > 0);
    assert.match(enclosure.url, /recording\.m4a$/);
    assert.match((item as { itunes?: { duration?: string } }).itunes?.duration ?? '', /^\d\d:\d\d:\d\d$/);
  }
  assert.equal((xml.match(/<itunes:image href=/g) ?? []).length, feed.items.length + 1, 'channel and item artwork');
}

describe('podcast feeds, per host', { timeout: 120_000 }, () => {
  before(async () => {
    t = await startTestServer();
    await recorded('ana', 'Ana', 'Ana’s first');
    await recorded('bo', 'Bo', 'Bo’s only');
  });
  after(() => t?.close());

  test('with the defaults: every tag Apple requires, and an artwork Rostrum draws (a 1400 × 1400 PNG)', async () => {
    const { xml, feed } = await parsed('bo');
    meetsApple(xml, feed);
    assert.deepEqual(
      feed.items.map((i) => i.title),
      ['Bo’s only'],
      'only this host’s spaces',
    );
    assert.equal(feed.itunes.image, `${t.url}/feeds/bo.png`);
    const art = await fetch(feed.itunes.image);
    assert.equal(art.headers.get('content-type'), 'image/png');
    const png = PNG.sync.read(Buffer.from(await art.arrayBuffer()));
    assert.equal(png.width, 1400);
    assert.equal(png.height, 1400);
    assert.equal((await fetch(`${t.url}/feeds/nobody.png`)).status, 404);
  });

  test('set with the CLI: the feed says what the host set', async () => {
    await cli(
      'feed',
      'set',
      'ana',
      '--title',
      'Ana Live',
      '--description',
      'Conversations & <news>',
      '--owner-name',
      'Ana Ltd',
      '--owner-email',
      'pod@example.com',
      '--image',
      'https://cdn.example.com/ana.jpg',
      '--category',
      'Technology',
      '--subcategory',
      'Tech News',
      '--explicit',
      '--language',
      'fr',
    );
    const { xml, feed } = await parsed('ana');
    meetsApple(xml, feed);
    assert.equal(feed.title, 'Ana Live');
    assert.equal(feed.description, 'Conversations & <news>');
    assert.equal(feed.itunes.image, 'https://cdn.example.com/ana.jpg');
    assert.deepEqual(feed.itunes.owner, { name: 'Ana Ltd', email: 'pod@example.com' });
    assert.equal(feed.itunes.explicit, 'true');
    assert.deepEqual(feed.itunes.categories, ['Technology']);
    assert.match(xml, /<itunes:category text="Technology"><itunes:category text="Tech News"\/><\/itunes:category>/);
    assert.equal((feed as { language?: string }).language, 'fr');
    assert.deepEqual(
      feed.items.map((i) => i.title),
      ['Ana’s first'],
    );
    const shown = JSON.parse(await cli('feed', 'show', 'ana'));
    assert.equal(shown.ownerEmail, 'pod@example.com');
    assert.equal(shown.defaults.category, 'Society & Culture');
  });

  test('bad settings are refused with a code, and only the operator sets them', async () => {
    const put = (body: unknown, token = t.operator) => t.api.call('PUT', '/api/hosts/ana/feed', { token, body });
    for (const body of [
      { category: 'Cooking' },
      { imageUrl: 'javascript:alert(1)' },
      { ownerEmail: 'not an email' },
      { title: '' },
      { colour: 'red' },
    ]) {
      const refused = await put(body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.match(refused.body.error.code, /^(validation_failed|unknown_field)$/);
    }
    const { body } = await t.api.post('/api/spaces', { token: t.operator, body: { title: 'x', host: { identity: 'ana' } } });
    assert.equal((await put({ title: 'Mine now' }, t.token(body.id, 'ana', 'host'))).status, 403);
    const { feed } = await parsed('ana');
    assert.equal(feed.title, 'Ana Live', 'unchanged');
  });
});
