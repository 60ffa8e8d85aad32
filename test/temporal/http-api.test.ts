import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { SEARCH_ATTRIBUTE_PIPELINE_NAME } from '../../src/constants.js';
import {
  compileTrainingOptions,
  startCompiledTraining,
  startCompiledTrainingOverHttp,
  type CompiledTrainingOptions,
} from '../../src/temporal/client.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { HttpStartError, jsonPayload, TemporalHttpApi } from '../../src/temporal/http-api.js';
import { pipelineNameKey, progressQuery } from '../../workflows/definitions.js';
import { HttpApiProxy } from '../support/http-api-proxy.js';
import { serviceAddress, services } from '../support/services.js';
import { startHarness, temporalTestProject, type TemporalHarness } from '../support/temporal.js';

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
const api = (url = endpoint().url) => new TemporalHttpApi({ url }, namespace);

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

describe('jsonPayload', () => {
  it("writes what the SDK's default payload converter writes", () => {
    for (const value of [undefined, null, 0, 'text', { a: [1, 'é'] }, [true]]) {
      const sdk = defaultPayloadConverter.toPayload(value);
      const base64 = (bytes?: Uint8Array | null) => Buffer.from(bytes ?? []).toString('base64');
      expect(jsonPayload(value)).toEqual({
        metadata: Object.fromEntries(
          Object.entries(sdk.metadata ?? {}).map(([key, bytes]) => [key, base64(bytes)]),
        ),
        data: base64(sdk.data),
      });
    }
  });
});

describe('starting a training over the HTTP API', () => {
  it('sends what the SDK sends: the same input payload, search attribute, summary and details', async () => {
    const taskQueue = `test-http-start-${randomUUID()}`;
    const viaSdk = await compiled(`http-start-sdk-${randomUUID()}`, taskQueue);
    const viaHttp = await compiled(`http-start-http-${randomUUID()}`, taskQueue);
    viaHttp.input = viaSdk.input; // the same user and command line on both
    await startCompiledTraining(client, viaSdk);
    const { runId } = await startCompiledTrainingOverHttp(api(), viaHttp);

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
      const { runId } = await startCompiledTrainingOverHttp(api(url), options);

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
    const unreachable = await startCompiledTrainingOverHttp(api(closed), options).catch(
      (error: unknown) => error,
    );
    expect(unreachable).toBeInstanceOf(HttpStartError);
    expect(unreachable).toMatchObject({ outcome: 'not-started' });
    expect((unreachable as Error).message).toContain('could not be reached (ECONNREFUSED)');

    // The workflow id is taken: the server refuses (ALREADY_EXISTS), definitively.
    await startCompiledTraining(client, options);
    const taken = await startCompiledTrainingOverHttp(api(), options).catch(
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
      const failure = await api(url)
        .startWorkflow(
          {
            workflowType: 'trainingWorkflow',
            workflowId: `http-start-unknown-${randomUUID()}`,
            taskQueue: `test-${randomUUID()}`,
            args: [{}],
          },
          { attempts: 3 },
        )
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ name: 'HttpStartError', outcome: 'unknown' });
      expect((failure as Error).message).toContain('HTTP 503');
      expect(proxy.bodies).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });
});

describe('following a training over the HTTP API', () => {
  let harness: TemporalHarness;
  beforeAll(async () => {
    harness = await startHarness();
  }, 120_000);
  afterAll(async () => harness?.close());

  it('sees the workers of a queue, queries the run, and reads its result as the SDK does', async () => {
    const http = api();
    const options = await compiled(`http-follow-${randomUUID()}`, harness.taskQueue);
    const { runId } = await startCompiledTrainingOverHttp(http, options);
    const closed = await http.awaitClose(options.workflowId, runId);
    const handle = harness.client.workflow.getHandle(options.workflowId);
    expect(closed).toEqual({ status: 'completed', result: await handle.result() });
    expect(closed).toMatchObject({
      status: 'completed',
      result: { pipeline: 'diamond', nodes: 4 },
    });
    const progress = await http.query(options.workflowId, runId, progressQuery.name);
    expect(progress).toEqual(await handle.query(progressQuery));
    expect(progress).toMatchObject({ state: 'completed', done: 4, total: 4 });
    // The worker that ran it polls its queue (the server has seen it by now); nobody polls another.
    expect(await http.workflowPollers(harness.taskQueue)).toBeGreaterThan(0);
    expect(await http.workflowPollers(`nobody-${randomUUID()}`)).toBe(0);
  });

  it('leaves a run that did not complete to the SDK: its close event is reported as it is', async () => {
    const http = api();
    const options = await compileTrainingOptions({
      projectDir: temporalTestProject,
      pipeline: 'fatal',
      taskQueue: harness.taskQueue,
      workflowId: `http-follow-fatal-${randomUUID()}`,
    });
    started.push(options.workflowId);
    const { runId } = await startCompiledTrainingOverHttp(http, options);
    expect(await http.awaitClose(options.workflowId, runId)).toEqual({
      status: 'other',
      eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
    });
  });
});
