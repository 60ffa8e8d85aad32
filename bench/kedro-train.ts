/**
 * `temporal-mlflow train --wait` of the example (examples/support-tickets) against `kedro run` of an
 * equivalent kedro-mlflow PipelineML, in the same run, on the same MLflow server:
 *   - kedro 1.7 + kedro-mlflow 2.0.3 + mlflow 3.17.2 (+ kedro-datasets) from PyPI, in a venv this bench makes
 *     (.local/bench-kedro-train-venv, reused when it has them; never made by setup);
 *   - a kedro project written here: the example's data (600 tickets, their labels) and its seven
 *     training nodes and two inference nodes in plain Python (vocabulary, bag of words, multinomial
 *     naive Bayes, routing, metrics), `pipeline_ml_factory` logging and registering the inference
 *     pipeline, metrics through MlflowMetricsHistoryDataset, parameters logged by kedro-mlflow;
 *   - `kedro run` as users run it (kedro-mlflow infers the model's pip requirements), and with
 *     `pip_requirements` given (no inference: kedro-mlflow at its fastest);
 *   - ours: one `temporal-mlflow worker` process (warm: it trained once before), then
 *     `train --wait --no-cache` (every node runs) and `train --wait` of the unchanged project (a
 *     full node-cache hit), each a CLI process from start to exit, broken down from the workflow's
 *     history: CLI start + connect + project load (until the workflow starts), plan + MLflow run,
 *     nodes, packaging, closing (end run, clean up), promotion, and the CLI's end after the workflow;
 *   - the CLI starts and follows the training over Temporal's HTTP API (TEMPORAL_HTTP_ADDRESS,
 *     which scripts/services records), without loading its gRPC client; the published CLI's
 *     full-cache retrain is measured once more per round over gRPC only (a cluster without an
 *     HTTP API);
 *   - ours twice: the repository's CLI (TypeScript sources through tsx), and the published one (the
 *     package packed and npm-installed into a copy of the example, as bench/cli-startup.ts does;
 *     BENCH_PUBLISHED=0 skips it).
 * The package is packed and installed first; the workers start and train once, kedro runs once each
 * way, and the 1-minute load may fall below 1 (at most 3 minutes). Then BENCH_ROUNDS rounds
 * (default 5), each running every side once in turn (kedro run, ours, kedro run with
 * pip_requirements given): medians, and the median of each round's own ratio. Targets (issue 16):
 * train --wait ≤ 0.2 × kedro run; a full-cache retrain ≤ 1 s.
 * Needs the local servers (`npm run services start`). Writes bench/results/kedro-train.json.
 *   node --import tsx bench/kedro-train.ts
 */
import { Client, Connection } from '@temporalio/client';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyExampleAs } from '../test/support/project-copies.js';
import { readServicesEnv, repoRoot, serviceAddress } from '../test/support/services.js';
import { packPackage } from '../test/package/pack.js';
import { median, writeResults } from './support.js';

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const KEDRO_VERSION = '1.7.0';
const KEDRO_MLFLOW_VERSION = '2.0.3';
const MLFLOW_VERSION = '3.17.2';
/** kedro-mlflow imports kedro_datasets (its PickleDataset) without depending on it. */
const KEDRO_DATASETS_VERSION = '9.6.0';
const TARGETS = { trainToKedroRatio: 0.2, fullCacheRetrainMs: 1_000 };

const trackingUri = serviceAddress('MLFLOW_TRACKING_URI');
const temporalAddress = serviceAddress('TEMPORAL_ADDRESS');
/** Where `train` starts and follows trainings (recorded by scripts/services; empty: gRPC only). */
const temporalHttpAddress =
  process.env.TEMPORAL_HTTP_ADDRESS ?? readServicesEnv().TEMPORAL_HTTP_ADDRESS ?? '';
const venv = join(repoRoot, '.local', 'bench-kedro-train-venv');
const exampleDir = join(repoRoot, 'examples', 'support-tickets');
const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');
const round = (ms: number): number => Math.round(ms);

console.log(`machine: ${cpus().length} cores, load ${load()} (1/5/15 min); ${ROUNDS} rounds each`);
const loadBefore = loadavg();

// ---------------------------------------------------------------- the kedro side

