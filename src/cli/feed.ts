/** `rostrum feed show|set HOST`: a host's podcast settings (what /feeds/<host>.rss says about the show). */
import { Command, Option } from 'commander';
import { APPLE_CATEGORIES } from '../control/host-feed.js';
import { ApiClient } from './client.js';
import { withServerOptions } from './options.js';

const FIELDS = [
  ['title', '--title <text>', 'the show’s title (default "<host name> on Rostrum")'],
  ['description', '--description <text>', 'what the show is about'],
  ['author', '--author <name>', 'itunes:author (default the host’s name)'],
  ['ownerName', '--owner-name <name>', 'itunes:owner name (default the author)'],
  ['ownerEmail', '--owner-email <email>', 'itunes:owner email: where Apple Podcasts writes to verify the show'],
  ['imageUrl', '--image <url>', 'the artwork: a square JPEG or PNG, 1400 to 3000 px (default /feeds/<host>.png, drawn by Rostrum)'],
  ['subcategory', '--subcategory <name>', 'an Apple Podcasts subcategory of --category'],
  ['language', '--language <tag>', 'BCP 47 (default en)'],
  ['link', '--link <url>', 'the show’s site'],
] as const;

export function feedCommand(): Command {
  const feed = new Command('feed').description("a host's podcast feed: what Apple Podcasts and other apps read about the show");

  withServerOptions(feed.command('show <host>'))
    .description('the settings, and the defaults for what is not set')
    .action(async (host: string, opts) => {
      const settings = await new ApiClient(opts).request('GET', `/api/hosts/${encodeURIComponent(host)}/feed`);
      process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`);
    });

  const set = withServerOptions(feed.command('set <host>')).description(
    'set the settings (the whole set: what is not given goes back to its default)',
  );
  for (const [, flag, help] of FIELDS) set.option(flag, help);
  set
    .addOption(new Option('--category <name>', 'an Apple Podcasts category').choices([...APPLE_CATEGORIES]))
    .option('--explicit', 'the show has explicit content')
    .action(async (host: string, opts) => {
      const body: Record<string, unknown> = {};
      for (const [field, flag] of FIELDS) {
        const key = flag
          .slice(2)
          .split(' ')[0]!
          .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
        if (opts[key] !== undefined) body[field] = opts[key];
      }
      if (opts.category) body.category = opts.category;
      body.explicit = opts.explicit === true;
      const settings = await new ApiClient(opts).request('PUT', `/api/hosts/${encodeURIComponent(host)}/feed`, body);
      process.stdout.write(`${JSON.stringify(settings, null, 2)}\n`);
    });

  return feed;
}
