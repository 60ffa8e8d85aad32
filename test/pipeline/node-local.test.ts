import { nodePlan } from '../../activities/training-activities.js';
import { InvalidNodeDefinitionError } from '../../src/pipeline/errors.js';
import { node } from '../../src/pipeline/index.js';

const identity = (x: unknown) => x;

describe('the node option local', () => {
  it('is off by default, and kept by copies when on', () => {
    const plain = node(identity, { inputs: 'a', outputs: 'b', name: 'plain' });
    expect(plain.local).toBe(false);
    expect(plain.toJSON()).not.toHaveProperty('local');

    const light = node(identity, { inputs: 'a', outputs: 'b', name: 'light', local: true });
    expect(light.local).toBe(true);
    expect(light.toJSON()).toMatchObject({ name: 'light', local: true });
    expect(light.withTags('x').local).toBe(true);
    expect(light.renameDatasets({ a: 'c' }).local).toBe(true);
  });

  it('refuses anything but a boolean, naming the node', () => {
    expect(() =>
      node(identity, { inputs: 'a', outputs: 'b', name: 'odd', local: 'yes' as never }),
    ).toThrow(InvalidNodeDefinitionError);
    expect(() =>
      node(identity, { inputs: 'a', outputs: 'b', name: 'odd', local: 1 as never }),
    ).toThrow(/odd.*local/s);
  });

  it('reaches the plan from the node or from one of its tags', () => {
    const byTag = { light: { local: true }, heavy: { timeout: '1h' } };
    const own = nodePlan(
      node(identity, { inputs: 'a', outputs: 'b', name: 'own', local: true }),
      byTag,
    );
    const tagged = nodePlan(
      node(identity, { inputs: 'a', outputs: 'b', name: 't', tags: 'light' }),
      byTag,
    );
    const regular = nodePlan(
      node(identity, { inputs: 'a', outputs: 'b', name: 'r', tags: 'heavy' }),
      byTag,
    );
    expect(own.local).toBe(true);
    expect(tagged.local).toBe(true);
    expect(regular).not.toHaveProperty('local');
  });
});
