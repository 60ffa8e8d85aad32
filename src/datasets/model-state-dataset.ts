import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { fileEntryShape, parseDatasetConfig } from './config-schema.js';
import type { FileDatasetOptions } from './file-dataset.js';
import { AbstractFileDataset } from './file-dataset.js';
import { fileOptionsFrom } from './file-options.js';
import { toJsonText } from './json-dataset.js';
import type { DatasetFactory } from './types.js';

/** A fitted model or encoder that can describe its own state. */
export interface StatefulModel<S = unknown> {
  toState(): S;
}

export interface ModelStateDatasetOptions<T> extends FileDatasetOptions {
  /**
   * Rebuilds the object from its saved state on load (e.g. `(s) => Scaler.fromState(s)`).
   * Only settable from code: register a dataset type whose factory passes it.
   * @default the saved state as plain JSON
   */
  revive?: (state: unknown) => T;
}

function hasToState(value: unknown): value is StatefulModel {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StatefulModel).toState === 'function'
  );
}

/** Typed arrays (common in fitted weights) become plain arrays instead of `{"0": ...}` objects. */
function replacer(_key: string, value: unknown): unknown {
  return ArrayBuffer.isView(value) && !(value instanceof DataView)
    ? Array.from(value as unknown as ArrayLike<number>)
    : value;
}

/**
 * Fitted models and encoders with JSON-serialisable state (the role pickle plays in
 * kedro-datasets). Save: `value.toState()` when defined, else the value itself, serialised with
 * `JSON.stringify` (so a `toJSON()` is honoured; typed arrays become arrays). Load: the parsed
 * state, passed through `revive` when given. Functions, symbols and bigints cannot be saved.
 */
export class ModelStateDataset<T = unknown> extends AbstractFileDataset<T> {
  readonly type = 'model.ModelStateDataset';
  readonly #revive: ((state: unknown) => T) | undefined;

  constructor(options: ModelStateDatasetOptions<T>) {
    super(options);
    this.#revive = options.revive;
  }

  protected async readFile(path: string): Promise<T> {
    const state: unknown = JSON.parse(await readFile(path, 'utf8'));
    return this.#revive ? this.#revive(state) : (state as T);
  }

  protected async writeFile(tempPath: string, data: T): Promise<void> {
    const state = hasToState(data) ? data.toState() : data;
    if (typeof state === 'function') {
      throw new TypeError(
        'a function is not JSON-serialisable; give the model a toState() or toJSON() method',
      );
    }
    await writeFile(tempPath, toJsonText(state, undefined, replacer), 'utf8');
  }
}

const modelStateSchema = z.strictObject({ ...fileEntryShape });

/** Registry factory for `model.ModelStateDataset`. */
export const modelStateDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(modelStateSchema, config, {
    type: 'model.ModelStateDataset',
    name: context.name,
  });
  return new ModelStateDataset(fileOptionsFrom(parsed, context));
};
