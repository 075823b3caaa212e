/**
 * The demo space `npm start` opens: one live space on the embedded default, reused across restarts
 * of the same data directory, with its links printed for a newcomer.
 */
import { SpeakerBot } from '../bots/speaker-bot.js';
import { chimeFrame } from '../bots/tone.js';
import { actorFromClaims } from '../control/actor.js';
import { createToken } from '../control/tokens.js';
import { asIdentity } from '../ids.js';
import type { RostrumServer } from '../server.js';

const DEMO_HOST = asIdentity('demo-host');
const DEMO_SPEAKER = 'demo-bot';

/**
 * Seats the built-in bot speaker on the demo stage and keeps it playing a chime, so a newcomer who
 * opens the link hears the broadcast at once. Retries every 5 s until it is on stage. Returns a stopper.
 */
function startDemoSpeaker(server: RostrumServer, spaceId: string): () => Promise<void> {
  // The bot reaches the server where this machine does, not through the public URL (an edge in front).
  const { credentials, localUrl, log } = server;
  let bot: SpeakerBot | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const join = async (): Promise<void> => {
    const token = createToken({
      ...credentials,
      identity: DEMO_SPEAKER,
      name: 'Demo bot',
      space: spaceId,
      role: 'speaker',
      ttlSeconds: 24 * 3600,
    });
    const post = (path: string) =>
      fetch(`${localUrl}/api/spaces/${spaceId}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await post('/stage'); // 200, or 409 when it is already seated (a restart)
    const unmuted = await post(`/participants/${DEMO_SPEAKER}/unmute`);
    if (!unmuted.ok) throw new Error(`could not take the stage: HTTP ${unmuted.status}`);
    bot = await SpeakerBot.join({ server: localUrl, token, frameAt: (i) => chimeFrame(i), keepHeard: false });
    if (stopped) await bot.close();
    else log.info({ spaceId, identity: DEMO_SPEAKER }, 'demo speaker on stage');
  };
  const attempt = (): void => {
    join().catch((err: unknown) => {
      log.warn({ err, spaceId }, 'demo speaker could not join; retrying in 5 s');
      if (!stopped) retry = setTimeout(attempt, 5000);
    });
  };
  attempt();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await bot?.close();
  };
}

export async function ensureDemoSpace(server: RostrumServer): Promise<() => Promise<void>> {
  const { credentials, spaces, urls } = server;
  const operator = actorFromClaims({ iss: credentials.apiKey, sub: asIdentity('operator'), iat: 0, exp: 0, operator: true });
  const existing = (await spaces.list({ states: ['live'], hostIdentity: DEMO_HOST, limit: 1 }))[0];
  const space =
    existing ??
    (await spaces.create(operator, { title: 'Rostrum demo space', hostIdentity: DEMO_HOST, hostName: 'Demo Host', startNow: true })).space;
  const hostToken = createToken({
    ...credentials,
    identity: DEMO_HOST,
    name: 'Demo Host',
    space: space.id,
    role: 'host',
    ttlSeconds: 24 * 3600,
  });
  server.log.info({ spaceId: space.id }, 'demo space live');
  process.stdout.write(
    [
      '',
      `  Rostrum is running at ${urls.base}`,
      `  Demo space "${space.title}" is live (${space.id})`,
      `    listen:  ${urls.page(space.id)}`,
      `    host:    ${urls.page(space.id)}#token=${hostToken}`,
      `    HLS:     ${urls.playlist(space.id)}  (any HLS player: Safari, VLC, ffplay)`,
      `    state:   ${urls.state(space.id)}`,
      `    API:     ${urls.base}/api/openapi.json`,
      '',
      '  A bot speaker plays a chime on stage. Try: npx rostrum space list',
      `  or: npx rostrum bot listen --space ${space.id} --seconds 5`,
      '',
    ].join('\n'),
  );
  return startDemoSpeaker(server, space.id);
}
