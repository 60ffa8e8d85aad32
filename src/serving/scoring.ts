/**
 * One scoring request, from body text to the answer's JSON: read the body, check records against
 * the signature, resolve params, predict, serialise. Written once as sliced work, run on the event
 * loop in time slices (small requests, `runSliced`) or to completion in a worker thread (large
 * ones, `runSync`): both give the same answers and the same errors.
 */
import { resolveParams, SignatureValidationError } from '../model/signature.js';
import type { ColSpec, ParamSpec } from '../model/signature.js';
import { enforceInputs, enforceParams } from './enforce-schema.js';
import { BadRequestError, ServingError } from './errors.js';
import type { CompiledScoringServerOptions } from './options.js';
import { scoringRequestWork } from './parse-request.js';
import { runSync, type Sliced } from './slicing.js';
import type { ParsedRequest, ScoringModel } from './types.js';

type Rec = Record<string, unknown>;

/** Runs sliced work: `runSliced` on the event loop, `runSync` in a thread. */
export type RunWork = <T>(work: Sliced<T>) => Promise<T> | T;

/** The answer to a request that was scored: the body of the 200 and what to log as warnings. */
export interface Scored {
  json: string;
  warnings: string[];
}

/** Predictions of more rows than this are serialised a slice at a time. */
const STRINGIFY_ROWS = 2000;

/** `{"predictions": ...}` as sliced work: a long list is serialised a few thousand rows at a time. */
function* stringifyPredictions(predictions: unknown): Sliced<string> {
  if (!Array.isArray(predictions) || predictions.length <= STRINGIFY_ROWS)
    return `{"predictions":${JSON.stringify(predictions ?? null)}}`;
  const parts: string[] = [];
  for (let i = 0; i < predictions.length; i += STRINGIFY_ROWS) {
    const json = JSON.stringify(predictions.slice(i, i + STRINGIFY_ROWS));
    parts.push(json.slice(1, -1));
    yield;
  }
  return `{"predictions":[${parts.filter((p) => p.length > 0).join(',')}]}`;
}

type ScorerOptions = Pick<CompiledScoringServerOptions, 'strict' | 'maxRecords' | 'maxColumns'>;

/**
 * Scores requests for one model. What depends only on the model is resolved once: the input
 * schema, and the params a request without params gets (the signature's defaults, frozen and
 * shared by every such request).
 */
export class RequestScorer {
  readonly #inputs: readonly ColSpec[] | undefined;
  readonly #paramsSchema: readonly ParamSpec[] | undefined;
  readonly #defaultParams: Readonly<Record<string, unknown>> | undefined;

  constructor(
    private readonly model: ScoringModel,
    private readonly options: ScorerOptions,
  ) {
    this.#readOptions = {
      strict: options.strict,
      maxRecords: options.maxRecords,
      maxColumns: options.maxColumns,
    };
    this.#inputs = model.signature?.inputs;
    this.#paramsSchema = model.signature?.params;
    this.#defaultParams = this.#paramsSchema
      ? Object.freeze(resolveParams(undefined, this.#paramsSchema))
      : undefined;
  }

  /**
   * Scores one request body of the given Content-Type. Throws a {@link ServingError} (or a
   * `SignatureValidationError`) for a request that cannot be scored; an error thrown by `predict`
   * becomes, as MLflow answers it, a 400 `BAD_REQUEST` with its message.
   */
  async score(body: string, contentType: string | undefined, run: RunWork): Promise<Scored> {
    const parsed = await run(this.#read(body, contentType));
    const records = await run(
      enforceInputs(parsed.records, this.#inputs, this.options.strict, parsed.columns),
    );
    const { params, warnings } = this.#params(parsed);
    const predictions = await this.#predict(records, params);
    return { json: await run(stringifyPredictions(predictions)), warnings };
  }

  /**
   * {@link score} for a small body: read, checked and serialised without pausing, and without a
   * turn of the microtask queue between the steps (only `predict` is awaited).
   */
  scoreNow(body: string, contentType: string | undefined): Promise<Scored> {
    let records: Rec[];
    let params: Record<string, unknown> | undefined;
    let warnings: string[];
    try {
      const parsed = runSync(this.#read(body, contentType));
      records = runSync(
        enforceInputs(parsed.records, this.#inputs, this.options.strict, parsed.columns),
      );
      ({ params, warnings } = this.#params(parsed));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.#predict(records, params).then((predictions) => ({
      json:
        !Array.isArray(predictions) || predictions.length <= STRINGIFY_ROWS
          ? `{"predictions":${JSON.stringify(predictions ?? null)}}`
          : runSync(stringifyPredictions(predictions)),
      warnings,
    }));
  }

  #read(body: string, contentType: string | undefined): Sliced<ParsedRequest> {
    return scoringRequestWork(body, contentType, this.#inputs, this.#readOptions);
  }

  readonly #readOptions: ScorerOptions;

  /** The params of a request (the shared defaults when it has none) and the warnings so far. */
  #params(parsed: ParsedRequest): {
    params: Record<string, unknown> | undefined;
    warnings: string[];
  } {
    const warnings = parsed.warnings ? [...parsed.warnings] : [];
    if (parsed.params === undefined) return { params: this.#defaultParams, warnings };
    const enforced = enforceParams(parsed.params, this.#paramsSchema, this.options.strict);
    if (enforced.ignored.length > 0)
      warnings.unshift(
        `Unrecognized params ${enforced.ignored.map((p) => `'${p}'`).join(', ')} are ignored (the model declares ${this.#paramsSchema?.length ? this.#paramsSchema.map((p) => `'${p.name}'`).join(', ') : 'no params'})`,
      );
    return { params: enforced.params, warnings };
  }

  /** `predict`, whose failures (thrown or rejected) become what MLflow answers (see {@link score}). */
  #predict(records: Rec[], params: Record<string, unknown> | undefined): Promise<unknown> {
    let predicted: Promise<unknown>;
    try {
      predicted = Promise.resolve(this.model.predict(records, params));
    } catch (e) {
      return Promise.reject(predictError(e));
    }
    return predicted.then(undefined, (e: unknown) => {
      throw predictError(e);
    });
  }
}

/** An error of `predict` as answered: a `ServingError` or signature error as is, others as MLflow's 400. */
function predictError(e: unknown): Error {
  if (e instanceof ServingError || e instanceof SignatureValidationError) return e;
  const err = e as Error;
  return new BadRequestError(
    `Encountered an unexpected error while evaluating the model. Verify that the input is compatible with the model for inference. Error: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`,
    { cause: e },
  );
}
