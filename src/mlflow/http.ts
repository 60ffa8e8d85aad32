/**
 * The HTTP transport under every MLflow call: base URL, auth headers, bounded retries with
 * exponential backoff and jitter (429, 5xx and connection failures only), and the mapping of
 * MLflow's `{error_code, message}` answers to the error family. Nothing here ever puts a
 * credential into an error message or an error's `cause`.
 */
import { finished } from 'node:stream';
import type { Readable } from 'node:stream';
import { localServicesCommand } from '../utils/local-services-hint.js';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse, Method } from 'axios';
import {
  MlflowAuthError,
  MlflowConnectionError,
  MlflowDeadlineExceededError,
  MlflowError,
  MlflowInvalidParameterError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
  MlflowUnexpectedResponseError,
} from './errors.js';
import { describeValue } from '../utils/describe-value.js';

/** Credentials: a bearer token, or Basic username/password. */
export type MlflowAuth = { token: string } | { username: string; password: string };

export interface RetryOptions {
  /** Attempts per call, the first included. @default 5 */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time, with jitter. @default 250 */
  initialDelayMs?: number;
  /** Upper bound of one delay. @default 4000 */
  maxDelayMs?: number;
  /**
   * Total deadline of one JSON call: every attempt, every backoff and the whole response body
   * included. A server that stalls or trickles bytes is cut here (`MlflowDeadlineExceededError`).
   * @default 30000
   */
  totalTimeoutMs?: number;
}

export interface TransportOptions {
  trackingUri: string;
  http?: AxiosInstance;
  auth?: MlflowAuth;
  retry?: RetryOptions;
  /** Socket idle timeout of one attempt; the whole call is bounded by `totalTimeoutMs`. @default 30000 */
  requestTimeoutMs?: number;
  /**
   * Total deadline of one streamed call (artifact upload or download), from the request to the
   * last byte of the body. @default 600000 (10 minutes)
   */
  transferTimeoutMs?: number;
  /** Accept self-signed TLS certificates (MLFLOW_TRACKING_INSECURE_TLS). @default false */
  insecureTls?: boolean;
}

/** Options after defaults, as the transport uses them. */
export interface CompiledTransportOptions {
  baseUrl: string;
  /** The tracking URI without user info, for messages. */
  displayUri: string;
  authHeader: string | undefined;
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  totalTimeoutMs: number;
  requestTimeoutMs: number;
  transferTimeoutMs: number;
}

