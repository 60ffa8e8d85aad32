/**
 * Screens: what a user sees in the Temporal Web UI and the MLflow UI after a training, a failed one
 * and a cancelled one, checked in headless Chromium (Debian's package, driven by playwright-core,
 * which downloads no browser) and saved as PNG screenshots under .local/screens/ for people to
 * look at.
 *
 *   npm run screens      servers up (`npm run services`), Chromium installed (`apt-get install -y
 *                        chromium`, or CHROMIUM_PATH=/path/to/chrome)
 *
 * It copies the support-ticket example into .local/tmp as project `screens-<id>` (its own task
 * queue, experiment and registered model), starts its own worker, and runs three trainings with the
 * CLI, as a user does: one that succeeds; one whose `train_classifier` node throws (`--params
 * model.smoothing=0`, refused by a guard the copy adds to the node); one cancelled while
 * `train_classifier` runs (`--params model.pause_seconds=600`, a pause the copy adds). It prints
 * a ✓/✗ list and exits 1 when a check fails. The worker (its process group) is stopped by pid
 * whatever happens.
 */
import { Client, Connection } from '@temporalio/client';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadServicesEnv, temporalWorkflowUrl } from '../src/cli/common.js';
import { experimentUrl, modelUrl, runUrl } from '../src/mlflow/tracking-hook.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(repoRoot, 'bin', 'temporal-mlflow.js');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screensDir = join(repoRoot, '.local', 'screens');
/** How long a page may take to show a text (the UIs poll their servers). */
const PAGE_DEADLINE_MS = 30_000;

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}
const checks: Check[] = [];

function record(name: string, ok: boolean, detail?: string): void {
  checks.push({ name, ok, ...(detail ? { detail } : {}) });
  console.log(`${ok ? '✓' : '✗'} ${name}${!ok && detail ? `\n    ${detail}` : ''}`);
}

/** Runs one check: it passes when `probe` resolves, fails with its error message otherwise. */
async function check(name: string, probe: () => Promise<unknown>): Promise<void> {
  try {
    await probe();
    record(name, true);
  } catch (error) {
    record(name, false, (error as Error).message.split('\n')[0]);
  }
}

// ---------------------------------------------------------------------------------------------
// The project, its worker and the trainings

/** The example copied as project `name`, with a guard and an optional pause in train_classifier. */
function copyProject(name: string): string {
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  const dir = join(repoRoot, '.local', 'tmp', name);
  cpSync(join(repoRoot, 'examples', 'support-tickets'), dir, { recursive: true });
  const rewrite = (file: string, edits: ReadonlyArray<readonly [string, string]>): void => {
    let text = readFileSync(join(dir, file), 'utf8');
    for (const [from, to] of edits) {
      if (!text.includes(from))
        throw new Error(
          `${file} no longer contains ${from}: update ${fileURLToPath(import.meta.url)}`,
        );
      text = text.replace(from, to);
    }
    writeFileSync(join(dir, file), text);
  };
  rewrite('temporal-mlflow.config.ts', [["name: 'support-tickets'", `name: '${name}'`]]);
  rewrite(join('conf', 'base', 'mlflow.yml'), [['name: support-tickets', `name: ${name}`]]);
  rewrite(join('src', 'pipelines.ts'), [["'support-ticket-router'", `'${name}-router'`]]);
  rewrite(join('src', 'nodes.ts'), [
    ['export function trainClassifier(', 'export async function trainClassifier('],
    [
      'options: { smoothing: number },\n): Classifier {',
      `options: { smoothing: number; pause_seconds?: number },
): Promise<Classifier> {
  if (!(options.smoothing > 0))
    throw new Error(\`model.smoothing must be > 0 (got \${options.smoothing}): set it in conf/base/parameters.yml\`);
  if (options.pause_seconds)
    await new Promise((resolve) => setTimeout(resolve, options.pause_seconds! * 1000));`,
    ],
  ]);
  return dir;
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  output(): string;
}

