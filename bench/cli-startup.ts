/**
 * CLI start-up as a user waits for it, process start to exit (medians): `temporal-mlflow --help`
 * and `temporal-mlflow run` of a one-node pipeline, next to `kedro --help` and `kedro run` of a
 * one-node kedro project, in the same run on the same machine.
 *
 * The CLI measured is the published one, installed as a user installs it: this package packed
 * (`npm pack`, whose prepack compiles dist/) and `npm install`ed from the tarball into a project
 * under .local/bench-cli (`--ignore-scripts`: better-sqlite3's native build is not on this path;
 * `--prefer-offline`: npm's cache). The installed layout matters: the package under node_modules,
 * its dependencies hoisted next to it, `node_modules/.bin/temporal-mlflow` the command.
 * Kedro comes from PyPI into a venv this bench makes, .local/bench-venv (never made by setup).
 * Untracked runs on both sides (no MLflow server involved). Targets: --help ≤ 0.3 s, run ≤ 1 s.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { packPackage } from '../test/package/pack.js';
import { repoRoot } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const KEDRO_VERSION = process.env.BENCH_KEDRO_VERSION ?? '1.7.0';
const work = join(repoRoot, '.local', 'bench-cli');
const venv = join(repoRoot, '.local', 'bench-venv');
const env = { ...process.env };
delete env.MLFLOW_TRACKING_URI;

/** Wall-clock seconds of one process, start to exit; throws when it fails. */
function timeOnce(command: string, args: string[], cwd: string): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  }
  return seconds;
}

function measure(label: string, command: string, args: string[], cwd: string): number {
  timeOnce(command, args, cwd); // warm the file cache
  const times = Array.from({ length: ROUNDS }, () => timeOnce(command, args, cwd));
  const value = median(times);
  console.log(
    `${label.padEnd(28)} median ${value.toFixed(3)} s  (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}, n=${ROUNDS})`,
  );
  return value;
}

async function publishedCli(): Promise<{ bin: string; project: string }> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  console.log('packing the package (npm pack: tsc into dist/)...');
  const tarball = await packPackage(work);
  const project = join(work, 'project');
  mkdirSync(join(project, 'conf', 'base'), { recursive: true });
  writeFileSync(join(project, 'package.json'), '{ "name": "one-node", "type": "module" }\n');
  console.log(`installing it into ${project} (npm install <tarball>)...`);
  execFileSync(
    'npm',
    ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: project, stdio: ['ignore', 'ignore', 'inherit'], env },
  );
  writeFileSync(join(project, 'conf', 'base', 'parameters.yml'), 'a: 1\n');
  writeFileSync(
    join(project, 'temporal-mlflow.config.ts'),
    `import { defineProject, node, pipeline } from 'temporal-mlflow';

const identity = (a: number): number => a;
export default defineProject({
  name: 'one-node',
  pipelines: { __default__: pipeline([node(identity, { inputs: 'params:a', outputs: 'b' })]) },
});
`,
  );
  return {
    bin: join(project, 'node_modules', 'temporal-mlflow', 'bin', 'temporal-mlflow.js'),
    project,
  };
}

function kedroProject(): { kedro: string; project: string } | { error: string } {
  const kedro = join(venv, 'bin', 'kedro');
  if (!existsSync(kedro)) {
    console.log(`installing kedro ${KEDRO_VERSION} from PyPI into ${venv}...`);
    const made = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
    if (made.status !== 0) return { error: `python3 -m venv failed: ${made.stderr}` };
    const pip = spawnSync(
      join(venv, 'bin', 'python'),
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `kedro==${KEDRO_VERSION}`],
      { encoding: 'utf8' },
    );
    if (pip.status !== 0) return { error: `pip install kedro failed:\n${pip.stderr}` };
  }
  const project = join(work, 'kedro-one-node');
  rmSync(project, { recursive: true, force: true });
  const made = spawnSync(
    kedro,
    ['new', '--name', 'kedro-one-node', '--tools', 'none', '--example', 'no'],
    { cwd: work, env, encoding: 'utf8', input: '\n' },
  );
  if (made.status !== 0 || !existsSync(project))
    return { error: `kedro new failed:\n${made.stdout}\n${made.stderr}` };
  // One node, like the temporal-mlflow project: identity on a parameter.
  writeFileSync(join(project, 'conf', 'base', 'parameters.yml'), 'a: 1\n');
  writeFileSync(
    join(project, 'src', 'kedro_one_node', 'pipeline_registry.py'),
    `from kedro.pipeline import Pipeline, node, pipeline


def identity(a):
    return a


def register_pipelines() -> dict[str, Pipeline]:
    p = pipeline([node(identity, inputs="params:a", outputs="b")])
    return {"__default__": p}
`,
  );
  return { kedro, project };
}

const { bin, project } = await publishedCli();
const kedro = kedroProject();
console.log(
  `machine: ${cpus().length} cores, load ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ')} (1/5/15 min)`,
);
const help = measure('temporal-mlflow --help', process.execPath, [bin, '--help'], project);
const run = measure('temporal-mlflow run (1 node)', process.execPath, [bin, 'run'], project);
const figures: Record<string, unknown> = {
  rounds: ROUNDS,
  load: loadavg(),
  temporalMlflow: { helpSeconds: help, runSeconds: run },
  targets: { helpSeconds: 0.3, runSeconds: 1, helpMet: help <= 0.3, runMet: run <= 1 },
};
if ('error' in kedro) {
  console.log(`kedro could not be measured: ${kedro.error}`);
  figures.kedro = { error: kedro.error };
} else {
  const kHelp = measure('kedro --help', kedro.kedro, ['--help'], kedro.project);
  const kRun = measure('kedro run (1 node)', kedro.kedro, ['run'], kedro.project);
  figures.kedro = { version: KEDRO_VERSION, helpSeconds: kHelp, runSeconds: kRun };
  figures.ratios = { help: help / kHelp, run: run / kRun };
  console.log(
    `ratios (temporal-mlflow / kedro): --help ${(help / kHelp).toFixed(2)}, run ${(run / kRun).toFixed(2)}`,
  );
}
console.log(
  `load after: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ')}`,
);
writeResults('cli-startup', figures);
