import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlflowClient } from '../../src/mlflow/index.js';
import { processTree } from '../support/process-tree.js';
import { readServicesEnv, repoRoot, temporalCli } from '../support/services.js';
import { quietTemporalLogs } from '../support/temporal.js';

const script = join(repoRoot, 'scripts', 'services');
const workflowsPath = fileURLToPath(new URL('./fixtures/greet-workflow.ts', import.meta.url));

quietTemporalLogs();

describe('scripts/services', () => {
  it('keeps a completed workflow visible after the Temporal server is stopped and started again', async () => {
    // A separate set of servers, in its own state folder, on free ports.
    const localDir = mkdtempSync(join(tmpdir(), 'tm-services-'));
    const env = { ...process.env, TEMPORAL_MLFLOW_LOCAL_DIR: localDir };
    const services = (...args: string[]): string =>
      execFileSync('bash', [script, ...args], { env, encoding: 'utf8' });
    try {
      services('start', 'temporal');
      const address = readServicesEnv(join(localDir, 'services.env')).TEMPORAL_ADDRESS!;
      const nativeConnection = await NativeConnection.connect({ address });
      const taskQueue = `persist-${randomUUID()}`;
      const worker = await Worker.create({
        connection: nativeConnection,
        taskQueue,
        workflowsPath,
        activities: { greet: async (name: string) => `Hello, ${name}!` },
      });
      const connection = await Connection.connect({ address });
      const workflowId = `persist-${randomUUID()}`;
      await worker.runUntil(
        new Client({ connection }).workflow.execute('greetWorkflow', {
          taskQueue,
          workflowId,
          args: ['again'],
        }),
      );
      await connection.close();
      await nativeConnection.close();

      expect(services('stop')).toMatch(/stopped temporal/);
      expect(services('start', 'temporal')).toMatch(/Temporal dev server on/);
      const restartedAddress = readServicesEnv(join(localDir, 'services.env')).TEMPORAL_ADDRESS!;
      const listed = JSON.parse(
        execFileSync(
          temporalCli,
          [
            'workflow',
            'list',
            '--address',
            restartedAddress,
            '--query',
            `WorkflowId="${workflowId}"`,
            '--output',
            'json',
          ],
          {
            encoding: 'utf8',
          },
        ),
      ) as { status: string }[];
      expect(listed.map((execution) => execution.status)).toEqual([
        'WORKFLOW_EXECUTION_STATUS_COMPLETED',
      ]);
      // The server writes its log when it gets round to it: wait for the line, with a deadline.
      const log = join(localDir, 'logs', 'temporal.log');
      const deadline = Date.now() + 60_000;
      while (!readFileSync(log, 'utf8').includes('Temporal Server') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(readFileSync(log, 'utf8')).toContain('Temporal Server');
    } finally {
      services('stop');
    }
  });

  it("serves MLflow from gunicorn's sync workers, which answer tracking calls", async () => {
    const localDir = mkdtempSync(join(tmpdir(), 'tm-services-mlflow-'));
    const env = { ...process.env, TEMPORAL_MLFLOW_LOCAL_DIR: localDir };
    const services = (...args: string[]): string =>
      execFileSync('bash', [script, ...args], { env, encoding: 'utf8' });
    try {
      services('start', 'mlflow');
      const pid = Number(readFileSync(join(localDir, 'run', 'mlflow.pid'), 'utf8'));
      const commands = processTree(pid).map((entry) => entry.command);
      // The arbiter and its 4 workers; no uvicorn (twice the server CPU per call).
      expect(commands.filter((command) => /-m gunicorn .*-w 4 /.test(command))).toHaveLength(5);
      expect(commands.some((command) => command.includes('uvicorn'))).toBe(false);

      const trackingUri = readServicesEnv(join(localDir, 'services.env')).MLFLOW_TRACKING_URI!;
      const client = new MlflowClient({ trackingUri });
      const experimentId = await client.experiments.create(`services-${randomUUID()}`);
      const run = await client.runs.create({ experimentId });
      await client.runs.logMetric(run.info.run_id, 'score', 0.5);
      await client.runs.update(run.info.run_id, { status: 'FINISHED', endTime: Date.now() });
      const read = await client.runs.get(run.info.run_id);
      expect(read.info.status).toBe('FINISHED');
      expect(read.data.metrics?.map((metric) => [metric.key, metric.value])).toEqual([
        ['score', 0.5],
      ]);
    } finally {
      services('stop');
    }
  });

  it('reuses running servers on a second start', () => {
    const output = execFileSync('bash', [script, 'start'], { encoding: 'utf8' });
    expect(output).toContain('Temporal already running');
    expect(output).toContain('MLflow already running');
  });
});
