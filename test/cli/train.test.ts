import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MlflowClient } from '../../src/mlflow/client.js';
import { MlflowProxy } from '../support/mlflow-proxy.js';
import { HttpApiProxy } from '../support/http-api-proxy.js';
import { repoRoot, serviceAddress, services } from '../support/services.js';
import { startHarness, type TemporalHarness } from '../support/temporal.js';
import { killAllWorkers, spawnWorker } from '../support/worker-process.js';
import { fileURLToPath } from 'node:url';
import type { InjectedSinks } from '@temporalio/worker';
import type { QueryLogSinks } from '../support/query-log-interceptor.js';

const run = promisify(execFile);

/** CLI processes of the running test: killed after it, also when it failed or timed out. */
const cliProcesses = new Set<ChildProcess>();
afterEach(() => {
  for (const child of cliProcesses) child.kill('SIGKILL');
  cliProcesses.clear();
});

async function train(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = run('node', [join(repoRoot, 'bin', 'temporal-mlflow.js'), 'train', ...args], {
    cwd: join(repoRoot, 'test', 'fixtures', 'temporal-project'),
    env: { ...process.env, ...services(), ...env },
  });
  cliProcesses.add(cli.child);
  try {
    const { stdout, stderr } = await cli;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  } finally {
    cliProcesses.delete(cli.child);
  }
}

/** The line linking the MLflow run, as `train` prints it. */
const MLFLOW_RUN_LINK = /MLflow run: +http:\/\/\S+\/#\/experiments\/\d+\/runs\/[0-9a-f]{32}/;

let harness: TemporalHarness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => harness?.close());

