/** Batches (workflows/batches.ts), pure: one call in flight, the items pushed meanwhile in the next. */
import { Batches } from '../../workflows/batches.js';

describe('Batches', () => {
  it('hands the items pushed while a call runs to the next call, all at once', async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const batches = new Batches<number>(async (batch) => {
      calls.push(batch);
      if (calls.length === 1) await first;
    });
    batches.push(1);
    batches.push(2);
    batches.push(3);
    expect(calls).toEqual([[1]]);
    release();
    await batches.settled();
    expect(calls).toEqual([[1], [2, 3]]);
    batches.push(4);
    await batches.settled();
    expect(calls).toEqual([[1], [2, 3], [4]]);
  });

  it('starts no call while closed: the items stay for take()', async () => {
    let open = true;
    const calls: string[][] = [];
    const batches = new Batches<string>(
      async (batch) => void calls.push(batch),
      () => open,
    );
    batches.push('a');
    await batches.settled();
    open = false;
    batches.push('b');
    batches.push('c');
    await batches.settled();
    expect(calls).toEqual([['a']]);
    expect(batches.take()).toEqual(['b', 'c']);
    expect(batches.take()).toEqual([]);
  });
});
