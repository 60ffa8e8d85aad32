/**
 * The local intermediate store keeps a run's small values in one log file per writing process,
 * not a file per value, and every process sharing the folder reads the latest value of a dataset.
 * Two store instances on one folder stand for two worker processes (each writes its own log).
 */
import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalIntermediateStore, safeSegment } from '../../src/temporal/intermediate-store.js';

const storeDir = (): string => mkdtempSync(join(tmpdir(), 'tm-value-log-'));
const big = (fill: number): Float64Array => new Float64Array(40_000).fill(fill); // 320 kB

describe("the local intermediate store's value logs", () => {
  it('creates one file for a run of many small values, not one per value', async () => {
    const dir = storeDir();
    const store = new LocalIntermediateStore(dir);
    for (let i = 0; i < 50; i++) await store.save('run', `d${i}`, { i });
    expect(readdirSync(join(dir, 'run'))).toHaveLength(1);
    for (let i = 0; i < 50; i++) expect(await store.load('run', `d${i}`)).toEqual({ i });
    expect(await store.exists('run', 'd7')).toBe(true);
    expect(await store.exists('run', 'missing')).toBe(false);
    await expect(store.load('run', 'missing')).rejects.toThrow(/ENOENT/);
  });

  it('gives every process the latest value of a dataset, whichever process wrote it', async () => {
    const dir = storeDir();
    const first = new LocalIntermediateStore(dir);
    const second = new LocalIntermediateStore(dir);
    await first.save('run', 'model', 'from the first');
    expect(await second.load('run', 'model')).toBe('from the first');
    // A retried node on the other worker writes the dataset again: both read the retry's value.
    await second.save('run', 'model', 'from the retry');
    expect(await first.load('run', 'model')).toBe('from the retry');
    expect(await second.load('run', 'model')).toBe('from the retry');
    await first.save('run', 'model', 'third');
    expect(await second.load('run', 'model')).toBe('third');
    expect(readdirSync(join(dir, 'run')).filter((name) => name.endsWith('.log'))).toHaveLength(2);
  });

  it('keeps a large value in a file of its own, and the latest value wins whatever its size', async () => {
    const dir = storeDir();
    const writer = new LocalIntermediateStore(dir);
    const reader = new LocalIntermediateStore(dir);
    await writer.save('run', 'table', 'small');
    await writer.save('run', 'table', big(1));
    expect(readdirSync(join(dir, 'run'))).toContain(`${safeSegment('table')}.bin`);
    expect(await reader.load('run', 'table')).toEqual(big(1));
    await reader.save('run', 'table', 'small again');
    expect(await writer.load('run', 'table')).toBe('small again');
    await reader.save('run', 'table', big(2));
    expect(await writer.load('run', 'table')).toEqual(big(2));
  });

  it('reads past nothing a crash cut short, and stores again into a run another process cleared', async () => {
    const dir = storeDir();
    const dead = new LocalIntermediateStore(dir);
    await dead.save('run', 'kept', 1);
    const [log] = readdirSync(join(dir, 'run'));
    // The dying process's last record: its prefix and half a header.
    appendFileSync(
      join(dir, 'run', log!),
      Buffer.from([0x31, 0x56, 0x4d, 0x54, 40, 0, 0, 0, 0x7b]),
    );
    const alive = new LocalIntermediateStore(dir);
    expect(await alive.load('run', 'kept')).toBe(1);
    await alive.save('run', 'next', 2);
    expect(await alive.load('run', 'next')).toBe(2);

    // The run is cleared by another worker, then a retried node stores into it again.
    await new LocalIntermediateStore(dir).clear('run');
    expect(await alive.exists('run', 'next')).toBe(false);
    await alive.save('run', 'next', 3);
    expect(await new LocalIntermediateStore(dir).load('run', 'next')).toBe(3);
    expect(await alive.load('run', 'next')).toBe(3);
  });
});
