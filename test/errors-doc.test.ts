/**
 * docs/errors.md is the error reference users read; it must list exactly the codes in the registry
 * (src/errors.ts), each with its real HTTP status.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERRORS, type ErrorCode } from '../src/errors.js';

// This file runs as dist/test/errors-doc.test.js.
const DOC = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));

interface Row {
  code: string;
  status: number;
  meaning: string;
}

/** The rows of the one `| code | status | meaning |` table, header and separator skipped. */
function parseTable(markdown: string): Row[] {
  const lines = markdown.split('\n').map((line) => line.trim());
  const header = lines.findIndex((line) => /^\|\s*code\s*\|\s*status\s*\|\s*meaning\s*\|$/.test(line));
  assert.ok(header >= 0, 'docs/errors.md has no "| code | status | meaning |" table');
  assert.match(lines[header + 1] ?? '', /^\|(\s*:?-+:?\s*\|){3}$/, 'the table header is not followed by a separator row');
  const rows: Row[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((cell) => cell.trim());
    assert.equal(cells.length, 3, `row does not have three cells: ${line}`);
    const [code, status, meaning] = cells as [string, string, string];
    rows.push({ code: code.replace(/^`(.*)`$/, '$1'), status: Number(status), meaning });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = parseTable(fs.readFileSync(DOC, 'utf8'));
  const registry = Object.keys(ERRORS);

  test('lists exactly the codes in the error registry, each once', () => {
    const documented = rows.map((r) => r.code);

    assert.deepEqual(new Set(documented), new Set(registry));
    assert.equal(documented.length, new Set(documented).size, 'a code is listed twice');
  });

  test('lists the codes in the same order as the registry', () => {
    assert.deepEqual(
      rows.map((r) => r.code),
      registry,
    );
  });

  test("gives each code the registry's HTTP status", () => {
    for (const row of rows) {
      assert.ok(row.code in ERRORS, `${row.code} is not in the registry`);
      assert.equal(row.status, ERRORS[row.code as ErrorCode].status, `status of ${row.code}`);
    }
  });

  test('explains every code', () => {
    for (const row of rows) assert.ok(row.meaning.length >= 10, `${row.code} has no meaning`);
  });
});