/** The venv's python, with kedro, kedro-mlflow and mlflow at the pinned versions (installed if not). */
function kedroVenv(): { python: string; kedro: string } | { error: string } {
  const python = join(venv, 'bin', 'python');
  const kedro = join(venv, 'bin', 'kedro');
  const pinned = [
    `kedro==${KEDRO_VERSION}`,
    `kedro-mlflow==${KEDRO_MLFLOW_VERSION}`,
    `mlflow==${MLFLOW_VERSION}`,
    `kedro-datasets==${KEDRO_DATASETS_VERSION}`,
  ];
  const has = (): boolean =>
    existsSync(python) &&
    spawnSync(
      python,
      [
        '-c',
        `import importlib.metadata as m; import sys; sys.exit(0 if (m.version('kedro'), m.version('kedro-mlflow'), m.version('mlflow'), m.version('kedro-datasets')) == ('${KEDRO_VERSION}', '${KEDRO_MLFLOW_VERSION}', '${MLFLOW_VERSION}', '${KEDRO_DATASETS_VERSION}') else 1)`,
      ],
      { encoding: 'utf8' },
    ).status === 0;
  if (has()) return { python, kedro };
  console.log(`installing ${pinned.join(' ')} from PyPI into ${venv} (a few minutes)...`);
  if (!existsSync(python)) {
    const made = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
    if (made.status !== 0) return { error: `python3 -m venv failed: ${made.stderr}` };
  }
  const pip = spawnSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...pinned],
    { encoding: 'utf8' },
  );
  if (pip.status !== 0) return { error: `pip install failed:\n${pip.stderr}` };
  return has() ? { python, kedro } : { error: 'the venv still lacks the pinned versions' };
}

const KEDRO_PACKAGE = 'kedro_train_bench';

/** The example's nodes in plain Python (examples/support-tickets/src/nodes.ts, line for line). */
const NODES_PY = `"""The example's nodes (examples/support-tickets/src/nodes.ts) in plain Python."""
import math
import re

TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text):
    return TOKEN.findall(text.lower())


def split_tickets(tickets, labels, split):
    team_of = {str(row["ticket_id"]): str(row["team"]) for row in labels}
    train, test = [], []
    for ticket in tickets:
        h = 2166136261
        for char in str(ticket["ticket_id"]):
            h = ((h ^ ord(char)) * 16777619) & 0xFFFFFFFF
        (test if h / 2**32 < split["test_ratio"] else train).append(ticket)
    labels_of = lambda rows: [team_of[str(t["ticket_id"])] for t in rows]
    return train, test, labels_of(train), labels_of(test)


def fit_vocabulary(tickets, options):
    counts = {}
    for ticket in tickets:
        for token in tokenize(f"{ticket['subject']} {ticket['body']}"):
            counts[token] = counts.get(token, 0) + 1
    return {"tokens": sorted(t for t, c in counts.items() if c >= options["min_count"])}


def vectorize(tickets, vocabulary):
    index = {token: i for i, token in enumerate(vocabulary["tokens"])}
    rows = []
    for ticket in tickets:
        row = {}
        for token in tokenize(f"{ticket['subject']} {ticket['body']}"):
            at = index.get(token)
            if at is not None:
                row[at] = row.get(at, 0) + 1
        rows.append(row)
    return {"ids": [str(t["ticket_id"]) for t in tickets], "counts": rows}


def train_classifier(features, labels, vocabulary, options):
    classes = sorted(set(labels))
    size = len(vocabulary["tokens"])
    token_counts = [[options["smoothing"]] * size for _ in classes]
    doc_counts = [0] * len(classes)
    for row, label in zip(features["counts"], labels):
        c = classes.index(label)
        doc_counts[c] += 1
        for token, count in row.items():
            token_counts[c][int(token)] += count
    return {
        "classes": classes,
        "logPriors": [math.log(n / len(labels)) for n in doc_counts],
        "logLikelihoods": [[math.log(n / sum(counts)) for n in counts] for counts in token_counts],
    }


def route_tickets(classifier, features, min_confidence):
    answers = []
    for ticket_id, row in zip(features["ids"], features["counts"]):
        scores = []
        for c in range(len(classifier["classes"])):
            score = classifier["logPriors"][c]
            for token, count in row.items():
                score += count * classifier["logLikelihoods"][c][int(token)]
            scores.append(score)
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        probabilities = [e / sum(exp) for e in exp]
        best = probabilities.index(max(probabilities))
        confidence = round(probabilities[best], 6)
        answers.append({
            "ticket_id": ticket_id,
            "team": classifier["classes"][best],
            "confidence": confidence,
            "needs_review": confidence < min_confidence,
        })
    return answers


def evaluate_routing(answers, labels):
    correct = sum(1 for answer, label in zip(answers, labels) if answer["team"] == label)
    metric = lambda value: {"value": value, "step": 0}
    return {
        "accuracy": metric(correct / len(answers)),
        "review_rate": metric(sum(1 for a in answers if a["needs_review"]) / len(answers)),
        "test_size": metric(float(len(answers))),
    }
`;

