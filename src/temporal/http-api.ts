/**
 * Temporal's HTTP API (the frontend's `--http-port`, 7243 by default on a server started with it)
 * for what `train` needs on its quick path, with nothing but `node:http`: start a workflow, see
 * whether a worker polls its queue, query it, and wait for it to close.
 *
 * Why: loading `@temporalio/client` (gRPC, and protobufjs building the whole Temporal API) takes
 * ~0.35 s of a 2-core machine's CPU, and on a machine that also runs the worker, that CPU is taken
 * from the training being waited for. A training that completes is followed without it; anything
 * else (a failed run, whose failure the SDK converts) is handed to the client.
 *
 * Payloads are what the SDK's default converter writes and reads (`json/plain`, JSON text), in the
 * API's canonical JSON (`application/json+no-payload-shorthand`: bytes as base64), so a worker
 * cannot tell the two clients apart. A client with a payload codec must not use this API: it would
 * send the input unencrypted, and could not read the results.
 *
 * Start retries reuse the request id, so the server deduplicates them: one request id starts at
 * most one run, however many attempts reach it.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** Where Temporal's HTTP API listens, and how to authenticate to it. */
export interface HttpEndpoint {
  /** `http://host:port` or `https://host:port`. */
  url: URL;
  /** Sent as `Authorization: Bearer <key>`; only over HTTPS. */
  apiKey?: string;
  /** As the gRPC connection's TLS settings hold them (PEM bytes). */
  tls?: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array; serverName?: string };
}

/** What a workflow is started with (a subset of the SDK's `WorkflowStartOptions`). */
export interface HttpWorkflowStart {
  namespace: string;
  workflowType: string;
  workflowId: string;
  taskQueue: string;
  args: unknown[];
  staticSummary?: string;
  staticDetails?: string;
  /** Search attributes of type Keyword, by name. */
  keywordSearchAttributes?: Record<string, string>;
}

export interface HttpStartOptions {
  /** Attempts when the outcome is unknown (timeout, connection lost, server unavailable). @default 3 */
  attempts?: number;
  /** Per attempt. @default 10 s */
  timeoutMs?: number;
}

/**
 * The HTTP start failed. `outcome` says what the caller may do: `not-started` (nothing reached the
 * server, or it refused the request: start another way), `unknown` (the server may have started
 * the run: starting another way could report the workflow as already started).
 */
