/**
 * The dataset contract, run against every implementation (like Hono's shared router tests):
 * round trip, exists, missing data, JSON-safe describe, atomic saves.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError } from '../../src/datasets/errors.js';
import type { Dataset } from '../../src/datasets/types.js';

export interface DatasetContractCase<T> {
  /** Label of the describe() block. */
  label: string;
  /** A fresh dataset named `name` whose files live under `dir`. */
  create(dir: string, name: string): Dataset<T>;
  /** A value to save. */
  sample(): T;
  /** Compares a loaded value with the sample. @default toEqual */
  check?(loaded: unknown, sample: T): void | Promise<void>;
  /** A value whose save throws part-way (persisted datasets). */
  failingData?(): T;
}

async function listAll(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

export function datasetContract<T>(spec: DatasetContractCase<T>): void {
  describe(`${spec.label} honours the dataset contract`, () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dataset-contract-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads back what it saved', async () => {
      const dataset = spec.create(dir, 'round_trip');
      const sample = spec.sample();
      await dataset.save(sample);
      const loaded = await dataset.load();
      if (spec.check) await spec.check(loaded, sample);
      else expect(loaded).toEqual(sample);
    });

    it('exists only after a save', async () => {
      const dataset = spec.create(dir, 'existence');
      expect(await dataset.exists()).toBe(false);
      await dataset.save(spec.sample());
      expect(await dataset.exists()).toBe(true);
    });

    it('throws a DatasetError naming the dataset when loading data never saved', async () => {
      const dataset = spec.create(dir, 'never_saved');
      const error = await dataset.load().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DatasetError);
      expect((error as DatasetError).message).toContain('never_saved');
      expect((error as DatasetError).dataset).toBe('never_saved');
    });

    it('describes itself as JSON-safe data with its type', async () => {
      const dataset = spec.create(dir, 'described');
      await dataset.save(spec.sample());
      const description = dataset.describe();
      expect(JSON.parse(JSON.stringify(description))).toEqual(description);
      expect(typeof description.type).toBe('string');
    });

    const failing = spec.failingData;
    if (failing) {
      it('leaves neither the file nor a temp file when a save fails', async () => {
        const dataset = spec.create(dir, 'atomic');
        await expect(dataset.save(failing())).rejects.toBeInstanceOf(DatasetError);
        expect(await listAll(dir)).toEqual([]);
        expect(await dataset.exists()).toBe(false);
      });

      it('keeps the previous data when a later save fails', async () => {
        const dataset = spec.create(dir, 'atomic_keep');
        const sample = spec.sample();
        await dataset.save(sample);
        const before = await listAll(dir);
        await expect(dataset.save(failing())).rejects.toBeInstanceOf(DatasetError);
        expect(await listAll(dir)).toEqual(before);
        const loaded = await dataset.load();
        if (spec.check) await spec.check(loaded, sample);
        else expect(loaded).toEqual(sample);
      });
    }
  });
}