/** `temporal-mlflow worker` in its own process group; ready at its `worker started` line. */
function startWorker(projectDir: string, taskQueue: string): Worker {
  const child = spawn(
    process.execPath,
    [bin, 'worker', '--project', projectDir, '--task-queue', taskQueue, '--log-level', 'WARN'],
    { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the worker did not start in 120 s:\n${text}`)),
      120_000,
    );
    const onData = (): void => {
      if (!text.includes('"worker started"')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (code ${code}) before it started:\n${text}`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready, output: () => text };
}

/** Stops the worker's process group: SIGTERM, then SIGKILL after 15 s. */
async function stopWorker(worker: Worker): Promise<void> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** `temporal-mlflow <args>` as a user runs it; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repoRoot, env: process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// MLflow's REST API: what the pages should show

const mlflowUri = (): string => process.env.MLFLOW_TRACKING_URI!.replace(/\/+$/, '');

async function mlflow<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${mlflowUri()}/api/2.0/mlflow/${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`MLflow ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface MlflowRun {
  info: { run_id: string; run_name: string; status: string; experiment_id: string };
  data: {
    metrics?: Array<{ key: string; value: number }>;
    tags?: Array<{ key: string; value: string }>;
  };
}

/** The MLflow run a training workflow created (found by its workflow id tag). */
async function runOfWorkflow(experimentId: string, workflowId: string): Promise<MlflowRun> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { runs } = await mlflow<{ runs?: MlflowRun[] }>('runs/search', {
      experiment_ids: [experimentId],
      filter: `tags.\`temporal_mlflow.workflow_id\` = '${workflowId}'`,
    });
    if (runs?.[0]) return runs[0];
    if (Date.now() > deadline)
      throw new Error(`no MLflow run is tagged with workflow ${workflowId}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// ---------------------------------------------------------------------------------------------
// The pages

/** Every frame's text (the Temporal UI renders markdown in a sandboxed frame). */
async function pageText(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) =>
      frame
        .locator('body')
        .innerText({ timeout: 2_000 })
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

/** Waits until the page (any frame) shows `expected`; throws naming what it shows instead. */
async function expectText(page: Page, expected: string | RegExp): Promise<void> {
  const deadline = Date.now() + PAGE_DEADLINE_MS;
  let text = '';
  while (Date.now() < deadline) {
    text = await pageText(page);
    if (typeof expected === 'string' ? text.includes(expected) : expected.test(text)) return;
    await page.waitForTimeout(250);
  }
  throw new Error(
    `${page.url()} does not show ${String(expected)}; it shows: ${text.replace(/\s+/g, ' ').slice(0, 400)}`,
  );
}

/** Waits until the page (any frame) has a link whose href contains `fragment`. */
async function expectLink(page: Page, fragment: string): Promise<void> {
  const deadline = Date.now() + PAGE_DEADLINE_MS;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const count = await frame
        .locator(`a[href*="${fragment}"]`)
        .count()
        .catch(() => 0);
      if (count > 0) return;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`${page.url()} has no link to …${fragment}`);
}

/** Opens a page, runs its checks, and saves its screenshot once they ran (what they waited for shows). */
async function onPage(
  browser: Browser,
  url: string,
  screenshot: string,
  run: (page: Page) => Promise<void>,
): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await run(page);
  } finally {
    await shot(page, screenshot).catch(() => undefined);
    await page.close();
  }
}

/** Clicks a tab of the Temporal UI's workflow page (its label may carry a count badge). */
async function openTab(page: Page, label: string): Promise<void> {
  await page.getByText(label).first().click({ timeout: PAGE_DEADLINE_MS });
}

/** Saves what the page shows now as .local/screens/<name>. */
async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screensDir, name), fullPage: true });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (!existsSync(chromiumPath)) {
    console.error(
      `Chromium is not at ${chromiumPath}: install Debian's package (\`sudo apt-get install -y chromium\`) or set CHROMIUM_PATH to a Chrome or Chromium binary.`,
    );
    return 2;
  }
  loadServicesEnv(join(repoRoot, '.local', 'services.env'));
  for (const name of ['TEMPORAL_ADDRESS', 'MLFLOW_TRACKING_URI'] as const) {
    if (!process.env[name]) {
      console.error(
        `${name} is not set and .local/services.env does not name it: start the servers with \`npm run services\`.`,
      );
      return 2;
    }
  }
  process.env.TEMPORAL_UI_URL ??= 'http://127.0.0.1:8233';
  rmSync(screensDir, { recursive: true, force: true });
  mkdirSync(screensDir, { recursive: true });

  const id = randomUUID().slice(0, 8);
  const name = `screens-${id}`;
  const taskQueue = `screens-${id}`;
  const projectDir = copyProject(name);
  const ids = { ok: `${name}-ok`, failed: `${name}-failed`, cancelled: `${name}-cancelled` };
  const train = (workflowId: string, extra: string[]): Promise<{ code: number; output: string }> =>
    cli([
      'train',
      '--project',
      projectDir,
      '--task-queue',
      taskQueue,
      '--workflow-id',
      workflowId,
      ...extra,
    ]);

  console.log(`project ${projectDir}, task queue ${taskQueue}`);
  const worker = startWorker(projectDir, taskQueue);
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  let browser: Browser | undefined;
  try {
    await worker.ready;
    console.log('worker started; training (1/3: succeeds)...');
    const ok = await train(ids.ok, ['--wait']);
    if (ok.code !== 0) throw new Error(`the training that should succeed failed:\n${ok.output}`);
    console.log('training (2/3: train_classifier throws)...');
    const failed = await train(ids.failed, ['--wait', '--params', 'model.smoothing=0']);
    record(
      'CLI: the failed training exits non-zero naming the node and the reason',
      failed.code !== 0 &&
        failed.output.includes("node 'train_classifier'") &&
        failed.output.includes('model.smoothing must be > 0'),
      failed.output.slice(-600),
    );
    console.log('training (3/3: cancelled while train_classifier runs)...');
    const started = await train(ids.cancelled, ['--params', 'model.pause_seconds=600']);
    if (started.code !== 0)
      throw new Error(`the training to cancel did not start:\n${started.output}`);
    const client = new Client({ connection });
    const handle = client.workflow.getHandle(ids.cancelled);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const progress = (await handle.query('progress')) as { running: string[] };
      if (progress.running.includes('train_classifier')) break;
      if (Date.now() > deadline)
        throw new Error(`train_classifier never ran: ${JSON.stringify(progress)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const b = (browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox'],
    }));
    await onPage(
      b,
      temporalWorkflowUrl(ids.cancelled),
      'temporal-running-pending.png',
      async (page) => {
        await check(
          'Temporal (running): the pending activity names its node and elapsed time',
          async () => {
            await openTab(page, 'Pending Activities');
            await expectText(page, /train_classifier[\s\S]*elapsed/);
          },
        );
      },
    );
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const status = (await handle.describe()).status.name;
    record(
      'Temporal: the cancelled training ends CANCELLED',
      status === 'CANCELLED',
      `status ${status}`,
    );

    const experiment = await mlflow<{ experiment: { experiment_id: string } }>(
      `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    const experimentId = experiment.experiment.experiment_id;
    const runs = {
      ok: await runOfWorkflow(experimentId, ids.ok),
      failed: await runOfWorkflow(experimentId, ids.failed),
      cancelled: await runOfWorkflow(experimentId, ids.cancelled),
    };
    const names = Object.values(runs).map((run) => run.info.run_name);
    record(
      'MLflow: the three runs have distinct names, none `__default__`',
      new Set(names).size === 3 && !names.includes('__default__'),
      names.join(', '),
    );
    const { models } = await mlflow<{
      models?: Array<{ info: { model_id: string; source_run_id: string } }>;
    }>('logged-models/search', { experiment_ids: [experimentId] });
    const model = models?.find((m) => m.info.source_run_id === runs.ok.info.run_id);
    record(
      'MLflow: the successful training logged a model',
      Boolean(model),
      `models: ${JSON.stringify(models ?? [])}`,
    );
    const metrics = runs.ok.data.metrics ?? [];
    record('MLflow: the successful run has metrics', metrics.length > 0);

    // Temporal: each workflow's timeline (node names), then its User Metadata tab (summary, details).
    const temporalPages = [
      ['succeeded', ids.ok, runs.ok, 'evaluate_routing'],
      ['failed', ids.failed, runs.failed, 'train_classifier'],
      ['cancelled', ids.cancelled, runs.cancelled, 'train_classifier'],
    ] as const;
    for (const [label, workflowId, run, lastNode] of temporalPages) {
      await onPage(
        b,
        temporalWorkflowUrl(workflowId),
        `temporal-${label}-timeline.png`,
        async (page) => {
          await check(`Temporal (${label}): the timeline names the nodes (${lastNode})`, () =>
            expectText(page, `runNode • ${lastNode}`),
          );
          await shot(page, `temporal-${label}-timeline.png`);
          await openTab(page, 'User Metadata');
          await check(`Temporal (${label}): the summary names the pipeline \`__default__\``, () =>
            expectText(page, 'Train pipeline __default__'),
          );
          await check(`Temporal (${label}): the details link to the MLflow run`, () =>
            expectLink(page, `/runs/${run.info.run_id}`),
          );
          if (label === 'succeeded')
            await check('Temporal (succeeded): the details say completed', () =>
              expectText(page, /__default__ — completed/),
            );
          if (label === 'failed') {
            await check('Temporal (failed): the details name the failed node', () =>
              expectText(page, /Failed node:\s*train_classifier/),
            );
            await check('Temporal (failed): the details give the reason', () =>
              expectText(page, 'model.smoothing must be > 0'),
            );
          }
          if (label === 'cancelled')
            await check(
              'Temporal (cancelled): the details say cancelled, no failed node',
              async () => {
                await expectText(page, /Cancelled/);
                if ((await pageText(page)).includes('Failed node'))
                  throw new Error('the page says "Failed node"');
              },
            );
          await shot(page, `temporal-${label}-metadata.png`);
        },
      );
    }

    // MLflow: the experiment and each run's page.
    await onPage(
      b,
      experimentUrl(mlflowUri(), experimentId),
      'mlflow-experiment.png',
      async (page) => {
        for (const runName of names)
          await check(`MLflow experiment: lists run ${runName}`, () => expectText(page, runName));
      },
    );
    const runPages = [
      ['succeeded', runs.ok, ids.ok, 'FINISHED'],
      ['failed', runs.failed, ids.failed, 'FAILED'],
      ['cancelled', runs.cancelled, ids.cancelled, 'KILLED'],
    ] as const;
    for (const [label, run, workflowId, status] of runPages) {
      record(
        `MLflow (${label}): run status ${status}`,
        run.info.status === status,
        `status ${run.info.status}`,
      );
      await onPage(
        b,
        runUrl(mlflowUri(), experimentId, run.info.run_id),
        `mlflow-run-${label}.png`,
        async (page) => {
          await check(`MLflow (${label}): the run page shows its name ${run.info.run_name}`, () =>
            expectText(page, run.info.run_name),
          );
          await check(`MLflow (${label}): the run links to its Temporal workflow`, () =>
            expectLink(page, `/workflows/${encodeURIComponent(workflowId)}`),
          );
          if (label === 'failed') {
            await check('MLflow (failed): the run names the failed node', () =>
              expectText(page, "Failed at node 'train_classifier'"),
            );
            await check('MLflow (failed): the run gives the reason', () =>
              expectText(page, 'model.smoothing must be > 0'),
            );
          }
          if (label === 'cancelled')
            await check("MLflow (cancelled): the run's status reads Killed (MLflow's word)", () =>
              expectText(page, /Status\s*Killed/),
            );
        },
      );
    }

    // MLflow: the logged model carries the run's metrics.
    if (model) {
      await onPage(
        b,
        modelUrl(mlflowUri(), experimentId, model.info.model_id),
        'mlflow-model.png',
        async (page) => {
          for (const metric of metrics.slice(0, 3))
            await check(`MLflow model: shows metric ${metric.key}`, () =>
              expectText(page, metric.key),
            );
          await check('MLflow model: links to its source run', () =>
            expectText(page, runs.ok.info.run_name),
          );
        },
      );
    }
  } catch (error) {
    record('the trainings ran', false, (error as Error).message);
  } finally {
    await browser?.close();
    // A training this script left running (it stopped early) must not wait for a worker forever.
    const client = new Client({ connection });
    for (const workflowId of Object.values(ids)) {
      const handle = client.workflow.getHandle(workflowId);
      const running = await handle
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false);
      if (running) await handle.terminate('the screens script stopped before it ended');
    }
    await stopWorker(worker);
    await connection.close();
  }
  const failedChecks = checks.filter((c) => !c.ok);
  console.log(
    `\n${checks.length - failedChecks.length}/${checks.length} checks passed; screenshots in ${screensDir}`,
  );
  if (failedChecks.length === 0) rmSync(projectDir, { recursive: true, force: true });
  else
    console.log(
      `the project copy stays in ${projectDir}; worker output:\n${worker.output().slice(-2000)}`,
    );
  return failedChecks.length === 0 ? 0 : 1;
}

process.exitCode = await main();