/** Records as the example's CSVDataset and ModelStateDataset give them: csv rows, JSON files. */
const DATASETS_PY = `import csv
import json
from pathlib import PurePosixPath

from kedro.io import AbstractDataset


class CSVDataset(AbstractDataset):
    def __init__(self, filepath):
        self._filepath = PurePosixPath(filepath)

    def _load(self):
        with open(self._filepath, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def _save(self, data):
        with open(self._filepath, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(data[0].keys()))
            writer.writeheader()
            writer.writerows(data)

    def _describe(self):
        return {"filepath": str(self._filepath)}


class JSONDataset(AbstractDataset):
    def __init__(self, filepath):
        self._filepath = PurePosixPath(filepath)

    def _load(self):
        with open(self._filepath, encoding="utf-8") as f:
            return json.load(f)

    def _save(self, data):
        with open(self._filepath, "w", encoding="utf-8") as f:
            json.dump(data, f)

    def _describe(self):
        return {"filepath": str(self._filepath)}
`;

/** The example's pipelines; KEDRO_BENCH_PIP_REQUIREMENTS=1 gives the requirements (no inference). */
const PIPELINE_REGISTRY_PY = `import os

from kedro.pipeline import Pipeline, node, pipeline
from kedro_mlflow.pipeline import pipeline_ml_factory

from .nodes import (
    evaluate_routing, fit_vocabulary, route_tickets, split_tickets, train_classifier, vectorize,
)


def register_pipelines() -> dict[str, Pipeline]:
    inference = pipeline([
        node(vectorize, ["instances", "vocabulary"], "features", name="vectorize_tickets"),
        node(route_tickets, ["classifier", "features", "params:min_confidence"], "answers",
             name="route_tickets"),
    ])
    training = pipeline([
        node(split_tickets, ["instances", "labels", "params:split"],
             ["train_tickets", "test_tickets", "train_labels", "test_labels"], name="split_tickets"),
        node(fit_vocabulary, ["train_tickets", "params:vocabulary"], "vocabulary",
             name="fit_vocabulary"),
        node(vectorize, ["train_tickets", "vocabulary"], "train_features", name="vectorize_train"),
        node(vectorize, ["test_tickets", "vocabulary"], "test_features", name="vectorize_test"),
        node(train_classifier, ["train_features", "train_labels", "vocabulary", "params:model"],
             "classifier", name="train_classifier"),
        node(route_tickets, ["classifier", "test_features", "params:min_confidence"],
             "test_answers", name="route_test_tickets"),
        node(evaluate_routing, ["test_answers", "test_labels"], "routing_metrics",
             name="evaluate_routing"),
    ])
    log_model_kwargs = {"artifact_path": "model", "registered_model_name": "kedro-train-bench-router"}
    if os.environ.get("KEDRO_BENCH_PIP_REQUIREMENTS") == "1":
        log_model_kwargs["pip_requirements"] = ["kedro==${KEDRO_VERSION}", "kedro-mlflow==${KEDRO_MLFLOW_VERSION}", "mlflow==${MLFLOW_VERSION}"]
    training_ml = pipeline_ml_factory(
        training=training, inference=inference, input_name="instances",
        log_model_kwargs=log_model_kwargs,
    )
    return {"__default__": training_ml}
`;

