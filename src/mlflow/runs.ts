/**
 * Runs: lifecycle (create, get, search, update, delete), logging (log-batch chunked to the
 * server's limits, single metric/param/tag), dataset inputs, model outputs and metric history.
 */
import { recordLoggedMetrics } from './metric-recorder.js';
import type { Transport } from './http.js';
import { paginate, runBounded, toKeyValues } from './util.js';
import type {
  DatasetInput,
  KeyValue,
  LogBatchInput,
  Metric,
  MetricInput,
  ModelOutput,
  Page,
  PageOptions,
  Run,
  RunInfo,
  RunStatus,
  TagsInput,
  ViewType,
} from './types.js';
import { MLFLOW_LIMITS, fromWireNumber, validateMetric, validateParam } from './validation.js';
import type { WireMetric } from './validation.js';

const API = '/api/2.0/mlflow';

export interface CreateRunOptions {
  experimentId: string;
  runName?: string;
  tags?: TagsInput;
  /** Milliseconds since the epoch. @default Date.now() */
  startTime?: number;
}

export interface UpdateRunOptions {
  status?: RunStatus;
  /** Milliseconds since the epoch. */
  endTime?: number;
  runName?: string;
}

export interface SearchRunsOptions extends PageOptions {
  experimentIds: string[];
  /** MLflow search syntax, e.g. `params.alpha = '0.5' and attributes.status = 'FINISHED'`. */
  filter?: string;
  /** e.g. `['metrics.rmse ASC', 'start_time DESC']`. */
  orderBy?: string[];
  runViewType?: ViewType;
}

/** Concurrency of log-batch requests when a batch needs several. @default 4 */
export interface LogBatchOptions {
  concurrency?: number;
}

interface WireBatch {
  metrics: WireMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** A run answer must carry `run.info`: callers read `info.run_id` and `info.artifact_uri`. */
const RUN_SHAPE = { run: 'object', 'run.info': 'object' } as const;

export class RunsApi {
  constructor(private readonly transport: Transport) {}

  async create(options: CreateRunOptions): Promise<Run> {
    const body = await this.transport.json<{ run: Run }>({
      method: 'POST',
      path: `${API}/runs/create`,
      body: {
        experiment_id: options.experimentId,
        start_time: options.startTime ?? Date.now(),
        ...(options.runName ? { run_name: options.runName } : {}),
        ...(options.tags ? { tags: toKeyValues(options.tags) } : {}),
      },
      expect: RUN_SHAPE,
    });
    return normaliseRun(body.run);
  }

  async get(runId: string): Promise<Run> {
    const body = await this.transport.json<{ run: Run }>({
      method: 'GET',
      path: `${API}/runs/get`,
      query: { run_id: runId },
      expect: RUN_SHAPE,
    });
    return normaliseRun(body.run);
  }

  async search(options: SearchRunsOptions): Promise<Page<Run>> {
    const body = await this.transport.json<{ runs?: Run[]; next_page_token?: string }>({
      method: 'POST',
      path: `${API}/runs/search`,
      body: {
        experiment_ids: options.experimentIds,
        max_results: options.maxResults ?? 1000,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(options.orderBy ? { order_by: options.orderBy } : {}),
        ...(options.runViewType ? { run_view_type: options.runViewType } : {}),
        ...(options.pageToken ? { page_token: options.pageToken } : {}),
      },
      expect: { runs: 'array?', next_page_token: 'string?' },
    });
    return {
      items: (body.runs ?? []).map(normaliseRun),
      ...(body.next_page_token ? { nextPageToken: body.next_page_token } : {}),
    };
  }

  /** Every matching run, page after page. */
  searchAll(options: Omit<SearchRunsOptions, 'pageToken'>): AsyncGenerator<Run> {
    return paginate((pageToken) =>
      this.search({ ...options, ...(pageToken ? { pageToken } : {}) }),
    );
  }

  async update(runId: string, options: UpdateRunOptions): Promise<RunInfo> {
    const body = await this.transport.json<{ run_info: RunInfo }>({
      method: 'POST',
      path: `${API}/runs/update`,
      body: {
        run_id: runId,
        ...(options.status ? { status: options.status } : {}),
        ...(options.endTime !== undefined ? { end_time: options.endTime } : {}),
        ...(options.runName ? { run_name: options.runName } : {}),
      },
      expect: { run_info: 'object' },
    });
    return body.run_info;
  }

  /** Ends the run: sets its status (FINISHED by default) and end time (now). */
  end(
    runId: string,
    status: Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'> = 'FINISHED',
    endTime = Date.now(),
  ): Promise<RunInfo> {
    return this.update(runId, { status, endTime });
  }