describe('temporal-mlflow train --wait', () => {
  it('prints the Temporal UI and MLflow links and the outcome of a successful run', async () => {
    const result = await train([
      '--pipeline',
      'diamond',
      '--task-queue',
      harness.taskQueue,
      '--wait',
      '--params',
      'x=2',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Temporal workflow: http:\/\/\S+\/namespaces\/default\/workflows\/train-diamond-/,
    );
    expect(result.stdout).toMatch(MLFLOW_RUN_LINK);
    expect(result.stdout).toContain('Training completed: 4 nodes');
    expect(result.stderr).toContain('4/4 nodes');
  });

  it('links the MLflow run from what the workflow reports, without asking MLflow for the run', async () => {
    // Worker and CLI reach MLflow through a proxy that records the calls (one MLflow server: the
    // run's identity names it, so both must use the same URI).
    const proxy = new MlflowProxy();
    const runReads: string[] = [];
    proxy.rule = (request) => {
      if (request.url.startsWith('/api/2.0/mlflow/runs/get')) runReads.push(request.url);
      return 'forward';
    };
    const proxied = await proxy.start();
    const direct = process.env.MLFLOW_TRACKING_URI;
    process.env.MLFLOW_TRACKING_URI = proxied;
    let proxiedHarness: TemporalHarness | undefined;
    try {
      proxiedHarness = await startHarness();
      const result = await train(
        ['--pipeline', 'diamond', '--task-queue', proxiedHarness.taskQueue, '--wait'],
        { MLFLOW_TRACKING_URI: proxied },
      );
      expect(result.code).toBe(0);
      const link = /MLflow run: +(\S+)\/#\/experiments\/(\d+)\/runs\/([0-9a-f]{32})/.exec(
        result.stdout,
      );
      expect(link?.[1]).toBe(proxied);
      expect(runReads).toEqual([]);
      const run = await new MlflowClient({ trackingUri: services().MLFLOW_TRACKING_URI }).runs.get(
        link![3]!,
      );
      expect(run.info.experiment_id).toBe(link![2]);
    } finally {
      if (direct === undefined) delete process.env.MLFLOW_TRACKING_URI;
      else process.env.MLFLOW_TRACKING_URI = direct;
      await proxiedHarness?.close();
      await proxy.stop();
    }
  });

  it('exits non-zero naming the node that failed and why', async () => {
    const result = await train([
      '--pipeline',
      'fatal',
      '--task-queue',
      harness.taskQueue,
      '--wait',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`TrainingFailedError: Training failed at node 'broken'`);
    expect(result.stderr).toContain('column "amount" has text values');
  });
});

describe('temporal-mlflow train sending its start over HTTP', () => {
  /** `train args` with a proxy in front of the HTTP API, answering as `rule` says; then the proxy. */
  async function trainThroughProxy(
    args: string[],
    rule?: HttpApiProxy['rule'],
  ): Promise<{ result: Awaited<ReturnType<typeof train>>; proxy: HttpApiProxy }> {
    const proxy = new HttpApiProxy();
    if (rule) proxy.rule = rule;
    const url = await proxy.start(new URL(serviceAddress('TEMPORAL_HTTP_ADDRESS')));
    try {
      return { result: await train(args, { TEMPORAL_HTTP_ADDRESS: url.href }), proxy };
    } finally {
      await proxy.stop();
    }
  }

  it("starts the run through Temporal's HTTP API (one request) and follows it there to the end", async () => {
    const { result, proxy } = await trainThroughProxy([
      '--pipeline',
      'diamond',
      '--task-queue',
      harness.taskQueue,
      '--wait',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Training completed: 4 nodes');
    expect(result.stderr).not.toContain('warning');
    expect(proxy.bodies).toHaveLength(1);
    const workflowId = /workflows\/(train-diamond-[0-9a-f-]+)/.exec(result.stdout)![1]!;
    expect(JSON.parse(proxy.bodies[0]!)).toMatchObject({ workflowId });
    // Followed there too: the queue's workers, then the run's close event (a long poll).
    const paths = proxy.requests.map((r) => `${r.method} ${r.url.replace(/\?.*/, '')}`);
    expect(paths).toContain(`GET /api/v1/namespaces/default/task-queues/${harness.taskQueue}`);
    expect(paths).toContain(`GET /api/v1/namespaces/default/workflows/${workflowId}/history`);
  });

  it('follows the run through the gRPC client when the HTTP API stops answering after the start', async () => {
    // The start goes through; every later call gets a gateway error.
    const { result, proxy } = await trainThroughProxy(
      ['--pipeline', 'diamond', '--task-queue', harness.taskQueue, '--wait'],
      (n) => (n === 0 ? 'forward' : { status: 502, body: 'bad gateway' }),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Training completed: 4 nodes');
    expect(proxy.bodies).toHaveLength(1);
    expect(proxy.requests.length).toBeGreaterThan(1);
  });

  it('starts over gRPC, with a warning, when the HTTP API cannot be reached', async () => {
    const result = await train(
      ['--pipeline', 'diamond', '--task-queue', harness.taskQueue, '--wait'],
      { TEMPORAL_HTTP_ADDRESS: 'http://127.0.0.1:1' },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      "warning: Temporal's HTTP API at http://127.0.0.1:1 could not be reached (ECONNREFUSED); starting the training over gRPC instead.",
    );
    expect(result.stdout).toContain('Training completed: 4 nodes');
  });

  it('fails, naming the workflow, when whether the run started cannot be learnt', async () => {
    const workflowId = `train-unknown-${randomUUID()}`;
    const { result, proxy } = await trainThroughProxy(
      ['--pipeline', 'diamond', '--task-queue', harness.taskQueue, '--workflow-id', workflowId],
      () => ({ status: 504, body: 'gateway timeout' }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('TrainingStartError');
    expect(result.stderr).toContain(`Whether workflow ${workflowId} started is unknown`);
    expect(proxy.bodies).toHaveLength(3);
  });
});

describe('temporal-mlflow train --wait watching a training', () => {
  /** When the worker answered each query, by name. */
  const answered: { name: string; at: number }[] = [];
  let watched: TemporalHarness;
  beforeAll(async () => {
    const sinks: InjectedSinks<QueryLogSinks> = {
      queryLog: {
        answered: { fn: (_info, name) => void answered.push({ name, at: Date.now() }) },
      },
    };
    watched = await startHarness({
      workerOptions: {
        interceptors: {
          workflowModules: [
            fileURLToPath(new URL('../support/query-log-interceptor.ts', import.meta.url)),
          ],
        },
        sinks,
      },
    });
  }, 120_000);
  afterAll(async () => watched?.close());

  it('asks it nothing in its first second (a query is work for its worker), and still links the MLflow run', async () => {
    const result = await train([
      '--pipeline',
      'diamond',
      '--task-queue',
      watched.taskQueue,
      '--wait',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(MLFLOW_RUN_LINK);
    const workflowId = /workflows\/(train-diamond-[0-9a-f-]+)/.exec(result.stdout)![1]!;
    const history = await watched.client.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events![0]!.eventTime!;
    const startedAt = Number(started.seconds) * 1000 + (started.nanos ?? 0) / 1e6;
    // Whatever was asked (a long run under load is watched), nothing was in the first second.
    expect(answered.filter((query) => query.at < startedAt + 900)).toEqual([]);
  });
});

describe('temporal-mlflow train with no worker on the queue', () => {
  const project = join(repoRoot, 'test', 'fixtures', 'temporal-project');

  it('says the workflow started and that no worker polls the queue, and exits 0', async () => {
    const queue = `nobody-${randomUUID()}`;
    const result = await train(['--pipeline', 'diamond', '--task-queue', queue]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Task queue:        ${queue}`);
    expect(result.stdout).toContain(
      `started; no worker polls queue ${queue}: start one with \`temporal-mlflow worker --env local --task-queue ${queue}\``,
    );
    expect(result.stdout).toMatch(/Temporal workflow: http:\/\/\S+\/workflows\/train-diamond-/);
  });

  it('with --wait, shows it is waiting for a worker and completes once one starts', async () => {
    const queue = `later-${randomUUID()}`;
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin', 'temporal-mlflow.js'),
        'train',
        '--pipeline',
        'diamond',
        '--task-queue',
        queue,
        '--wait',
      ],
      { cwd: project, env: { ...process.env, ...services() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await until(() => output.includes('waiting for a worker'), 60_000);
      const worker = spawnWorker({ projectDir: project, taskQueue: queue });
      await worker.ready;
      expect(await exited).toBe(0);
      expect(output).toContain('Training completed: 4 nodes');
    } finally {
      child.kill('SIGKILL');
      await killAllWorkers();
    }
  }, 120_000);
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