/** Writes the kedro project (the example's raw data copied in); returns its folder. */
function writeKedroProject(dir: string): string {
  const project = join(dir, 'kedro-train-bench');
  const pkg = join(project, 'src', KEDRO_PACKAGE);
  for (const folder of [
    pkg,
    join(project, 'conf', 'base'),
    join(project, 'conf', 'local'),
    join(project, 'data', '06_models'),
    join(project, 'data', '07_model_output'),
  ])
    mkdirSync(folder, { recursive: true });
  cpSync(join(exampleDir, 'data', '01_raw'), join(project, 'data', '01_raw'), { recursive: true });
  const files: Record<string, string> = {
    'pyproject.toml': `[project]\nname = "${KEDRO_PACKAGE}"\nversion = "0.1.0"\n\n[tool.kedro]\npackage_name = "${KEDRO_PACKAGE}"\nproject_name = "kedro-train-bench"\nkedro_init_version = "${KEDRO_VERSION}"\nsource_dir = "src"\n`,
    [`src/${KEDRO_PACKAGE}/__init__.py`]: '',
    [`src/${KEDRO_PACKAGE}/settings.py`]: '',
    [`src/${KEDRO_PACKAGE}/nodes.py`]: NODES_PY,
    [`src/${KEDRO_PACKAGE}/datasets.py`]: DATASETS_PY,
    [`src/${KEDRO_PACKAGE}/pipeline_registry.py`]: PIPELINE_REGISTRY_PY,
    'conf/base/catalog.yml': [
      `instances:\n  type: ${KEDRO_PACKAGE}.datasets.CSVDataset\n  filepath: data/01_raw/tickets.csv`,
      `labels:\n  type: ${KEDRO_PACKAGE}.datasets.CSVDataset\n  filepath: data/01_raw/labels.csv`,
      `vocabulary:\n  type: ${KEDRO_PACKAGE}.datasets.JSONDataset\n  filepath: data/06_models/vocabulary.json`,
      `classifier:\n  type: ${KEDRO_PACKAGE}.datasets.JSONDataset\n  filepath: data/06_models/classifier.json`,
      `test_answers:\n  type: ${KEDRO_PACKAGE}.datasets.JSONDataset\n  filepath: data/07_model_output/test_answers.json`,
      `routing_metrics:\n  type: kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset`,
      '',
    ].join('\n\n'),
    'conf/base/parameters.yml':
      'split:\n  test_ratio: 0.25\nvocabulary:\n  min_count: 2\nmodel:\n  smoothing: 1.0\nmin_confidence: 0.8\n',
    'conf/local/mlflow.yml': `server:\n  mlflow_tracking_uri: ${trackingUri}\ntracking:\n  experiment:\n    name: kedro-train-bench\n  params:\n    dict_params:\n      flatten: true\n      recursive: true\n      sep: "."\n`,
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(project, file), text);
  return project;
}

