/**
 * The data directory is private (issue 25: it and the database were readable by every user of the
 * machine): a server making one makes it 0700, its credentials 0600, and the database and
 * recordings inside can only be reached through it; a directory others can read is named in a
 * warning at start, with the command that closes it, and left as it is.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { warnIfLoose } from '../src/control/data-dir.js';
import { startTestServer, tempDir } from './helpers/server.js';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

test('a server on a new data directory makes it 0700 and its credentials 0600', async () => {
  const dataDir = path.join(tempDir(), 'fresh', 'data');
  const t = await startTestServer({ dataDir });
  try {
    assert.equal(mode(dataDir).toString(8), '700');
    assert.equal(mode(path.join(dataDir, 'credentials.json')).toString(8), '600');
    assert.ok(
      fs.readdirSync(dataDir).some((f) => f.endsWith('.db') || f.endsWith('.sqlite')),
      'the database is inside',
    );
  } finally {
    await t.close();
  }
});

test('a data directory others can read is named in a warning with the fix, and left as it is', () => {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const loose = tempDir();
  fs.chmodSync(loose, 0o755);
  warnIfLoose(loose, log);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 40);
  assert.match(lines[0]!.msg, /can be read by other users \(mode 755\).*chmod 700/);
  assert.equal(mode(loose).toString(8), '755', 'not changed behind the operator’s back');
  fs.chmodSync(loose, 0o700);
  warnIfLoose(loose, log);
  assert.equal(lines.length, 1, 'nothing said of a private one');
});
