/**
 * The `rostrum` command line against a running server, as a user's script would call it: the
 * contract's commands, flags and JSON fields, and one-line failures with a non-zero exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { TokenAuthority } from '../src/control/tokens.js';
import { BIN, type ChildServer, spawnServer, tempDir } from './helpers/server.js';

describe('rostrum CLI', () => {
  let server: ChildServer;
  let dataDir: string;
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ROSTRUM_URL: server.url, ROSTRUM_DATA: dataDir, ...env },
      timeout: 20_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  before(async () => {
    dataDir = tempDir();
    server = await spawnServer(dataDir);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  test('space create --json prints one object with id, state, hostUrl and listenUrl', () => {
    const at = new Date(Date.now() + 86_400_000).toISOString();
    const out = run(['space', 'create', '--title', 'Launch night', '--at', at, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const space = JSON.parse(lines[0]!);
    assert.equal(space.state, 'scheduled');
    assert.equal(space.title, 'Launch night');
    assert.equal(space.scheduledStart, at);
    assert.match(space.id, /^[A-Za-z0-9_-]+$/);
    assert.equal(space.listenUrl, `${server.url}/s/${space.id}`);
    assert.match(space.hostUrl, /#token=ey/);
    assert.equal(space.autoStart, false);
  });

  test('space create --auto-start --at: the space goes live by itself at that time', () => {
    const at = new Date(Date.now() + 86_400_000).toISOString();
    const out = run(['space', 'create', '--title', 'On its own', '--at', at, '--auto-start', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const space = JSON.parse(out.stdout.trim());
    assert.equal(space.autoStart, true);
    assert.equal(space.scheduledStart, at);
  });

  test('space start, list and end move a space through its life', () => {
    const space = JSON.parse(run(['space', 'create', '--title', 'Lifecycle', '--json']).stdout);

    const started = run(['space', 'start', space.id, '--json']);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(JSON.parse(started.stdout).state, 'live');

    const listed = run(['space', 'list', '--json', '--state', 'live']);
    const ids = JSON.parse(listed.stdout).map((s: { id: string }) => s.id);
    assert.ok(ids.includes(space.id));

    const ended = run(['space', 'end', space.id]);
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stdout, new RegExp(`${space.id}\\s+ended`));
  });

  test('token prints a token for the identity, role and space, signed by the server key', () => {
    const space = JSON.parse(run(['space', 'create', '--title', 'Tokens', '--json']).stdout);
    const out = run(['token', '--space', space.id, '--identity', 'guest-1', '--role', 'speaker']);
    assert.equal(out.code, 0, out.stderr);
    const token = out.stdout.trim();
    const creds = JSON.parse(require_('fs').readFileSync(`${dataDir}/credentials.json`, 'utf8'));
    const claims = new TokenAuthority([creds], 0).verify(token);
    assert.equal(claims.sub, 'guest-1');
    assert.equal(claims.role, 'speaker');
    assert.equal(claims.space, space.id);
  });

  test('failures exit non-zero with one line on stderr', () => {
    for (const [args, pattern] of [
      [['space', 'start', 'NoSuchSpace'], /space_not_found/],
      [['space', 'create', '--title', 'x', '--at', 'someday'], /not an ISO-8601 time/],
      [['space', 'create', '--title', 'x', '--auto-start'], /--auto-start needs --at/],
      [['token', '--space', 'x', '--identity', 'y', '--role', 'king'], /Allowed choices|invalid/i],
      [['space', 'list', '--server', 'http://127.0.0.1:9'], /cannot reach/],
    ] as const) {
      const out = run([...args]);
      assert.notEqual(out.code, 0, args.join(' '));
      assert.match(out.stderr, pattern, args.join(' '));
      assert.equal(
        out.stderr
          .trim()
          .split('\n')
          .filter((l) => !/^\(Did you mean|^Usage:|^\s|^$|^Options:/.test(l)).length >= 1,
        true,
      );
      assert.match(out.stderr.trim().split('\n')[0]!, pattern);
    }
  });

  test('without credentials the CLI says where it looked', () => {
    const out = run(['space', 'list'], { ROSTRUM_DATA: tempDir() });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /No operator credentials/);
    assert.equal(out.stderr.trim().split('\n').length, 1);
  });

  test('operator credentials from the environment work the same as the data directory', () => {
    const creds = JSON.parse(require_('fs').readFileSync(`${dataDir}/credentials.json`, 'utf8'));
    const out = run(['space', 'list', '--json'], {
      ROSTRUM_DATA: tempDir(),
      ROSTRUM_API_KEY: creds.apiKey,
      ROSTRUM_API_SECRET: creds.apiSecret,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.ok(Array.isArray(JSON.parse(out.stdout)));
  });
});

import { createRequire } from 'node:module';

const require_ = createRequire(import.meta.url);
