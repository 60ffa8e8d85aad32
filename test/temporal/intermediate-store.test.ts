/**
 * The local intermediate store: clearing a run moves its folder away at once and deletes it
 * afterwards, with what a process that died before deleting left behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalIntermediateStore } from '../../src/temporal/intermediate-store.js';
import { waitFor } from '../support/lifecycle.js';

describe('clearing a run of the local intermediate store', () => {
  it('removes the run at once, and deletes its folder and folders left by dead processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-intermediate-'));
    const store = new LocalIntermediateStore(dir);
    for (let i = 0; i < 50; i++) await store.save('run-a', `d${i}`, { i });
    await store.save('run-b', 'd0', 'kept');
    // A process died after moving a cleared run away, before deleting it.
    mkdirSync(join(dir, '.cleared-1-dead'));
    writeFileSync(join(dir, '.cleared-1-dead', 'd0.bin'), 'x');

    await store.clear('run-a');
    expect(await store.exists('run-a', 'd0')).toBe(false);
    await expect(store.load('run-a', 'd0')).rejects.toThrow();
    await waitFor('the cleared folders to be deleted', async () =>
      readdirSync(dir).every((name) => !name.startsWith('.cleared-')),
    );
    expect(readdirSync(dir)).toEqual(['run-b']);
    expect(await store.load('run-b', 'd0')).toBe('kept');

    // The run may store again (a retried node), and clearing twice is harmless.
    await store.save('run-a', 'd0', 1);
    expect(await store.load('run-a', 'd0')).toBe(1);
    await store.clear('run-a');
    await store.clear('run-a');
    expect(existsSync(join(dir, 'run-a'))).toBe(false);
  });
});
