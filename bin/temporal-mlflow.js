#!/usr/bin/env node
// The published package runs its compiled JavaScript (dist/, built by `npm pack`); this repository
// runs its TypeScript sources through tsx, so development needs no build step. package.json says
// which: its exports point at dist/ only in the published package.
import { readFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
if (JSON.stringify(manifest.exports?.['.'] ?? '').includes('./dist/')) {
  const { main } = await import('../dist/bundle/cli.js');
  await main(process.argv);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  await main(process.argv);
}
