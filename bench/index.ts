/**
 * `npm run bench`: every benchmark in turn, each in its own process (a crash or a leaked handle
 * stays in its own), after printing the machine's cores and load. Needs the local servers
 * (`npm run services start`). Name benchmarks to run only those: `npm run bench -- identity`.
 * `busy-node` (a 10-minute node) runs only when named.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && !['index.ts', 'support.ts'].includes(file))
  .map((file) => file.slice(0, -3))
  .sort();
/** Benchmarks that take many minutes by design: run only when named. */
const onlyWhenNamed = new Set(['busy-node']);
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s) ${unknown.join(', ')}; known: ${all.join(', ')}`);
  process.exit(2);
}
console.log(
  `machine: ${cpus().length} cores, load ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ')} (1/5/15 min)`,
);
let failed = 0;
for (const name of asked.length > 0 ? asked : all.filter((n) => !onlyWhenNamed.has(n))) {
  console.log(`\n=== bench/${name}.ts`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], {
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
