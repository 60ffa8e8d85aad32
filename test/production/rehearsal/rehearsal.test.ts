/**
 * A production rehearsal on real processes (see docs/production.md, "The rehearsal as the recipe"):
 * Temporal behind TLS + mTLS + an API key, MLflow with authentication on PostgreSQL, workers on two
 * "hosts" sharing one run through `--store mlflow`, a wrong MLflow password, and a rolling deploy
 * with worker versioning. Everything is started here and stopped by pid, whatever fails.
 */
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectTaskQueue } from '../../../src/temporal/identity.js';
import { repoRoot } from '../../support/services.js';
import { configureEnv, openGate, REHEARSAL_ENV, rehearsalProject } from './support/project.js';
import {
  runCli,
  startProcess,
  stopAllProcesses,
  waitUntil,
  type StartedProcess,
} from './support/processes.js';
import { startRehearsalStack, temporalCli, type RehearsalStack } from './support/stack.js';

let stack: RehearsalStack;
let connection: Connection | undefined;
let client: Client;
const started = Date.now();

beforeAll(async () => {
  stack = await startRehearsalStack();
  connection = await Connection.connect({
    address: stack.temporalAddress,
    tls: {
      serverRootCACertificate: readFileSync(stack.pki.caCert),
      clientCertPair: {
        crt: readFileSync(stack.pki.clientCert),
        key: readFileSync(stack.pki.clientKey),
      },
    },
    apiKey: stack.apiKey,
  });
  client = new Client({ connection });
}, 180_000);

