import { node, pipeline, pipelineToMermaid } from '../../src/pipeline/index.js';

describe('pipelineToMermaid', () => {
  const p = pipeline([
    node(
      function scale(a: number, k: number) {
        return a * k;
      },
      { inputs: ['raw.data', 'params:k'], outputs: 'scaled' },
    ),
    node((s: number) => s + 1, { inputs: 'scaled', outputs: 'result', name: 'increment' }),
  ]);

  it('draws datasets as cylinders and nodes as boxes wired as the data flows, without parameters by default', () => {
    const diagram = pipelineToMermaid(p);
    expect(diagram.split('\n')[0]).toBe('flowchart TB');
    expect(diagram).toMatch(/^ {2}d\d+_raw_data\[\("raw\.data"\)\]$/m);
    // Kedro-style default names keep their punctuation in the label, not in the id.
    expect(diagram).toMatch(
      /^ {2}(n\d+_scale\w*)\["scale\(\[raw\.data,params:k\]\) -> \[scaled\]"\]$/m,
    );
    expect(diagram).toMatch(/^ {2}d\d+_raw_data --> n\d+_scale\w*$/m);
    expect(diagram).toMatch(/^ {2}n\d+_increment --> d\d+_result$/m);
    expect(diagram).not.toContain('("params:k")');
  });

  it('shows parameters and another direction when asked', () => {
    const diagram = pipelineToMermaid(p, { showParameters: true, direction: 'LR' });
    expect(diagram.split('\n')[0]).toBe('flowchart LR');
    expect(diagram).toContain('("params:k")');
  });
});
