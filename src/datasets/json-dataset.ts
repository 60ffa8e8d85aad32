import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { fileEntryShape, parseDatasetConfig } from './config-schema.js';
import type { FileDatasetOptions } from './file-dataset.js';
import { AbstractFileDataset } from './file-dataset.js';
import { fileOptionsFrom } from './file-options.js';
import type { DatasetFactory } from './types.js';

export interface JSONDatasetOptions extends FileDatasetOptions {
  /** `JSON.stringify` indentation. @default 2 (as kedro-datasets) */
  indent?: number;
}

/** Serialises `data` as JSON, failing clearly on values JSON cannot represent. */
export function toJsonText(
  data: unknown,
  indent: number | undefined,
  replacer?: (key: string, value: unknown) => unknown,
): string {
  const text = JSON.stringify(data, replacer as never, indent);
  if (text === undefined) throw new TypeError(`a ${typeof data} value is not JSON-serialisable`);
  return text;
}

/** A JSON file (kedro-datasets `json.JSONDataset`): any JSON value. */
export class JSONDataset<T = unknown> extends AbstractFileDataset<T> {
  readonly type: string = 'json.JSONDataset';
  readonly indent: number;

  constructor(options: JSONDatasetOptions) {
    super(options);
    this.indent = options.indent ?? 2;
  }

  protected async readFile(path: string): Promise<T> {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  }

  protected async writeFile(tempPath: string, data: T): Promise<void> {
    await writeFile(tempPath, toJsonText(data, this.indent), 'utf8');
  }

  protected override describeOptions(): Record<string, unknown> {
    return this.indent === 2 ? {} : { save_args: { indent: this.indent } };
  }
}

const jsonSchema = z.strictObject({
  ...fileEntryShape,
  save_args: z.strictObject({ indent: z.number().int().min(0).max(10).optional() }).optional(),
});

/** Registry factory for `json.JSONDataset` (`save_args.indent`). */
export const jsonDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(jsonSchema, config, {
    type: 'json.JSONDataset',
    name: context.name,
  });
  return new JSONDataset({ ...fileOptionsFrom(parsed, context), indent: parsed.save_args?.indent });
};