/** Runs a command to its exit; its wall time in ms (throws with its output when it fails). */
function timeProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ ms: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, output });
      else
        reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-3000)}`));
    });
  });
}

// ---------------------------------------------------------------- our side

interface Breakdown {
  /** CLI process start → the workflow started: node + tsx, imports, Temporal connection, project load. */
  cliStartMs: number;
  /** Plan activity and MLflow run creation. */
  planAndRunMs: number;
  /** First node scheduled → last node done (workflow tasks in between included). */
  nodesMs: number;
  /** The packaging activity, scheduled → completed (bundle, verify, uploads, LoggedModel, version). */
  packagingMs: number;
  /** Ending the MLflow run and cleaning the intermediate store (0 when it ran with the gate). */
  closingMs: number;
  /**
   * The promotion gate (version tags, alias), to the workflow's completion; the ending of the run
   * too when a local activity ended it while the gate ran.
   */
  promotionMs: number;
  /** Workflow completed → CLI process exit (result, summary, connection closed). */
  cliEndMs: number;
}

interface TrainRun extends Breakdown {
  wallMs: number;
  cachedNodes: number;
}

const NODE_ACTIVITY = 'runNode';

/** The spans of one training from its history, with the CLI's start and exit (epoch ms). */
async function breakdown(
  client: Client,
  workflowId: string,
  startedAt: number,
  exitedAt: number,
): Promise<Breakdown> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (event: (typeof events)[number]): number =>
    Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;
  const types = new Map<number, string>();
  const scheduled: Record<string, number[]> = {};
  const completed: Record<string, number[]> = {};
  for (const event of events) {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes) {
      const type = attributes.activityType?.name ?? '';
      types.set(Number(event.eventId), type);
      (scheduled[type] ??= []).push(at(event));
    }
    const done = event.activityTaskCompletedEventAttributes;
    if (done) (completed[types.get(Number(done.scheduledEventId)) ?? ''] ??= []).push(at(event));
  }
  const first = (list: number[] | undefined): number => Math.min(...(list ?? [NaN]));
  const last = (list: number[] | undefined): number => Math.max(...(list ?? [NaN]));
  const workflowStart = at(events[0]!);
  const workflowEnd = at(events.at(-1)!);
  // A run opened by a local activity (a marker) is open when the plan's task schedules the first step.
  const runStarted = completed.startMlflowRun
    ? last(completed.startMlflowRun)
    : Math.min(...Object.values(scheduled).flat());
  const packagingStart = first(scheduled.packageModel);
  const packagingEnd = last(completed.packageModel);
  // Nodes run as local activities schedule no activity task: their span starts with the run.
  const nodesStart = scheduled[NODE_ACTIVITY] ? first(scheduled[NODE_ACTIVITY]) : runStarted;
  // Ending the run and cleaning up run at once; a cleanup done as a local activity is a marker, and
  // so is the ending of a run ended locally while the gate runs (counted with the gate).
  const closing = [...(completed.endMlflowRun ?? []), ...(completed.cleanupRun ?? [])];
  const closingEnd = closing.length > 0 ? last(closing) : packagingEnd;
  return {
    cliStartMs: round(workflowStart - startedAt),
    planAndRunMs: round(runStarted - workflowStart),
    nodesMs: round(packagingStart - nodesStart),
    packagingMs: round(packagingEnd - packagingStart),
    closingMs: round(closingEnd - packagingEnd),
    promotionMs: round(workflowEnd - closingEnd),
    cliEndMs: round(exitedAt - workflowEnd),
  };
}

/**
 * What no change of ours removes from `cliStartMs` (medians of 7, in the installed project): a
 * bare Node process, and one that only loads Temporal's client (its gRPC stack and the protobuf
 * definitions of the whole Temporal API), as the CLI does before it can start a workflow.
 */
function cliStartFloor(projectDir: string): { nodeMs: number; temporalClientMs: number } {
  const time = (script: string): number => {
    const started = performance.now();
    const result = spawnSync(process.execPath, ['-e', script], { cwd: projectDir });
    if (result.status !== 0) throw new Error(`node -e ${script} failed: ${result.stderr}`);
    return performance.now() - started;
  };
  const samples = { nodeMs: [] as number[], temporalClientMs: [] as number[] };
  for (let round = 0; round < 7; round++) {
    samples.nodeMs.push(time('0'));
    samples.temporalClientMs.push(time("require('@temporalio/client')"));
  }
  return {
    nodeMs: round(median(samples.nodeMs)),
    temporalClientMs: round(median(samples.temporalClientMs)),
  };
}

function summary(runs: readonly TrainRun[]): Record<string, number> {
  const keys = Object.keys(runs[0]!) as (keyof TrainRun)[];
  return Object.fromEntries(keys.map((key) => [key, round(median(runs.map((run) => run[key])))]));
}

/** A `temporal-mlflow worker` process of `bin`, once it says it started. */
async function startWorker(
  bin: string,
  projectDir: string,
  taskQueue: string,
  cacheDir: string,
): Promise<{ stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [bin, 'worker', '--project', projectDir, '--task-queue', taskQueue, '--cache-dir', cacheDir],
    {
      cwd: projectDir,
      env: {
        ...process.env,
        MLFLOW_TRACKING_URI: trackingUri,
        TEMPORAL_ADDRESS: temporalAddress,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not started in 120 s:\n${output}`)),
      120_000,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('"worker started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker exited before it started:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { stop };
}

