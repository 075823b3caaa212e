#!/usr/bin/env node
// The `rostrum` command. The TypeScript is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('rostrum: not built yet; run "npm run build" in the project folder\n');
  process.exit(1);
}
await import(entry.href);
