/**
 * Starting a workflow through Temporal's HTTP API (the frontend's `--http-port`, 7243 by default
 * on a server started with it), with nothing but `node:http`.
 *
 * Why: loading `@temporalio/client` (gRPC, and protobufjs building the whole Temporal API) takes
 * ~0.35 s of a 2-core machine's CPU. A CLI that sends the start request over HTTP first, and loads
 * the client while the workflow already runs, waits that much less. Everything after the start
 * (progress queries, the result, failures) still goes through the client.
 *
 * Payloads are what the SDK's default converter writes (`json/plain`, JSON text), so a worker
 * cannot tell the two starts apart. A client with a payload codec must not use this path: it would
 * send the input unencrypted.
 *
 * Retries reuse the request id, so the server deduplicates them: one request id starts at most one
 * run, however many attempts reach it.
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
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; serverName?: string };
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
  /** Called once the first request is handed to the network: the caller may go on with other work. */
  onSent?: () => void;
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

/** A payload as the SDK's JSON converter writes it, in the HTTP API's JSON form (bytes as base64). */
export function jsonPayload(value: unknown): { metadata: Record<string, string>; data: string } {
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

/** Starts the workflow over HTTP; resolves to its first run's id. */
export async function startWorkflowOverHttp(
  endpoint: HttpEndpoint,
  start: HttpWorkflowStart,
  options: HttpStartOptions = {},
): Promise<{ runId: string }> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const body = JSON.stringify(startRequestBody(start, randomUUID()));
  const path = `${endpoint.url.pathname.replace(/\/$/, '')}/api/v1/namespaces/${encodeURIComponent(start.namespace)}/workflows/${encodeURIComponent(start.workflowId)}`;
  let onSent = options.onSent;
  for (let attempt = 1; ; attempt++) {
    const answer = await post(endpoint, path, body, options.timeoutMs ?? 10_000, () => {
      onSent?.();
      onSent = undefined;
    });
    if (answer.kind === 'answered' && answer.status >= 200 && answer.status < 300) {
      const runId = (answer.json as { runId?: unknown } | undefined)?.runId;
      if (typeof runId === 'string' && runId) return { runId };
      throw new HttpStartError(
        `Temporal's HTTP API at ${endpoint.url.origin} answered the start without a run id`,
        'unknown',
      );
    }
    const failure = describe(endpoint, answer);
    if (failure.outcome === 'not-started' || attempt >= attempts) {
      onSent?.();
      throw failure;
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * 4 ** (attempt - 1)));
  }
}

type Answer =
  | { kind: 'answered'; status: number; json: unknown; text: string }
  | { kind: 'failed'; error: NodeJS.ErrnoException; sent: boolean };

/** The error a failed attempt stands for, with what it says about the run. */
function describe(endpoint: HttpEndpoint, answer: Answer): HttpStartError {
  const where = `Temporal's HTTP API at ${endpoint.url.origin}`;
  if (answer.kind === 'failed') {
    const reason = answer.error.code ?? answer.error.message;
    return new HttpStartError(
      `${where} ${answer.sent ? 'did not answer the start' : 'could not be reached'} (${reason})`,
      answer.sent ? 'unknown' : 'not-started',
      { cause: answer.error },
    );
  }
  const status = answer.json as { code?: unknown; message?: unknown } | undefined;
  const code = typeof status?.code === 'number' ? status.code : undefined;
  const message = typeof status?.message === 'string' ? status.message : answer.text.slice(0, 200);
  // A gRPC status says whether the server acted; a bare 5xx comes from a proxy that may have
  // forwarded the request.
  const unknown = code === undefined ? answer.status >= 500 : UNKNOWN_OUTCOME_CODES.has(code);
  return new HttpStartError(
    `${where} refused the start (HTTP ${answer.status}${code !== undefined ? `, gRPC code ${code}` : ''}: ${message})`,
    unknown ? 'unknown' : 'not-started',
  );
}

/** One POST; never rejects. `sent` tells whether the request left before a failure. */
async function post(
  endpoint: HttpEndpoint,
  path: string,
  body: string,
  timeoutMs: number,
  onSent: () => void,
): Promise<Answer> {
  const https = endpoint.url.protocol === 'https:';
  const { request } = https ? await import('node:https') : await import('node:http');
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
        method: 'POST',
        agent: false,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}),
        },
        ...(https && endpoint.tls
          ? {
              ...(endpoint.tls.ca ? { ca: endpoint.tls.ca } : {}),
              ...(endpoint.tls.cert ? { cert: endpoint.tls.cert } : {}),
              ...(endpoint.tls.key ? { key: endpoint.tls.key } : {}),
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
      fail(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', fail);
    req.on('finish', () => {
      sent = true;
      onSent();
    });
    req.end(body);
  });
}