export class HttpStartError extends Error {
  override readonly name = 'HttpStartError';
  constructor(
    message: string,
    readonly outcome: 'not-started' | 'unknown',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** gRPC status codes after which the request may or may not have taken effect: retried. */
const UNKNOWN_OUTCOME_CODES = new Set([2, 4, 8, 10, 13, 14]);

/**
 * A payload as the SDK's default converter writes it (`binary/null` for undefined, else
 * `json/plain`), in the HTTP API's JSON form (bytes as base64).
 */
export function jsonPayload(value: unknown): { metadata: Record<string, string>; data: string } {
  if (value === undefined) return { metadata: { encoding: base64('binary/null') }, data: '' };
  return {
    metadata: { encoding: base64('json/plain') },
    data: base64(JSON.stringify(value)),
  };
}

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The `StartWorkflowExecutionRequest` of `start`, as the HTTP API reads it. */
export function startRequestBody(start: HttpWorkflowStart, requestId: string): object {
  const searchAttributes = Object.entries(start.keywordSearchAttributes ?? {});
  return {
    namespace: start.namespace,
    workflowId: start.workflowId,
    workflowType: { name: start.workflowType },
    taskQueue: { name: start.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    input: { payloads: start.args.map(jsonPayload) },
    identity: `${process.pid}@${hostname()}`,
    requestId,
    ...(searchAttributes.length > 0
      ? {
          searchAttributes: {
            indexedFields: Object.fromEntries(
              searchAttributes.map(([name, value]) => {
                const payload = jsonPayload(value);
                return [
                  name,
                  { ...payload, metadata: { ...payload.metadata, type: base64('Keyword') } },
                ];
              }),
            ),
          },
        }
      : {}),
    ...(start.staticSummary || start.staticDetails
      ? {
          userMetadata: {
            ...(start.staticSummary ? { summary: jsonPayload(start.staticSummary) } : {}),
            ...(start.staticDetails ? { details: jsonPayload(start.staticDetails) } : {}),
          },
        }
      : {}),
  };
}

/** A workflow's close event, as far as a client without the SDK reads it. */
export type HttpClose =
  | { status: 'completed'; result: unknown }
  /** Failed, cancelled, terminated, timed out, or a result that is not JSON: the SDK's to read. */
  | { status: 'other'; eventType: string };

/** The parts of `temporal.api` answers this module reads (canonical JSON). */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}
interface HistoryAnswer {
  history?: { events?: { eventType?: string; [attributes: string]: unknown }[] };
  nextPageToken?: string;
}

/** Temporal's HTTP API of one namespace. */
export class TemporalHttpApi {
  constructor(
    readonly endpoint: HttpEndpoint,
    readonly namespace: string,
  ) {}

  /** Starts a workflow; resolves to its first run's id. */
  async startWorkflow(
    start: Omit<HttpWorkflowStart, 'namespace'>,
    options: HttpStartOptions = {},
  ): Promise<{ runId: string }> {
    const attempts = Math.max(1, options.attempts ?? 3);
    const body = JSON.stringify(
      startRequestBody({ ...start, namespace: this.namespace }, randomUUID()),
    );
    for (let attempt = 1; ; attempt++) {
      const answer = await this.call('POST', this.workflowPath(start.workflowId), {
        body,
        timeoutMs: options.timeoutMs ?? 10_000,
      });
      if (answer.kind === 'answered' && answer.status >= 200 && answer.status < 300) {
        const runId = (answer.json as { runId?: unknown } | undefined)?.runId;
        if (typeof runId === 'string' && runId) return { runId };
        throw new HttpStartError(`${this.where()} answered the start without a run id`, 'unknown');
      }
      const failure = this.startFailure(answer);
      if (failure.outcome === 'not-started' || attempt >= attempts) throw failure;
      await new Promise((resolve) => setTimeout(resolve, 100 * 4 ** (attempt - 1)));
    }
  }

  /** How many workers poll `taskQueue` for workflow tasks (DescribeTaskQueue). */
  async workflowPollers(taskQueue: string): Promise<number> {
    const answer = await this.json<{ pollers?: unknown[] }>(
      'GET',
      `${this.base()}/task-queues/${encodeURIComponent(taskQueue)}?taskQueueType=TASK_QUEUE_TYPE_WORKFLOW`,
    );
    return answer.pollers?.length ?? 0;
  }

  /** Queries a workflow; its JSON answer. */
  async query<T>(
    workflowId: string,
    runId: string | undefined,
    queryType: string,
    signal?: AbortSignal,
  ): Promise<T> {
    const answer = await this.json<{ queryResult?: { payloads?: JsonPayload[] } }>(
      'POST',
      `${this.workflowPath(workflowId)}/query/${encodeURIComponent(queryType)}`,
      JSON.stringify({
        execution: { workflowId, ...(runId ? { runId } : {}) },
        query: { queryType },
      }),
      signal,
    );
    const decoded = decodePayload(answer.queryResult?.payloads?.[0]);
    if (!decoded.json)
      throw new Error(`${this.where()}: query '${queryType}' answered a payload that is not JSON`);
    return decoded.value as T;
  }

  /**
   * Waits until the run closes (long polls of its history's close event, as the SDK's `result()`
   * does) and reads how: a completion's JSON result, or `other`.
   */
  async awaitClose(workflowId: string, runId: string): Promise<HttpClose> {
    let pageToken: string | undefined;
    for (;;) {
      const query = new URLSearchParams({
        'execution.runId': runId,
        waitNewEvent: 'true',
        historyEventFilterType: 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT',
        ...(pageToken ? { nextPageToken: pageToken } : {}),
      });
      // The server answers a long poll within ~20 s, with the event or without one.
      const answer = await this.json<HistoryAnswer>(
        'GET',
        `${this.workflowPath(workflowId)}/history?${query}`,
        undefined,
        undefined,
        70_000,
      );
      const event = answer.history?.events?.[0];
      if (!event) {
        pageToken = answer.nextPageToken || undefined;
        continue;
      }
      const eventType = event.eventType ?? '';
      if (eventType !== 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED')
        return { status: 'other', eventType };
      const attributes = event.workflowExecutionCompletedEventAttributes as
        { result?: { payloads?: JsonPayload[] } } | undefined;
      const decoded = decodePayload(attributes?.result?.payloads?.[0]);
      return decoded.json
        ? { status: 'completed', result: decoded.value }
        : { status: 'other', eventType };
    }
  }

  private base(): string {
    return `${this.endpoint.url.pathname.replace(/\/$/, '')}/api/v1/namespaces/${encodeURIComponent(this.namespace)}`;
  }

  private workflowPath(workflowId: string): string {
    return `${this.base()}/workflows/${encodeURIComponent(workflowId)}`;
  }

  private where(): string {
    return `Temporal's HTTP API at ${this.endpoint.url.origin}`;
  }

  /** A call answered with 2xx JSON; anything else throws, saying what the server said. */
  private async json<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: string,
    signal?: AbortSignal,
    timeoutMs = 10_000,
  ): Promise<T> {
    const answer = await this.call(method, path, {
      ...(body !== undefined ? { body } : {}),
      ...(signal ? { signal } : {}),
      timeoutMs,
    });
    if (answer.kind === 'failed') {
      throw new Error(`${this.where()}: ${answer.error.code ?? answer.error.message}`, {
        cause: answer.error,
      });
    }
    if (answer.status < 200 || answer.status >= 300 || answer.json === undefined) {
      const status = answer.json as { message?: unknown } | undefined;
      throw new Error(
        `${this.where()}: HTTP ${answer.status} (${typeof status?.message === 'string' ? status.message : answer.text.slice(0, 200)})`,
      );
    }
    return answer.json as T;
  }

  /** The error a failed start attempt stands for, with what it says about the run. */
  private startFailure(answer: Answer): HttpStartError {
    if (answer.kind === 'failed') {
      const reason = answer.error.code ?? answer.error.message;
      return new HttpStartError(
        `${this.where()} ${answer.sent ? 'did not answer the start' : 'could not be reached'} (${reason})`,
        answer.sent ? 'unknown' : 'not-started',
        { cause: answer.error },
      );
    }
    const status = answer.json as { code?: unknown; message?: unknown } | undefined;
    const code = typeof status?.code === 'number' ? status.code : undefined;
    const message =
      typeof status?.message === 'string' ? status.message : answer.text.slice(0, 200);
    // A gRPC status says whether the server acted; a bare 5xx comes from a proxy that may have
    // forwarded the request.
    const unknown = code === undefined ? answer.status >= 500 : UNKNOWN_OUTCOME_CODES.has(code);
    return new HttpStartError(
      `${this.where()} refused the start (HTTP ${answer.status}${code !== undefined ? `, gRPC code ${code}` : ''}: ${message})`,
      unknown ? 'unknown' : 'not-started',
    );
  }

  /** One request; never rejects. `sent` tells whether the request left before a failure. */
  private async call(
    method: 'GET' | 'POST',
    path: string,
    options: { body?: string; timeoutMs: number; signal?: AbortSignal },
  ): Promise<Answer> {
    const { endpoint } = this;
    const https = endpoint.url.protocol === 'https:';
    const { request } = https ? await import('node:https') : await import('node:http');
    const { body } = options;
    return new Promise<Answer>((resolve) => {
      let sent = false;
      const fail = (error: NodeJS.ErrnoException): void => {
        resolve({ kind: 'failed', error, sent });
        req.destroy();
      };
      const req: ClientRequest = request(
        {
          protocol: endpoint.url.protocol,
          hostname: endpoint.url.hostname.replace(/^\[|\]$/g, ''),
          port: endpoint.url.port || (https ? 443 : 80),
          path,
          method,
          agent: false,
          timeout: options.timeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
          headers: {
            accept: CANONICAL_JSON,
            ...(body !== undefined
              ? { 'content-type': CANONICAL_JSON, 'content-length': Buffer.byteLength(body) }
              : {}),
            ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
          },
          ...(https && endpoint.tls
            ? {
                ...(endpoint.tls.ca ? { ca: asBuffer(endpoint.tls.ca) } : {}),
                ...(endpoint.tls.cert ? { cert: asBuffer(endpoint.tls.cert) } : {}),
                ...(endpoint.tls.key ? { key: asBuffer(endpoint.tls.key) } : {}),
                ...(endpoint.tls.serverName ? { servername: endpoint.tls.serverName } : {}),
              }
            : {}),
        },
        (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ kind: 'answered', status: response.statusCode ?? 0, json, text });
          });
        },
      );
      req.on('timeout', () =>
        fail(
          Object.assign(new Error(`no answer in ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' }),
        ),
      );
      req.on('error', fail);
      req.on('finish', () => (sent = true));
      req.end(body);
    });
  }
}

/** Bytes as a Buffer, without a copy. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The API's canonical JSON: payloads as `{ metadata, data }` with base64 bytes, never shorthand. */
const CANONICAL_JSON = 'application/json+no-payload-shorthand';

type Answer =
  | { kind: 'answered'; status: number; json: unknown; text: string }
  | { kind: 'failed'; error: NodeJS.ErrnoException; sent: boolean };

/** A payload's value when the SDK's default converter wrote it as JSON (or null). */
function decodePayload(payload: JsonPayload | undefined): { json: boolean; value?: unknown } {
  if (!payload) return { json: true, value: undefined };
  const text = (value: string | undefined): string =>
    Buffer.from(value ?? '', 'base64').toString('utf8');
  const encoding = text(payload.metadata?.encoding);
  if (encoding === 'binary/null') return { json: true, value: undefined };
  if (encoding !== 'json/plain') return { json: false };
  try {
    return { json: true, value: JSON.parse(text(payload.data)) };
  } catch {
    return { json: false };
  }
}