export function compileTransportOptions(options: TransportOptions): CompiledTransportOptions {
  let url: URL;
  try {
    url = new URL(options.trackingUri);
  } catch {
    throw new MlflowError(
      `Invalid MLflow tracking URI '${redact(options.trackingUri)}': expected an http(s) URL such as http://127.0.0.1:5000.`,
      { errorCode: 'INVALID_CONFIG' },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MlflowError(
      `Unsupported MLflow tracking URI '${redact(options.trackingUri)}': only http(s) tracking servers are supported ` +
        `(file stores and 'databricks' are not); start one with 'mlflow server' and point MLFLOW_TRACKING_URI at it.`,
      { errorCode: 'INVALID_CONFIG' },
    );
  }
  let auth = options.auth;
  if (!auth && url.username) {
    auth = {
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
  }
  url.username = '';
  url.password = '';
  const baseUrl = url.toString().replace(/\/+$/, '');
  const retry = options.retry ?? {};
  const positive = (name: string, value: number | undefined, fallback: number, min = 0): number => {
    const result = value ?? fallback;
    if (!Number.isFinite(result) || result < min) {
      throw new MlflowError(
        `Invalid MLflow client option ${name}: expected a number ≥ ${min}, received ${value}.`,
        {
          errorCode: 'INVALID_CONFIG',
        },
      );
    }
    return result;
  };
  return {
    baseUrl,
    displayUri: baseUrl,
    authHeader: auth ? authorizationHeader(auth) : undefined,
    maxAttempts: Math.floor(positive('retry.maxAttempts', retry.maxAttempts, 5, 1)),
    initialDelayMs: positive('retry.initialDelayMs', retry.initialDelayMs, 250),
    maxDelayMs: positive('retry.maxDelayMs', retry.maxDelayMs, 4000),
    totalTimeoutMs: positive('retry.totalTimeoutMs', retry.totalTimeoutMs, 30_000, 1),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1),
    transferTimeoutMs: positive('transferTimeoutMs', options.transferTimeoutMs, 600_000, 1),
  };
}

function authorizationHeader(auth: MlflowAuth): string {
  if ('token' in auth) return `Bearer ${auth.token}`;
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** Removes user info from a URL-looking string. */
export function redact(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

export interface RequestSpec {
  method: Method;
  /** Path below the tracking URI, starting with `/api/`. */
  path: string;
  query?: Record<string, string | number | boolean | string[] | undefined>;
  /** JSON body. */
  body?: unknown;
  /**
   * The fields a successful JSON answer must have, by dotted path (`run.info`); checked before
   * the body is handed over, so a wrong shape is an `MlflowUnexpectedResponseError` naming the
   * endpoint and the field instead of a `TypeError` later.
   */
  expect?: ResponseShape;
}

/** JSON type of a field; a trailing `?` makes the field optional (`null` counts as absent). */
export type FieldType =
  | 'object'
  | 'array'
  | 'string'
  | 'number'
  | 'boolean'
  | 'object?'
  | 'array?'
  | 'string?'
  | 'number?'
  | 'boolean?';

export type ResponseShape = Readonly<Record<string, FieldType>>;

export interface RawRequestSpec extends RequestSpec {
  /** Builds a fresh request body stream for each attempt (uploads). */
  stream?: () => Readable;
  headers?: Record<string, string>;
  responseType?: 'stream' | 'json';
}

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Transport {
  readonly options: CompiledTransportOptions;
  private http: AxiosInstance | undefined;
  private readonly insecureTls: boolean;

  constructor(options: TransportOptions) {
    this.options = compileTransportOptions(options);
    this.http = options.http;
    this.insecureTls = options.insecureTls === true;
  }

  /**
   * The axios instance, made on the first call: axios loads with it, not with the package.
   *
   * A plain-HTTP server gets a new connection per call. MLflow's server (uvicorn, MLflow 3) writes
   * an answer's headers and body as two TCP segments without TCP_NODELAY: on a connection kept
   * alive the body waits for the client's delayed ACK (40 ms on Linux), so each call took ≥ 45 ms
   * instead of ~10 ms on a local server. A new connection costs one round trip without TLS (less
   * than the delay on any network); HTTPS keeps its connections (a handshake costs more, and TLS
   * servers sit behind proxies that send an answer at once).
   */
  private async client(): Promise<AxiosInstance> {
    if (this.http) return this.http;
    const { default: axios } = await import('axios');
    this.http ??= axios.create(
      this.options.baseUrl.startsWith('http:')
        ? { httpAgent: new (await import('node:http')).Agent({ keepAlive: false }) }
        : this.insecureTls
          ? {
              httpsAgent: new (await import('node:https')).Agent({
                rejectUnauthorized: false,
                keepAlive: true,
              }),
            }
          : {},
    );
    return this.http;
  }

  /**
   * A JSON call; resolves to the parsed body (a JSON object, checked against `spec.expect`),
   * throws a mapped `MlflowError`.
   */
  async json<T>(spec: RequestSpec): Promise<T> {
    const response = await this.raw({ ...spec, responseType: 'json' });
    const endpoint = `${spec.method.toUpperCase()} ${spec.path}`;
    const data: unknown = response.data === '' || response.data == null ? {} : response.data;
    checkShape(data, spec.expect ?? {}, endpoint, response.status);
    return data as T;
  }

  /**
   * Any call, retried as configured; rejects with a mapped error for HTTP status ≥ 400. The call
   * has one total deadline (`totalTimeoutMs`, or `transferTimeoutMs` when a body is streamed):
   * a streamed response body still being read when it runs out is destroyed with an
   * `MlflowDeadlineExceededError`.
   */
  async raw(spec: RawRequestSpec): Promise<AxiosResponse> {
    const endpoint = `${spec.method.toUpperCase()} ${spec.path}`;
    const { maxAttempts, initialDelayMs, maxDelayMs, requestTimeoutMs } = this.options;
    const streamed = spec.stream !== undefined || spec.responseType === 'stream';
    const budget = streamed ? this.options.transferTimeoutMs : this.options.totalTimeoutMs;
    const started = Date.now();
    const deadline = started + budget;
    const controller = new AbortController();
    let attempt = 1;
    let body: Readable | undefined;
    const timer = setTimeout(() => {
      if (body) body.destroy(this.deadlineError(endpoint, attempt, budget, streamed));
      else controller.abort();
    }, budget);
    timer.unref();
    let handedOver = false;
    try {
      for (; ; attempt++) {
        let response: AxiosResponse | undefined;
        let networkError: { code: string; message: string } | undefined;
        try {
          const http = await this.client();
          response = await http.request({
            ...this.config(spec, requestTimeoutMs),
            signal: controller.signal,
          });
        } catch (error) {
          if (controller.signal.aborted)
            throw this.deadlineError(endpoint, attempt, budget, streamed);
          networkError = describeNetworkError(error);
        }
        let retryAfterMs: number | undefined;
        if (response && response.status < 400) {
          const data = response.data as Readable | undefined;
          if (data && typeof data.pipe === 'function') {
            body = data;
            handedOver = true;
            finished(data, () => clearTimeout(timer));
          }
          return response;
        }
        const retryable = networkError
          ? RETRYABLE_NETWORK_CODES.has(networkError.code)
          : response!.status === 429 || response!.status >= 500;
        if (response && response.status === 429)
          retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        const backoff = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
        const delay = retryAfterMs ?? backoff / 2 + (Math.random() * backoff) / 2;
        const outOfTime = Date.now() + delay >= deadline;
        if (retryable && attempt < maxAttempts && !outOfTime) {
          if (response) drain(response);
          await sleep(delay);
          continue;
        }
        const elapsed = Date.now() - started;
        if (networkError) throw this.connectionError(networkError, endpoint, attempt, elapsed);
        const error = await this.httpError(response!, endpoint, retryable ? attempt : 1);
        if (controller.signal.aborted)
          throw this.deadlineError(endpoint, attempt, budget, streamed);
        throw error;
      }
    } finally {
      if (!handedOver) clearTimeout(timer);
    }
  }

  private deadlineError(
    endpoint: string,
    attempts: number,
    deadlineMs: number,
    streamed: boolean,
  ): MlflowDeadlineExceededError {
    const uri = this.options.displayUri;
    const option = streamed ? 'transferTimeoutMs' : 'retry.totalTimeoutMs';
    return new MlflowDeadlineExceededError(
      `No complete answer from the MLflow tracking server at ${uri} within the ${deadlineMs} ms deadline of ` +
        `${endpoint} (${attempts} attempt(s)): the server is stalled, overloaded or sending very slowly. ` +
        `Check the server; raise the MLflow client option ${option} if calls legitimately take longer.`,
      { endpoint, trackingUri: uri, attempts, deadlineMs },
    );
  }

  private config(spec: RawRequestSpec, timeout: number): AxiosRequestConfig {
    const headers: Record<string, string> = { ...spec.headers };
    if (this.options.authHeader) headers.Authorization = this.options.authHeader;
    let data: unknown;
    if (spec.stream) {
      data = spec.stream();
    } else if (spec.body !== undefined) {
      data = JSON.stringify(spec.body);
      headers['Content-Type'] = 'application/json';
    }
    return {
      method: spec.method,
      url: this.options.baseUrl + spec.path,
      params: spec.query,
      paramsSerializer: { indexes: null },
      data,
      headers,
      timeout,
      responseType: spec.responseType ?? 'json',
      // Never throw on status: the retry loop decides. Never follow redirects: follow-redirects
      // buffers the whole request body to replay it, which would defeat streamed uploads.
      validateStatus: () => true,
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      transitional: { clarifyTimeoutError: true },
    };
  }

  private connectionError(
    error: { code: string; message: string },
    endpoint: string,
    attempts: number,
    elapsedMs: number,
  ): MlflowConnectionError {
    const uri = this.options.displayUri;
    return new MlflowConnectionError(
      `Cannot reach the MLflow tracking server at ${uri} (${error.code}: ${error.message}) after ${attempts} ` +
        `attempt(s) in ${elapsedMs} ms, calling ${endpoint}. Check MLFLOW_TRACKING_URI or server.mlflow_tracking_uri ` +
        `in mlflow.yml, and that the server is running ('${localServicesCommand()}', or 'mlflow server --host 127.0.0.1 --port 5000').`,
      { endpoint, trackingUri: uri, attempts, cause: new Error(`${error.code}: ${error.message}`) },
    );
  }

  private async httpError(
    response: AxiosResponse,
    endpoint: string,
    attempts: number,
  ): Promise<MlflowError> {
    const body = await readErrorBody(response);
    const status = response.status;
    const errorCode = body.error_code ?? statusCode(status);
    const detail = body.message ?? (body.text ? body.text.slice(0, 500) : response.statusText);
    const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
    const message = `MLflow ${errorCode} (HTTP ${status}) from ${endpoint}${retried}: ${detail}`;
    const options = { errorCode, httpStatus: status, endpoint };
    if (errorCode === 'RESOURCE_DOES_NOT_EXIST' || (status === 404 && !body.error_code)) {
      return new MlflowResourceNotFoundError(message, options);
    }
    if (errorCode === 'RESOURCE_ALREADY_EXISTS')
      return new MlflowResourceAlreadyExistsError(message, options);
    if (
      status === 401 ||
      status === 403 ||
      errorCode === 'UNAUTHENTICATED' ||
      errorCode === 'PERMISSION_DENIED'
    ) {
      return new MlflowAuthError(
        `${message}. Check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN ` +
          `(or server.credentials in mlflow.yml).`,
        options,
      );
    }
    if (
      errorCode === 'INVALID_PARAMETER_VALUE' ||
      errorCode === 'BAD_REQUEST' ||
      errorCode === 'INVALID_STATE'
    ) {
      return new MlflowInvalidParameterError(message, options);
    }
    return new MlflowError(message, options);
  }
}

function statusCode(status: number): string {
  if (status === 404) return 'RESOURCE_DOES_NOT_EXIST';
  if (status === 429) return 'REQUEST_LIMIT_EXCEEDED';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 405) return 'ENDPOINT_NOT_FOUND';
  if (status >= 500) return 'INTERNAL_ERROR';
  return 'BAD_REQUEST';
}

function parseRetryAfter(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Only the code and message of a network failure: axios errors carry the request config, headers included. */
function describeNetworkError(error: unknown): { code: string; message: string } {
  // axios.isAxiosError's own test, without loading axios for it.
  if (
    typeof error === 'object' &&
    error !== null &&
    (error as { isAxiosError?: unknown }).isAxiosError === true
  ) {
    const axiosError = error as { code?: string; cause?: unknown; message: string };
    const code = axiosError.code ?? 'ERR_NETWORK';
    const aggregate = (axiosError.cause as { errors?: { code?: string }[] } | undefined)?.errors;
    const inner = aggregate?.[0]?.code;
    return { code: code === 'ERR_NETWORK' && inner ? inner : code, message: axiosError.message };
  }
  const err = error as { code?: string; message?: string };
  return { code: err.code ?? 'ERR_NETWORK', message: err.message ?? String(error) };
}

interface ErrorBody {
  error_code?: string;
  message?: string;
  text?: string;
}

async function readErrorBody(response: AxiosResponse): Promise<ErrorBody> {
  let data: unknown = response.data;
  if (data && typeof (data as Readable).pipe === 'function') {
    try {
      data = await readStream(data as Readable, 64 * 1024);
    } catch {
      // Cut by the deadline or the connection dropped: the status alone has to do.
      return {};
    }
  }
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return { text: data as string };
    }
  }
  if (data && typeof data === 'object') {
    const { error_code, message } = data as ErrorBody;
    return {
      error_code: typeof error_code === 'string' ? error_code : undefined,
      message: typeof message === 'string' ? message : undefined,
    };
  }
  return {};
}

async function readStream(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size < limit) chunks.push(Buffer.from(chunk as Buffer));
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

/** Lets a discarded streamed response body flow away so its socket is freed. */
function drain(response: AxiosResponse): void {
  const data = response.data as Readable | undefined;
  if (data && typeof data.resume === 'function') {
    data.on('error', () => undefined);
    data.resume();
  }
}

function isType(value: unknown, type: string): boolean {
  if (type === 'array') return Array.isArray(value);
  if (type === 'object')
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === type;
}

/** Throws `MlflowUnexpectedResponseError` unless `data` is a JSON object with the fields of `shape`. */
function checkShape(data: unknown, shape: ResponseShape, endpoint: string, status: number): void {
  const fail = (field: string, expected: string, received: unknown): never => {
    const where = field ? `field '${field}'` : 'body';
    throw new MlflowUnexpectedResponseError(
      `Unexpected answer (HTTP ${status}) from ${endpoint}: expected the ${where} to be ${expected}, received ` +
        `${describeValue(received)}. Is the tracking URI an MLflow 3 server (not a proxy's login page or another service)?`,
      { endpoint, httpStatus: status, field },
    );
  };
  if (!isType(data, 'object')) fail('', 'a JSON object', data);
  for (const [path, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const type = optional ? spec.slice(0, -1) : spec;
    let value: unknown = data;
    for (const key of path.split('.')) {
      value = isType(value, 'object') ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value == null && optional) continue;
    if (!isType(value, type))
      fail(path, type === 'array' ? 'an array' : `a${type === 'object' ? 'n' : ''} ${type}`, value);
  }
}