/** One side of ours: a warm worker of `bin` on its own queue, and `train --wait` runs of the CLI `bin`. */
interface TrainSide {
  /** One `train --wait`; `overGrpcOnly`: without Temporal's HTTP API (the start over gRPC). */
  train(noCache: boolean, overGrpcOnly?: boolean): Promise<TrainRun>;
  stop(): Promise<void>;
}

/** Starts the worker of `bin` for `projectDir` and trains once (its session, bundle and node cache warm). */
async function startTrainSide(
  client: Client,
  bin: string,
  projectDir: string,
  cacheDir: string,
): Promise<TrainSide> {
  const taskQueue = `bench-kedro-train-${randomUUID()}`;
  const worker = await startWorker(bin, projectDir, taskQueue, cacheDir);
  const train = async (noCache: boolean, overGrpcOnly = false): Promise<TrainRun> => {
    const workflowId = `bench-kedro-train-${randomUUID()}`;
    const startedAt = Date.now();
    const args = [bin, 'train', '--project', projectDir, '--task-queue', taskQueue];
    args.push('--workflow-id', workflowId, '--wait', ...(noCache ? ['--no-cache'] : []));
    const { output } = await timeProcess(process.execPath, args, {
      cwd: projectDir,
      env: {
        ...process.env,
        MLFLOW_TRACKING_URI: trackingUri,
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_HTTP_ADDRESS: overGrpcOnly ? '' : temporalHttpAddress,
      },
    });
    const exitedAt = Date.now();
    const cached = /\((\d+) from the node cache\)/.exec(output);
    return {
      wallMs: round(exitedAt - startedAt),
      cachedNodes: cached ? Number(cached[1]) : 0,
      ...(await breakdown(client, workflowId, startedAt, exitedAt)),
    };
  };
  try {
    await train(false); // warm-up: the worker's session and bundle, and the node cache filled
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return { train, stop: () => worker.stop() };
}

/**
 * The published CLI: this package packed (`npm pack`, whose prepack compiles dist/) and installed
 * from the tarball into a copy of the example under .local/bench-kedro-train (as bench/cli-startup.ts
 * installs it), the example renamed so its experiment and registered model are its own.
 */
async function publishedExample(name: string): Promise<{ bin: string; project: string }> {
  const dir = join(repoRoot, '.local', 'bench-kedro-train');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log('packing the package (npm pack: tsc into dist/)...');
  const tarball = await packPackage(dir);
  const project = join(dir, 'project');
  const copy = copyExampleAs(name);
  cpSync(copy.dir, project, { recursive: true });
  rmSync(copy.dir, { recursive: true, force: true });
  writeFileSync(join(project, 'package.json'), `{ "name": "${name}", "type": "module" }\n`);
  console.log(`installing it into ${project} (npm install <tarball>)...`);
  execFileSync(
    'npm',
    ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return {
    bin: join(project, 'node_modules', 'temporal-mlflow', 'bin', 'temporal-mlflow.js'),
    project,
  };
}

/**
 * Waits, at most 3 minutes, for the 1-minute load to fall below 1: each side is measured on a
 * settled machine, not just after packing and installing the package.
 */
async function settle(): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (loadavg()[0]! >= 1 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 5_000));
}

// ---------------------------------------------------------------- the run

