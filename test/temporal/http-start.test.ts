import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { SEARCH_ATTRIBUTE_PIPELINE_NAME } from '../../src/constants.js';
import {
  compileTrainingOptions,
  startCompiledTraining,
  startCompiledTrainingOverHttp,
  type CompiledTrainingOptions,
} from '../../src/temporal/client.js';
import { HttpStartError, startWorkflowOverHttp } from '../../src/temporal/http-start.js';
import { pipelineNameKey } from '../../workflows/definitions.js';
import { HttpApiProxy } from '../support/http-api-proxy.js';
import { serviceAddress, services } from '../support/services.js';
import { temporalTestProject } from '../support/temporal.js';

/**
 * Temporal's HTTP API as `train` uses it to send its start before the gRPC client loads, against
 * the real dev server. No worker polls the queues: the runs are only started, then terminated.
 */
const namespace = 'default';
let connection: Connection;
let client: Client;
const started: string[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: services().TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace });
});
afterAll(async () => {
  for (const id of started)
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  await connection.close();
});

const endpoint = () => ({ url: new URL(serviceAddress('TEMPORAL_HTTP_ADDRESS')) });

async function compiled(workflowId: string, taskQueue: string): Promise<CompiledTrainingOptions> {
  const options = await compileTrainingOptions({
    projectDir: temporalTestProject,
    pipeline: 'diamond',
    params: { x: 2 },
    taskQueue,
    workflowId,
    command: 'temporal-mlflow train --pipeline diamond',
  });
  started.push(workflowId);
  return options;
}

/** The started event's input payloads, search attributes, and the run's summary and details. */
async function startOf(workflowId: string) {
  const handle = client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  const event = history.events![0]!;
  const attributes = event.workflowExecutionStartedEventAttributes!;
  const bytes = (value?: Uint8Array | null) => Buffer.from(value ?? []).toString('utf8');
  const description = await handle.describe();
  return {
    workflowType: attributes.workflowType?.name,
    taskQueue: attributes.taskQueue?.name,
    input: (attributes.input?.payloads ?? []).map((payload) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, bytes(value)]),
      ),
      data: bytes(payload.data),
    })),
    searchAttribute: Object.fromEntries(
      Object.entries(
        attributes.searchAttributes?.indexedFields?.[SEARCH_ATTRIBUTE_PIPELINE_NAME]?.metadata ??
          {},
      ).map(([key, value]) => [key, bytes(value)]),
    ),
    pipeline: description.typedSearchAttributes.get(pipelineNameKey),
    staticSummary: await description.staticSummary(),
    staticDetails: await description.staticDetails(),
  };
}

describe('starting a training over the HTTP API', () => {
  it('sends what the SDK sends: the same input payload, search attribute, summary and details', async () => {
    const taskQueue = `test-http-start-${randomUUID()}`;
    const viaSdk = await compiled(`http-start-sdk-${randomUUID()}`, taskQueue);
    const viaHttp = await compiled(`http-start-http-${randomUUID()}`, taskQueue);
    viaHttp.input = viaSdk.input; // the same user and command line on both
    await startCompiledTraining(client, viaSdk);
    const { runId } = await startCompiledTrainingOverHttp(endpoint(), namespace, viaHttp);

    const [sdk, http] = await Promise.all([
      startOf(viaSdk.workflowId),
      startOf(viaHttp.workflowId),
    ]);
    expect(http).toEqual(sdk);
    expect(http.workflowType).toBe('trainingWorkflow');
    expect(http.input[0]!.metadata).toEqual({ encoding: 'json/plain' });
    expect(JSON.parse(http.input[0]!.data)).toMatchObject({
      pipeline: 'diamond',
      params: { x: 2 },
    });
    expect(http.searchAttribute).toEqual({ encoding: 'json/plain', type: 'Keyword' });
    expect(http.pipeline).toBe('diamond');
    expect(http.staticSummary).toContain('Train pipeline `diamond`');
    expect((await client.workflow.getHandle(viaHttp.workflowId).describe()).runId).toBe(runId);
  });

  it('retries a start whose answer was lost with the same request id: one run is started', async () => {
    const proxy = new HttpApiProxy();
    proxy.rule = (n) => (n === 0 ? 'forward-then-drop' : 'forward');
    const url = await proxy.start(endpoint().url);
    try {
      const options = await compiled(`http-start-retry-${randomUUID()}`, `test-${randomUUID()}`);
      const { runId } = await startCompiledTrainingOverHttp({ url }, namespace, options);

      expect(proxy.bodies).toHaveLength(2);
      const requestIds = proxy.bodies.map(
        (body) => (JSON.parse(body) as { requestId: string }).requestId,
      );
      expect(requestIds[1]).toBe(requestIds[0]);
      const runs: string[] = [];
      for await (const execution of client.workflow.list({
        query: `WorkflowId = '${options.workflowId}'`,
      }))
        runs.push(execution.runId);
      // Visibility may lag the start: the run itself is read, and the list holds no other one.
      expect((await client.workflow.getHandle(options.workflowId).describe()).runId).toBe(runId);
      expect(runs.filter((id) => id !== runId)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('says nothing was started when the API cannot be reached or refuses the start', async () => {
    const closed = new URL('http://127.0.0.1:1');
    const options = await compiled(`http-start-refused-${randomUUID()}`, `test-${randomUUID()}`);
    const unreachable = await startCompiledTrainingOverHttp(
      { url: closed },
      namespace,
      options,
    ).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(HttpStartError);
    expect(unreachable).toMatchObject({ outcome: 'not-started' });
    expect((unreachable as Error).message).toContain('could not be reached (ECONNREFUSED)');

    // The workflow id is taken: the server refuses (ALREADY_EXISTS), definitively.
    await startCompiledTraining(client, options);
    const taken = await startCompiledTrainingOverHttp(endpoint(), namespace, options).catch(
      (error: unknown) => error,
    );
    expect(taken).toMatchObject({ name: 'HttpStartError', outcome: 'not-started' });
    expect((taken as Error).message).toMatch(/gRPC code 6/);
    // Started the other way, the SDK's own error says so.
    await expect(startCompiledTraining(client, options)).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
  });

  it('gives up after its attempts when a proxy keeps failing, saying the outcome is unknown', async () => {
    const proxy = new HttpApiProxy();
    proxy.rule = () => ({ status: 503, body: 'upstream unavailable' });
    const url = await proxy.start(endpoint().url);
    try {
      const failure = await startWorkflowOverHttp(
        { url },
        {
          namespace,
          workflowType: 'trainingWorkflow',
          workflowId: `http-start-unknown-${randomUUID()}`,
          taskQueue: `test-${randomUUID()}`,
          args: [{}],
        },
        { attempts: 3 },
      ).catch((error: unknown) => error);
      expect(failure).toMatchObject({ name: 'HttpStartError', outcome: 'unknown' });
      expect((failure as Error).message).toContain('HTTP 503');
      expect(proxy.bodies).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });
});