  async delete(runId: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/delete`,
      body: { run_id: runId },
    });
  }

  async restore(runId: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/restore`,
      body: { run_id: runId },
    });
  }

  /**
   * Logs metrics, params and tags, split into as many log-batch calls as the server's limits
   * require (1000 metrics, 100 params, 100 tags, 1000 entities per call). Everything is checked
   * before the first call, so an invalid entry logs nothing.
   */
  async logBatch(
    runId: string,
    batch: LogBatchInput,
    options: LogBatchOptions = {},
  ): Promise<void> {
    const now = Date.now();
    const wire: WireBatch = {
      metrics: (batch.metrics ?? []).map((m) => validateMetric(m, now)),
      params: (batch.params ?? []).map((p) => ({ key: p.key, value: validateParam(p) })),
      tags: batch.tags ? toKeyValues(batch.tags) : [],
    };
    const chunks = chunkBatch(wire);
    // Chunks are independent (distinct entities), so several may be in flight at once.
    await runBounded(chunks.length, options.concurrency ?? 4, (i) =>
      this.transport.json({
        method: 'POST',
        path: `${API}/runs/log-batch`,
        body: { run_id: runId, ...chunks[i] },
      }),
    );
    if (wire.metrics.length > 0) recordLoggedMetrics(runId, wire.metrics);
  }

  async logMetric(
    runId: string,
    key: string,
    value: number,
    options: Omit<MetricInput, 'key' | 'value'> = {},
  ): Promise<void> {
    const metric = validateMetric({ key, value, ...options }, Date.now());
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/log-metric`,
      body: { run_id: runId, ...metric },
    });
    recordLoggedMetrics(runId, [metric]);
  }

  async logParam(runId: string, key: string, value: string | number | boolean): Promise<void> {
    const text = validateParam({ key, value });
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/log-parameter`,
      body: { run_id: runId, key, value: text },
    });
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    const [tag] = toKeyValues([{ key, value }]);
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/set-tag`,
      body: { run_id: runId, ...tag },
    });
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/delete-tag`,
      body: { run_id: runId, key },
    });
  }

  /** Records datasets the run used (`runs/log-inputs`). */
  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/log-inputs`,
      body: { run_id: runId, datasets },
    });
  }

  /** Links logged models to the run as its outputs (`runs/outputs`). */
  async logOutputs(runId: string, models: ModelOutput[]): Promise<void> {
    await this.transport.json({
      method: 'POST',
      path: `${API}/runs/outputs`,
      body: { run_id: runId, models },
    });
  }

  /** Every value logged for one metric, all pages read. */
  async getMetricHistory(runId: string, metricKey: string): Promise<Metric[]> {
    const metrics: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const body = await this.transport.json<{ metrics?: Metric[]; next_page_token?: string }>({
        method: 'GET',
        path: `${API}/metrics/get-history`,
        query: { run_id: runId, metric_key: metricKey, max_results: 25_000, page_token: pageToken },
        expect: { metrics: 'array?', next_page_token: 'string?' },
      });
      metrics.push(...(body.metrics ?? []).map(normaliseMetric));
      pageToken = body.next_page_token;
    } while (pageToken);
    return metrics;
  }
}

/** Splits a batch into log-batch bodies within the server's per-call limits. */
export function chunkBatch(batch: WireBatch): WireBatch[] {
  const { batchMetrics, batchParams, batchTags, batchTotal } = MLFLOW_LIMITS;
  const chunks: WireBatch[] = [];
  let m = 0;
  let p = 0;
  let t = 0;
  while (m < batch.metrics.length || p < batch.params.length || t < batch.tags.length) {
    const params = batch.params.slice(p, p + batchParams);
    const tags = batch.tags.slice(t, t + batchTags);
    const room = Math.min(batchMetrics, batchTotal - params.length - tags.length);
    const metrics = batch.metrics.slice(m, m + room);
    chunks.push({ metrics, params, tags });
    m += metrics.length;
    p += params.length;
    t += tags.length;
  }
  return chunks;
}

function normaliseMetric(metric: Metric): Metric {
  return { ...metric, value: fromWireNumber(metric.value), step: Number(metric.step ?? 0) };
}

function normaliseRun(run: Run): Run {
  if (!run.data?.metrics) return { ...run, data: run.data ?? {} };
  return { ...run, data: { ...run.data, metrics: run.data.metrics.map(normaliseMetric) } };
}
