/**
 * The HTTP transport under every MLflow call: base URL, auth headers, bounded retries with
 * exponential backoff and jitter (429, 5xx and connection failures only), and the mapping of
 * MLflow's `{error_code, message}` answers to the error family. Nothing here ever puts a
 * credential into an error message or an error's `cause`.
 */
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import axios from 'axios';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse, Method } from 'axios';
import {
  MlflowAuthError,
  MlflowConnectionError,
  MlflowError,
  MlflowInvalidParameterError,
  MlflowResourceAlreadyExistsError,
  MlflowResourceNotFoundError,
} from './errors.js';

/** Credentials: a bearer token, or Basic username/password. */
export type MlflowAuth = { token: string } | { username: string; password: string };

export interface RetryOptions {
  /** Attempts per call, the first included. @default 5 */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time, with jitter. @default 250 */
  initialDelayMs?: number;
  /** Upper bound of one delay. @default 4000 */
  maxDelayMs?: number;
  /** No new attempt starts after this long since the call began. @default 30000 */
  totalTimeoutMs?: number;
}

export interface TransportOptions {
  trackingUri: string;
  http?: AxiosInstance;
  auth?: MlflowAuth;
  retry?: RetryOptions;
  /** Socket idle timeout of one attempt (capped by what is left of `totalTimeoutMs`). @default 30000 */
  requestTimeoutMs?: number;
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
}

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
  private readonly http: AxiosInstance;

  constructor(options: TransportOptions) {
    this.options = compileTransportOptions(options);
    this.http =
      options.http ??
      axios.create(
        options.insecureTls
          ? { httpsAgent: new HttpsAgent({ rejectUnauthorized: false, keepAlive: true }) }
          : {},
      );
  }

  /** A JSON call; resolves to the parsed body, throws a mapped `MlflowError`. */
  async json<T>(spec: RequestSpec): Promise<T> {
    const response = await this.raw({ ...spec, responseType: 'json' });
    return (response.data ?? {}) as T;
  }

  /** Any call, retried as configured; rejects with a mapped error for HTTP status ≥ 400. */
  async raw(spec: RawRequestSpec): Promise<AxiosResponse> {
    const endpoint = `${spec.method.toUpperCase()} ${spec.path}`;
    const { maxAttempts, initialDelayMs, maxDelayMs, totalTimeoutMs, requestTimeoutMs } =
      this.options;
    const started = Date.now();
    const deadline = started + totalTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const remaining = Math.max(deadline - Date.now(), 1);
      let response: AxiosResponse | undefined;
      let networkError: { code: string; message: string } | undefined;
      try {
        response = await this.http.request(
          this.config(spec, Math.min(requestTimeoutMs, Math.max(remaining, 1000))),
        );
      } catch (error) {
        networkError = describeNetworkError(error);
      }
      let retryAfterMs: number | undefined;
      if (response && response.status < 400) return response;
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
      throw await this.httpError(response!, endpoint, retryable ? attempt : 1);
    }
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
        `in mlflow.yml, and that the server is running ('npm run services start', or 'mlflow server --host 127.0.0.1 --port 5000').`,
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
  if (axios.isAxiosError(error)) {
    const code = error.code ?? 'ERR_NETWORK';
    const aggregate = (error.cause as { errors?: { code?: string }[] } | undefined)?.errors;
    const inner = aggregate?.[0]?.code;
    return { code: code === 'ERR_NETWORK' && inner ? inner : code, message: error.message };
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
    data = await readStream(data as Readable, 64 * 1024);
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
  if (data && typeof data.resume === 'function') data.resume();
}
