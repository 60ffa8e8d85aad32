import { node, pipeline, pipelineToMermaid } from '../../src/pipeline/index.js';

describe('pipelineToMermaid', () => {
  const p = pipeline([
    node((a: number, k: number) => a * k, { inputs: ['raw data', 'params:k'], outputs: 'scaled', name: 'scale "x"' }),
    node((s: number) => s + 1, { inputs: 'scaled', outputs: 'result', name: 'increment' }),
  ]);

  it('draws datasets as cylinders and nodes as boxes wired as the data flows, without parameters by default', () => {
    const diagram = pipelineToMermaid(p);
    expect(diagram.split('\n')[0]).toBe('flowchart TB');
    expect(diagram).toMatch(/^ {2}d\d+_raw_data\[\("raw data"\)\]$/m);
    expect(diagram).toMatch(/^ {2}n\d+_scale__x_\["scale #quot;x#quot;"\]$/m);
    expect(diagram).toMatch(/^ {2}d\d+_raw_data --> n\d+_scale__x_$/m);
    expect(diagram).toMatch(/^ {2}n\d+_increment --> d\d+_result$/m);
    expect(diagram).not.toContain('params:k');
  });

  it('shows parameters and another direction when asked', () => {
    const diagram = pipelineToMermaid(p, { showParameters: true, direction: 'LR' });
    expect(diagram.split('\n')[0]).toBe('flowchart LR');
    expect(diagram).toContain('"params:k"');
  });
});
