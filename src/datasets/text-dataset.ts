import { readFile, writeFile } from 'node:fs/promises';
import * as z from 'zod';
import { parseDatasetConfig, fileEntryShape } from './config-schema.js';
import type { FileDatasetOptions } from './file-dataset.js';
import { AbstractFileDataset } from './file-dataset.js';
import type { DatasetFactory } from './types.js';
import { fileOptionsFrom } from './file-options.js';

/** A UTF-8 text file (kedro-datasets `text.TextDataset`). */
export class TextDataset extends AbstractFileDataset<string> {
  readonly type = 'text.TextDataset';

  constructor(options: FileDatasetOptions) {
    super(options);
  }

  protected async readFile(path: string): Promise<string> {
    return readFile(path, 'utf8');
  }

  protected async writeFile(tempPath: string, data: string): Promise<void> {
    if (typeof data !== 'string') throw new TypeError(`expected a string, received ${typeof data}`);
    await writeFile(tempPath, data, 'utf8');
  }
}

const textSchema = z.strictObject({ ...fileEntryShape });

/** Registry factory for `text.TextDataset`. */
export const textDatasetFactory: DatasetFactory = (config, context) => {
  const parsed = parseDatasetConfig(textSchema, config, {
    type: 'text.TextDataset',
    name: context.name,
  });
  return new TextDataset(fileOptionsFrom(parsed, context));
};