afterAll(async () => {
  await stopAllProcesses();
  await connection?.close();
  await stack?.stop();
  console.log(`rehearsal: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
}, 60_000);

interface Worker {
  process: StartedProcess;
  identityPrefix: string;
}

/** `temporal-mlflow worker` over TLS, mTLS and the API key, for `env` of the project in `dir`. */
async function startWorker(
  name: string,
  projectDir: string,
  projectName: string,
  options: { args?: string[]; env?: NodeJS.ProcessEnv; buildId?: string; envName?: string } = {},
): Promise<Worker> {
  const worker = startProcess(
    `worker-${name}`,
    process.execPath,
    [
      join(repoRoot, 'bin', 'temporal-mlflow.js'),
      'worker',
      '--project',
      projectDir,
      '--env',
      options.envName ?? REHEARSAL_ENV,
      ...stack.connectionArgs,
      '--log-level',
      'WARN',
      ...(options.buildId ? ['--build-id', options.buildId] : []),
      ...(options.args ?? []),
    ],
    { env: { ...stack.connectionEnv, ...options.env } },
  );
  await waitUntil(
    `worker ${name} to start`,
    () => {
      if (worker.child.exitCode !== null)
        throw new Error(`worker ${name} exited:\n${worker.output()}`);
      return worker.output().includes('"msg":"worker started"');
    },
    90_000,
  );
  return { process: worker, identityPrefix: `${projectName}@${worker.pid}:` };
}

/** `temporal-mlflow train` over TLS, mTLS and the API key. */
function train(projectDir: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return runCli(
    ['train', '--project', projectDir, '--env', REHEARSAL_ENV, ...stack.connectionArgs, ...args],
    { env: { ...stack.connectionEnv, ...env }, timeoutMs: 180_000 },
  );
}

/** Identities of the workers that started each activity of a workflow, from its history. */
async function activityWorkers(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((event) => event.activityTaskStartedEventAttributes?.identity)
    .filter((identity): identity is string => Boolean(identity));
}

const workflowIdOf = (output: string): string => {
  const match = /workflows\/([^/\s]+)/.exec(output);
  if (!match) throw new Error(`no workflow id in:\n${output}`);
  return decodeURIComponent(match[1]!);
};

/** Secrets no output may contain. */
const secrets = (): string[] => [
  stack.apiKey,
  stack.trainer.password,
  stack.admin.password,
  new URL(stack.backendStoreUri).password,
];

describe('Temporal behind TLS with client certificates and an API key; MLflow with authentication on PostgreSQL', () => {
  it('trains on two worker hosts (own folders and environments, --store mlflow), one run crossing both', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const project = rehearsalProject(`rehearsal-hosts-${suffix}`, stack.mlflowUri, stack.trainer);
    const host = (name: string): NodeJS.ProcessEnv => {
      const home = mkdtempSync(join(tmpdir(), `tm-host-${name}-`));
      mkdirSync(join(home, 'tmp'));
      return { HOME: home, TMPDIR: join(home, 'tmp'), HOSTNAME: `worker-host-${name}` };
    };
    const workers = await Promise.all(
      ['a', 'b'].map((name) =>
        startWorker(name, project.dir, project.name, {
          args: ['--store', 'mlflow', '--max-concurrent-nodes', '1'],
          env: host(name),
        }),
      ),
    );
    for (const worker of workers) {
      expect(worker.process.output()).toContain(
        `"taskQueue":"${projectTaskQueue(project.name, REHEARSAL_ENV)}"`,
      );
    }

    const result = await train(project.dir, ['--wait']);
    expect(result.output).toContain('Training completed');
    expect(result.code).toBe(0);
    expect(result.output).toContain(
      `Task queue:        ${projectTaskQueue(project.name, REHEARSAL_ENV)}`,
    );

    const identities = await activityWorkers(workflowIdOf(result.output));
    for (const worker of workers) {
      expect(identities.some((identity) => identity.startsWith(worker.identityPrefix))).toBe(true);
    }
    // The run, its model and its registry entry are in the authenticated MLflow, made by `trainer`.
    const auth = `Basic ${Buffer.from(`${stack.trainer.username}:${stack.trainer.password}`).toString('base64')}`;
    const versions = (await (
      await fetch(
        `${stack.mlflowUri}/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(`name='${project.registeredModel}'`)}`,
        { headers: { authorization: auth } },
      )
    ).json()) as { model_versions?: { run_id: string; user_id?: string }[] };
    expect(versions.model_versions).toHaveLength(1);
    const anonymous = await fetch(
      `${stack.mlflowUri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${project.experiment}`,
    );
    expect(anonymous.status).toBe(401);

    const outputs = [result.output, ...workers.map((worker) => worker.process.output())];
    for (const output of outputs)
      for (const secret of secrets()) expect(output).not.toContain(secret);
    await Promise.all(workers.map((worker) => worker.process.stop()));
  }, 180_000);

  it('refuses a plaintext client, a wrong CA, a missing client certificate and a wrong API key, each naming the address and the cause', async () => {
    const project = rehearsalProject('rehearsal-refused', stack.mlflowUri, stack.trainer);
    const address = stack.temporalAddress;
    const { caCert, otherCaCert, clientCert, clientKey } = stack.pki;
    const cases: { name: string; args: string[]; env: NodeJS.ProcessEnv; cause: RegExp }[] = [
      {
        name: 'plaintext',
        args: ['--address', address],
        env: {},
        cause: /speaks TLS and this client connected in plaintext\. Pass --tls-ca/,
      },
      {
        name: 'wrong CA',
        args: [
          '--address',
          address,
          '--tls-ca',
          otherCaCert,
          '--tls-cert',
          clientCert,
          '--tls-key',
          clientKey,
        ],
        env: { TEMPORAL_API_KEY: stack.apiKey },
        cause:
          /certificate \(CN=temporal-frontend, issued by CN=rehearsal-ca\) is not signed by the CA in --tls-ca/,
      },
      {
        name: 'no client certificate',
        args: ['--address', address, '--tls-ca', caCert],
        env: { TEMPORAL_API_KEY: stack.apiKey },
        cause: /requires a client certificate \(mTLS\) and this client sent none/,
      },
      {
        name: 'wrong API key',
        args: [
          '--address',
          address,
          '--tls-ca',
          caCert,
          '--tls-cert',
          clientCert,
          '--tls-key',
          clientKey,
        ],
        env: { TEMPORAL_API_KEY: 'not-the-key' },
        cause: /refused this client's credentials \(UNAUTHENTICATED: .*\)\. Check the API key/,
      },
    ];
    const results = await Promise.all(
      cases.map(async (c) => ({
        ...c,
        result: await runCli(
          ['train', '--project', project.dir, '--env', REHEARSAL_ENV, ...c.args],
          {
            env: { ...stack.connectionEnv, TEMPORAL_API_KEY: '', ...c.env },
            timeoutMs: 60_000,
          },
        ),
      })),
    );
    for (const { name, result, cause } of results) {
      expect({ name, code: result.code }).toEqual({ name, code: 1 });
      expect(result.output).toContain(
        `TemporalConnectionError: Cannot connect to Temporal at ${address}: `,
      );
      expect(result.output).toMatch(cause);
      for (const secret of secrets()) expect(result.output).not.toContain(secret);
    }
    expect(stack.proxy.refusals.some((refusal) => refusal.startsWith('api key:'))).toBe(true);
  }, 120_000);

  it("names a wrong MLflow password within seconds, as the failure of the run's first MLflow call, with no secret in any output", async () => {
    const project = rehearsalProject('rehearsal-wrong-password', stack.mlflowUri, stack.trainer);
    const wrong = { username: stack.trainer.username, password: 'wrong-password-0123456789' };
    configureEnv(project.dir, 'wrongpass', stack.mlflowUri, wrong);
    const worker = await startWorker('wrongpass', project.dir, project.name, {
      envName: 'wrongpass',
    });
    const began = Date.now();
    // `train` runs beside the check; it ends once the run has failed.
    const workflowId = `rehearsal-wrong-password-${Date.now()}`;
    const trainer = startProcess(
      'cli-train-wrongpass',
      process.execPath,
      [
        join(repoRoot, 'bin', 'temporal-mlflow.js'),
        'train',
        '--project',
        project.dir,
        '--env',
        'wrongpass',
        ...stack.connectionArgs,
        '--workflow-id',
        workflowId,
      ],
      { env: stack.connectionEnv },
    );
    const handle = client.workflow.getHandle(workflowId);
    // Refused credentials are not retried: the run fails at once, naming the cause.
    const failure = await waitUntil(
      'the run to fail on the credentials',
      async () => {
        const error = await Promise.race([
          handle.result().then(
            () => undefined,
            (e: unknown) => e as { cause?: { cause?: { message?: string; type?: string } } },
          ),
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000)),
        ]);
        return error?.cause?.cause;
      },
      30_000,
    );
    expect(Date.now() - began).toBeLessThan(30_000);
    expect(failure.message).toMatch(/MLflow UNAUTHENTICATED \(HTTP 401\)/);
    expect(failure.message).toContain(
      'Check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN (or server.credentials in mlflow.yml)',
    );
    expect(failure.type).toBe('MlflowAuthError');
    await trainer.stop();
    for (const output of [trainer.output(), worker.process.output(), failure.message ?? '']) {
      expect(output).not.toContain(wrong.password);
      for (const secret of secrets()) expect(output).not.toContain(secret);
    }
    await worker.process.stop();
  }, 120_000);
});

describe('a rolling deploy with worker versioning', () => {
  it('keeps runs started on build 1 on build 1, sends new runs to build 2 with changed node code, and loses nothing', async () => {
    const name = `rehearsal-deploy-${Math.random().toString(36).slice(2, 8)}`;
    const gate = join(mkdtempSync(join(tmpdir(), 'tm-gate-')), 'open');
    const build1 = rehearsalProject(name, stack.mlflowUri, stack.trainer, { gated: true });
    const build2 = rehearsalProject(name, stack.mlflowUri, stack.trainer);
    const versioning = (buildId: string) => ['--worker-versioning', '--build-id', buildId];
    const setCurrent = (buildId: string): void => {
      execFileSync(
        temporalCli,
        [
          'worker',
          'deployment',
          'set-current-version',
          '--address',
          stack.temporalPlainAddress,
          '--deployment-name',
          name,
          '--build-id',
          buildId,
          '--yes',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    };

    const b1 = await startWorker('b1', build1.dir, name, {
      args: versioning('b1'),
      env: { REHEARSAL_GATE: gate },
    });
    await waitUntil(
      'build b1 to be registered and made current',
      () => (setCurrent('b1'), true),
      30_000,
      500,
    );
    const before = [await train(build1.dir)];
    const beforeIds = before.map((result) => workflowIdOf(result.output));
    // The run is held in build 1's first node while build 2 comes up.
    await waitUntil('the first run to be in flight on build 1', async () => {
      const pending = await Promise.all(
        beforeIds.map(
          async (id) =>
            (await client.workflow.getHandle(id).describe()).raw.pendingActivities ?? [],
        ),
      );
      return pending.every((activities) => activities.length > 0);
    });

    const b2 = await startWorker('b2', build2.dir, name, { args: versioning('b2') });
    await waitUntil('build b2 to be made current', () => (setCurrent('b2'), true), 30_000, 500);
    const after = [await train(build2.dir)];
    const afterIds = after.map((result) => workflowIdOf(result.output));
    for (const id of beforeIds)
      expect((await client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
    openGate(gate);

    const all = [...beforeIds, ...afterIds];
    await Promise.all(all.map((id) => client.workflow.getHandle(id).result()));
    for (const id of all)
      expect((await client.workflow.getHandle(id).describe()).status.name).toBe('COMPLETED');
    for (const id of beforeIds) {
      const identities = await activityWorkers(id);
      expect(identities.length).toBeGreaterThan(5);
      expect(identities.filter((identity) => !identity.startsWith(b1.identityPrefix))).toEqual([]);
    }
    for (const id of afterIds) {
      const identities = await activityWorkers(id);
      expect(identities.length).toBeGreaterThan(5);
      expect(identities.filter((identity) => !identity.startsWith(b2.identityPrefix))).toEqual([]);
    }
    // Drained: build 1 stops cleanly once its runs are done.
    expect(await b1.process.stop()).toEqual({ code: 0, signal: null });
    await b2.process.stop();
  }, 240_000);
});
