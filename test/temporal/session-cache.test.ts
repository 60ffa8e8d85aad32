import { SessionCache } from '../../activities/session-cache.js';
import { temporalTestProject } from '../support/temporal.js';

describe('SessionCache', () => {
  it('keeps the sessions used last and drops the least recently used one', async () => {
    const cache = new SessionCache(temporalTestProject, 2);
    const first = cache.get('local', { x: 1 });
    const second = cache.get('local', { x: 2 });
    expect(cache.get('local', { x: 1 })).toBe(first);
    const third = cache.get('local', { x: 3 });
    expect(cache.get('local', { x: 1 })).toBe(first);
    const secondAgain = cache.get('local', { x: 2 });
    expect(secondAgain).not.toBe(second);
    await Promise.all([first, second, third, secondAgain]);
  });
});
