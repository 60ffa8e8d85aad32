/**
 * Rebuilding the example's inference bundle after a code change, as a worker packaging run after
 * run does: a cold esbuild build each time against a context kept warm between builds (the
 * worker's default since issue 16). The bundle cache is off in both: a changed file misses it.
 * Medians of ROUNDS rebuilds each, alternating; each round first appends a comment to src/nodes.ts
 * of a copy of the example. Writes bench/results/warm-bundle.json.
 *   node --import tsx bench/warm-bundle.ts
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleInferenceCode, disposeWarmBundlers } from '../src/model/bundle.js';
import { copyExampleAs } from '../test/support/project-copies.js';
import { median, writeResults } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
console.log(`machine: ${cpus().length} cores, load ${load()}; ${ROUNDS} rounds each`);

const project = copyExampleAs(`bench-warm-bundle-${Date.now().toString(36)}`);
const projectFile = join(project.dir, 'temporal-mlflow.config.ts');
const codeDir = mkdtempSync(join(tmpdir(), 'tm-bench-warm-'));

async function rebuild(warm: boolean): Promise<number> {
  const started = performance.now();
  const bundle = await bundleInferenceCode({ projectFile, codeDir, cache: false, warm });
  if (bundle.cached) throw new Error('a rebuild after a change answered from the cache');
  return performance.now() - started;
}

try {
  await rebuild(true); // the context's first build (what the worker's first packaging pays)
  await rebuild(false);
  const cold: number[] = [];
  const warm: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    appendFileSync(join(project.dir, 'src', 'nodes.ts'), `\n// change ${round}a\n`);
    cold.push(await rebuild(false));
    appendFileSync(join(project.dir, 'src', 'nodes.ts'), `\n// change ${round}b\n`);
    warm.push(await rebuild(true));
  }
  const figures = {
    coldRebuildMs: Number(median(cold).toFixed(1)),
    warmRebuildMs: Number(median(warm).toFixed(1)),
    warmToCold: Number((median(warm) / median(cold)).toFixed(2)),
    load: load(),
  };
  console.log(
    `rebuild after a change: cold ${figures.coldRebuildMs} ms, warm context ${figures.warmRebuildMs} ms (${figures.warmToCold}×), load ${figures.load}`,
  );
  writeResults('warm-bundle', { rounds: ROUNDS, ...figures });
} finally {
  await disposeWarmBundlers();
  rmSync(codeDir, { recursive: true, force: true });
  rmSync(project.dir, { recursive: true, force: true });
}
