import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { services, temporalCli } from '../support/services.js';
import { quietTemporalLogs } from '../support/temporal.js';

const workflowsPath = fileURLToPath(new URL('./fixtures/greet-workflow.ts', import.meta.url));

describe('the Temporal dev server', () => {
  it('runs a real workflow with one activity through a worker and lists it afterwards', async () => {
    quietTemporalLogs();
    const { TEMPORAL_ADDRESS } = services();
    const taskQueue = `smoke-${randomUUID()}`;
    const calls: string[] = [];
    const nativeConnection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowsPath,
      activities: {
        async greet(name: string): Promise<string> {
          calls.push(name);
          return `Hello, ${name}!`;
        },
      },
    });
    const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const workflowId = `smoke-greet-${randomUUID()}`;
    try {
      const result = await worker.runUntil(
        client.workflow.execute('greetWorkflow', { taskQueue, workflowId, args: ['Temporal'] }),
      );
      expect(result).toBe('Hello, Temporal!');
      expect(calls).toEqual(['Temporal']);
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
    const listed = execFileSync(
      temporalCli,
      [
        'workflow',
        'list',
        '--address',
        TEMPORAL_ADDRESS,
        '--query',
        `WorkflowId="${workflowId}"`,
        '--output',
        'json',
      ],
      { encoding: 'utf8' },
    );
    const executions = JSON.parse(listed) as {
      execution: { workflowId: string };
      status: string;
    }[];
    expect(executions.map((e) => [e.execution.workflowId, e.status])).toEqual([
      [workflowId, 'WORKFLOW_EXECUTION_STATUS_COMPLETED'],
    ]);
  });
});