const work = mkdtempSync(join(tmpdir(), 'bench-kedro-train-'));
const figures: Record<string, unknown> = { rounds: ROUNDS, trackingUri, cores: cpus().length };
const connection = await Connection.connect({ address: temporalAddress });
const client = new Client({ connection });
const copy = copyExampleAs(`bench-kedro-${randomUUID().slice(0, 8)}`);
type SideKey = 'sources' | 'published';
const sides: { key: SideKey; label: string; from: string; side: TrainSide }[] = [];
try {
  // Packed and installed first: its CPU-heavy set-up is over before any side is measured.
  const published =
    process.env.BENCH_PUBLISHED !== '0'
      ? await publishedExample(`bench-kedro-pub-${randomUUID().slice(0, 8)}`)
      : undefined;
  const kedro = kedroVenv();
  let kedroRun: ((extra: NodeJS.ProcessEnv) => Promise<number>) | undefined;
  if ('error' in kedro) {
    console.log(`kedro could not be measured: ${kedro.error}`);
    figures.kedro = { error: kedro.error };
  } else {
    const project = writeKedroProject(work);
    const env = {
      ...process.env,
      MLFLOW_TRACKING_URI: trackingUri,
      KEDRO_DISABLE_TELEMETRY: '1',
      DO_NOT_TRACK: '1',
    };
    kedroRun = async (extra) =>
      (await timeProcess(kedro.kedro, ['run'], { cwd: project, env: { ...env, ...extra } })).ms;
  }
  const withoutInference = { KEDRO_BENCH_PIP_REQUIREMENTS: '1' };

  // Warm-ups: each worker trains once, kedro runs once each way.
  await settle();
  sides.push({
    key: 'sources',
    label: 'the repository CLI (TypeScript sources through tsx)',
    from: 'bin/temporal-mlflow.js of this repository: TypeScript sources through tsx',
    side: await startTrainSide(
      client,
      join(repoRoot, 'bin', 'temporal-mlflow.js'),
      copy.dir,
      join(work, 'node-cache-sources'),
    ),
  });
  if (published)
    sides.push({
      key: 'published',
      label: 'the published CLI (compiled, npm-installed)',
      from: 'the package packed and npm-installed from its tarball: compiled JavaScript (project files through tsx)',
      side: await startTrainSide(
        client,
        published.bin,
        published.project,
        join(work, 'node-cache-published'),
      ),
    });
  await kedroRun?.({});
  await kedroRun?.(withoutInference);

  // Measured round by round, the sides one after the other: a change of the machine's load
  // between sides weighs on every side alike, and each round gives a paired ratio.
  await settle();
  const kedroRuns: number[] = [];
  const kedroRunsWithoutInference: number[] = [];
  const ours: Record<
    SideKey,
    { noCache: TrainRun[]; fullCacheHit: TrainRun[]; fullCacheHitOverGrpcOnly: TrainRun[] }
  > = {
    sources: { noCache: [], fullCacheHit: [], fullCacheHitOverGrpcOnly: [] },
    published: { noCache: [], fullCacheHit: [], fullCacheHitOverGrpcOnly: [] },
  };
  for (let i = 0; i < ROUNDS; i++) {
    if (kedroRun) kedroRuns.push(await kedroRun({}));
    for (const { key, side } of [...sides].reverse()) {
      ours[key].noCache.push(await side.train(true));
      ours[key].fullCacheHit.push(await side.train(false));
      // The published CLI's retrain once more without the HTTP API: what a cluster without one gets.
      if (key === 'published' && temporalHttpAddress)
        ours[key].fullCacheHitOverGrpcOnly.push(await side.train(false, true));
    }
    if (kedroRun) kedroRunsWithoutInference.push(await kedroRun(withoutInference));
    const line = [
      kedroRun ? `kedro run ${round(kedroRuns[i]!)} ms` : undefined,
      ...sides.map(
        ({ key }) =>
          `${key} ${ours[key].noCache[i]!.wallMs} ms / cached ${ours[key].fullCacheHit[i]!.wallMs} ms`,
      ),
    ].filter(Boolean);
    console.log(`round ${i + 1}/${ROUNDS}: ${line.join('; ')} (load ${load()})`);
  }
  if (kedroRun)
    figures.kedro = {
      versions: {
        kedro: KEDRO_VERSION,
        kedroMlflow: KEDRO_MLFLOW_VERSION,
        mlflow: MLFLOW_VERSION,
        kedroDatasets: KEDRO_DATASETS_VERSION,
      },
      runMs: round(median(kedroRuns)),
      runs: kedroRuns.map(round),
      runWithoutRequirementInferenceMs: round(median(kedroRunsWithoutInference)),
      runsWithoutRequirementInference: kedroRunsWithoutInference.map(round),
    };
  const kedroFigures = (figures.kedro ?? {}) as {
    runMs?: number;
    runWithoutRequirementInferenceMs?: number;
  };
  const ratio = (a: number, b: number | undefined): number | undefined =>
    b ? Number((a / b).toFixed(3)) : undefined;
  const report = (
    runs: { noCache: TrainRun[]; fullCacheHit: TrainRun[]; fullCacheHitOverGrpcOnly: TrainRun[] },
    from: string,
  ) => {
    const noCache = summary(runs.noCache);
    const fullCacheHit = summary(runs.fullCacheHit);
    const overGrpcOnly =
      runs.fullCacheHitOverGrpcOnly.length > 0 ? summary(runs.fullCacheHitOverGrpcOnly) : undefined;
    const paired = kedroRuns.length
      ? Number(median(runs.noCache.map((run, i) => run.wallMs / kedroRuns[i]!)).toFixed(3))
      : undefined;
    return {
      from,
      startSentOverHttp: Boolean(temporalHttpAddress),
      noCache,
      fullCacheHit,
      ...(overGrpcOnly ? { fullCacheHitOverGrpcOnly: overGrpcOnly } : {}),
      ratios: {
        noCacheToKedroRun: ratio(noCache.wallMs!, kedroFigures.runMs),
        /** Median over rounds of (this round's run / this round's kedro run). */
        pairedNoCacheToKedroRun: paired,
        fullCacheHitToKedroRun: ratio(fullCacheHit.wallMs!, kedroFigures.runMs),
        noCacheToKedroRunWithoutInference: ratio(
          noCache.wallMs!,
          kedroFigures.runWithoutRequirementInferenceMs,
        ),
      },
      meetsTargets: {
        ratio: kedroFigures.runMs
          ? noCache.wallMs! / kedroFigures.runMs <= TARGETS.trainToKedroRatio
          : undefined,
        fullCacheRetrain: fullCacheHit.wallMs! <= TARGETS.fullCacheRetrainMs,
      },
      runs,
    };
  };
  for (const { key, label, from } of sides) {
    console.log(`${label} (load ${load()}):`);
    console.table({
      'train --wait --no-cache': summary(ours[key].noCache),
      'train --wait (full cache hit)': summary(ours[key].fullCacheHit),
      ...(ours[key].fullCacheHitOverGrpcOnly.length > 0
        ? { 'full cache hit, start over gRPC': summary(ours[key].fullCacheHitOverGrpcOnly) }
        : {}),
    });
    figures[key] = report(ours[key], from);
  }
  if (published) {
    figures.cliStartFloor = cliStartFloor(published.project);
    console.log(
      `CLI start floor in the installed project: ${JSON.stringify(figures.cliStartFloor)}`,
    );
  }
  figures.targets = TARGETS;
  figures.differences = [
    'Both: the same 600 tickets and labels, the same nine node functions, the same MLflow server; each run logs params and metrics, logs the inference pipeline as a model and registers a version.',
    'kedro runs in one process (SequentialRunner); ours is a CLI process that starts a Temporal workflow run by a separate, already running worker (one activity per node, intermediate data stored between nodes).',
    'kedro-mlflow pickles the inference pipeline (cloudpickle) and, as users run it, infers its pip requirements; ours bundles the inference code with esbuild (cached), loads and predicts the input example to verify the model, infers its signature, writes a hash manifest, and moves an alias through a promotion gate.',
    'kedro has no node cache: train --wait --no-cache is the like-for-like run; a full-cache retrain restores every node.',
    "Each round runs kedro run, then ours (published, then sources; --no-cache, then a full-cache hit), then kedro run with pip_requirements given: the sides share the machine's state round by round.",
  ];
  figures.load = { before: loadBefore, after: loadavg() };
  console.log(
    `kedro run ${kedroFigures.runMs} ms (${kedroFigures.runWithoutRequirementInferenceMs} ms with pip_requirements given); load ${load()}`,
  );
  for (const key of ['sources', 'published'] as const) {
    const side = figures[key] as ReturnType<typeof report> | undefined;
    if (side)
      console.log(
        `${key}: train --wait --no-cache ${side.noCache.wallMs} ms (${side.ratios.noCacheToKedroRun} × kedro run, paired ${side.ratios.pairedNoCacheToKedroRun}), full-cache retrain ${side.fullCacheHit.wallMs} ms${side.fullCacheHitOverGrpcOnly ? ` (${side.fullCacheHitOverGrpcOnly.wallMs} ms with the start over gRPC)` : ''}`,
      );
  }
  writeResults('kedro-train', figures);
} finally {
  for (const { side } of sides) await side.stop();
  await connection.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(copy.dir, { recursive: true, force: true });
}
