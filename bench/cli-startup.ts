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
 * Untracked runs on both sides (no MLflow server involved), ours and kedro alternately. Targets:
 * --help ≤ 0.3 s, run ≤ 1 s, each at most a third of kedro's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { packPackage } from '../test/package/pack.js';
import { repoRoot } from '../test/support/services.js';
import { median, writeResults } from './support.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
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

interface Command {
  label: string;
  command: string;
  args: string[];
  cwd: string;
}

function report(label: string, times: number[]): number {
  const value = median(times);
  console.log(
    `${label.padEnd(28)} median ${value.toFixed(3)} s  (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}, n=${times.length})`,
  );
  return value;
}

function measure(label: string, command: string, args: string[], cwd: string): number {
  timeOnce(command, args, cwd); // warm the file cache
  return report(
    label,
    Array.from({ length: ROUNDS }, () => timeOnce(command, args, cwd)),
  );
}

/**
 * Ours and kedro's, alternately (a busy moment of the machine slows both, not one side): the
 * medians of each and the median of the per-round ratios.
 */
function measurePair(
  ours: Command,
  theirs: Command,
): { ours: number; theirs: number; ratio: number } {
  for (const side of [ours, theirs]) timeOnce(side.command, side.args, side.cwd);
  const oursTimes: number[] = [];
  const theirTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    oursTimes.push(timeOnce(ours.command, ours.args, ours.cwd));
    theirTimes.push(timeOnce(theirs.command, theirs.args, theirs.cwd));
  }
  return {
    ours: report(ours.label, oursTimes),
    theirs: report(theirs.label, theirTimes),
    ratio: median(oursTimes.map((time, round) => time / theirTimes[round]!)),
  };
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
const oursHelp: Command = {
  label: 'temporal-mlflow --help',
  command: process.execPath,
  args: [bin, '--help'],
  cwd: project,
};
const oursRun: Command = {
  label: 'temporal-mlflow run (1 node)',
  command: process.execPath,
  args: [bin, 'run'],
  cwd: project,
};
const figures: Record<string, unknown> = { rounds: ROUNDS, load: loadavg() };
let help: number;
let run: number;
if ('error' in kedro) {
  help = measure(oursHelp.label, oursHelp.command, oursHelp.args, oursHelp.cwd);
  run = measure(oursRun.label, oursRun.command, oursRun.args, oursRun.cwd);
  console.log(`kedro could not be measured: ${kedro.error}`);
  figures.kedro = { error: kedro.error };
} else {
  const helps = measurePair(oursHelp, {
    label: 'kedro --help',
    command: kedro.kedro,
    args: ['--help'],
    cwd: kedro.project,
  });
  const runs = measurePair(oursRun, {
    label: 'kedro run (1 node)',
    command: kedro.kedro,
    args: ['run'],
    cwd: kedro.project,
  });
  help = helps.ours;
  run = runs.ours;
  figures.kedro = { version: KEDRO_VERSION, helpSeconds: helps.theirs, runSeconds: runs.theirs };
  figures.ratios = {
    help: helps.ratio,
    run: runs.ratio,
    note: 'median of the per-round ratios (ours and kedro run alternately)',
  };
  figures.thirdOfKedroMet = { help: helps.ratio <= 1 / 3, run: runs.ratio <= 1 / 3 };
  console.log(
    `ratios (temporal-mlflow / kedro, median of rounds): --help ${helps.ratio.toFixed(2)}, run ${runs.ratio.toFixed(2)}`,
  );
}
figures.temporalMlflow = { helpSeconds: help, runSeconds: run };
figures.targets = { helpSeconds: 0.3, runSeconds: 1, helpMet: help <= 0.3, runMet: run <= 1 };
console.log(
  `load after: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ')}`,
);
writeResults('cli-startup', figures);
