import { node, pipeline } from '../../src/pipeline/index.js';
import { runInMemory } from '../../src/testing/index.js';
import {
  fitVocabulary,
  routeTickets,
  trainClassifier,
  vectorize,
} from '../../examples/support-tickets/src/nodes.js';

describe('runInMemory', () => {
  it('runs a pipeline on in-memory inputs and returns every dataset it produced', async () => {
    const p = pipeline([
      node((x: number, factor: number) => x * factor, {
        inputs: ['x', 'params:factor'],
        outputs: 'y',
        name: 'scale',
      }),
      node((y: number) => y + 1, { inputs: 'y', outputs: 'z', name: 'increment' }),
    ]);
    expect(await runInMemory(p, { inputs: { x: 2 }, parameters: { factor: 10 } })).toEqual({
      y: 20,
      z: 21,
    });
  });

  it("tests the example's nodes end to end on a handful of tickets", async () => {
    const tickets = [
      { ticket_id: '1', subject: 'Refund', body: 'I was charged twice, please refund' },
      { ticket_id: '2', subject: 'Crash', body: 'the app crashes on login' },
    ];
    const p = pipeline([
      node(fitVocabulary, {
        inputs: ['tickets', 'params:vocabulary'],
        outputs: 'vocabulary',
        name: 'fit',
      }),
      node(vectorize, {
        inputs: ['tickets', 'vocabulary'],
        outputs: 'features',
        name: 'vectorize',
      }),
      node(trainClassifier, {
        inputs: ['features', 'labels', 'vocabulary', 'params:model'],
        outputs: 'classifier',
        name: 'train',
      }),
      node(routeTickets, {
        inputs: ['classifier', 'features', 'params:min_confidence'],
        outputs: 'answers',
        name: 'route',
      }),
    ]);
    const outputs = await runInMemory(p, {
      inputs: { tickets, labels: ['billing', 'technical'] },
      parameters: { vocabulary: { min_count: 1 }, model: { smoothing: 1 }, min_confidence: 0.5 },
    });
    expect((outputs.answers as { team: string }[]).map((answer) => answer.team)).toEqual([
      'billing',
      'technical',
    ]);
  });
});
