/**
 * The demo space `npm start` opens: one live space on the embedded default, reused across restarts
 * of the same data directory, with its links printed for a newcomer.
 */
import { actorFromClaims } from '../control/actor.js';
import { createToken } from '../control/tokens.js';
import { asIdentity } from '../ids.js';
import type { RostrumServer } from '../server.js';

const DEMO_HOST = asIdentity('demo-host');

export async function ensureDemoSpace(server: RostrumServer): Promise<void> {
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
      `    state:   ${urls.state(space.id)}`,
      `    API:     ${urls.base}/api/openapi.json`,
      '',
      '  Try: npx rostrum space list',
      '',
    ].join('\n'),
  );
}
