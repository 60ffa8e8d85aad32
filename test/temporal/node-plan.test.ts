import { nodePlan } from '../../activities/training-activities.js';
import { node } from '../../src/pipeline/index.js';

const identity = (x: unknown) => x;

describe('the plan of a node', () => {
  const byTag = {
    gpu: { timeout: '2h', retry: { maximumAttempts: 2 } },
    flaky_api: { retry: { maximumAttempts: 10, initialIntervalMs: 500 } },
  };

  it('takes retry and timeout from the options of its tags, later tags (by name) winning', () => {
    const plan = nodePlan(
      node(identity, { inputs: 'a', outputs: 'b', name: 'fit', tags: ['gpu', 'flaky_api'] }),
      byTag,
    );
    expect(plan).toMatchObject({
      name: 'fit',
      timeoutMs: 2 * 3_600_000,
      retry: { maximumAttempts: 2, initialIntervalMs: 500 },
    });
  });

  it("lets the node's own options win over its tags'", () => {
    const plan = nodePlan(
      node(identity, {
        inputs: 'a',
        outputs: 'b',
        name: 'fit',
        tags: ['gpu'],
        timeout: '5m',
        retry: { maximumAttempts: 1 },
      }),
      byTag,
    );
    expect(plan).toMatchObject({ timeoutMs: 300_000, retry: { maximumAttempts: 1 } });
  });

  it('has no retry or timeout when neither the node nor its tags set one', () => {
    const plan = nodePlan(
      node(identity, { inputs: 'a', outputs: 'b', name: 'plain', tags: ['other'] }),
      byTag,
    );
    expect(plan).toEqual({ name: 'plain', inputs: ['a'], outputs: ['b'], tags: ['other'] });
  });
});
