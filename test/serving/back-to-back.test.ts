/**
 * Small requests scored back to back (issue 16): requests read in one turn of the event loop are
 * scored one after the other in its check phase, each with its own call, in arrival order; a call
 * that throws fails only its own request; a turn stops scoring when its time budget is spent.
 */
import { BackToBack } from '../../src/serving/back-to-back.js';

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('BackToBack', () => {
  it('runs what was queued in one turn one after the other, in order, before later immediates', async () => {
    const events: string[] = [];
    const queue = new BackToBack<string, string>((input) => {
      events.push(input);
      return Promise.resolve(input.toUpperCase());
    }, 4);
    const answers = [queue.run('a'), queue.run('b'), queue.run('c')];
    expect(events).toEqual([]); // not started in the turn that queued them
    setImmediate(() => events.push('other'));
    expect(await Promise.all(answers)).toEqual(['A', 'B', 'C']);
    await immediate();
    expect(events).toEqual(['a', 'b', 'c', 'other']);
  });

  it('fails only the call that throws or rejects', async () => {
    const queue = new BackToBack<number, number>((n) => {
      if (n === 1) throw new Error('thrown');
      if (n === 2) return Promise.reject(new Error('rejected'));
      return Promise.resolve(n * 10);
    }, 4);
    const results = await Promise.allSettled([0, 1, 2, 3].map((n) => queue.run(n)));
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
    ).toEqual([0, 'thrown', 'rejected', 30]);
  });

  it('lets the loop run other callbacks once a turn has used its budget, then goes on', async () => {
    const events: string[] = [];
    const queue = new BackToBack<string, string>((input) => {
      events.push(input);
      busy(5);
      return Promise.resolve(input);
    }, 1);
    const answers = [queue.run('a'), queue.run('b'), queue.run('c')];
    setImmediate(() => events.push('other'));
    await Promise.all(answers);
    expect(events).toEqual(['a', 'other', 'b', 'c']);
    // Queued again after a drain: scheduled anew.
    const later = queue.run('d');
    await immediate();
    expect(await later).toBe('d');
    expect(events.at(-1)).toBe('d');
  });
});
