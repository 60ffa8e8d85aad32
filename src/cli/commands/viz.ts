import { DEFAULT_PIPELINE_NAME } from '../../constants.js';
import type { Command } from 'commander';
import { isPipelineMl } from '../../model/pipeline-ml.js';
import { pipelineToMermaid } from '../../pipeline/mermaid.js';
import { getPipeline, loadProject } from '../../project/load-project.js';
import { addProjectDirOption } from '../common.js';

/** `temporal-mlflow viz`: a registered pipeline as a Mermaid diagram (a PipelineML: training and inference). */
export function registerVizCommand(program: Command): void {
  addProjectDirOption(
    program
      .command('viz')
      .description(
        'print a pipeline as a Mermaid flowchart (paste it in a README or any Mermaid viewer)',
      ),
  )
    .option('-p, --pipeline <name>', 'registered pipeline', DEFAULT_PIPELINE_NAME)
    .option('--parameters', 'show params:* inputs too', false)
    .option('--direction <dir>', 'TB (top to bottom) or LR (left to right)', 'TB')
    .action(
      async (options: {
        project: string;
        pipeline: string;
        parameters: boolean;
        direction: 'TB' | 'LR';
      }) => {
        const project = await loadProject(options.project);
        const pipeline = getPipeline(project.definition, options.pipeline);
        const render = { showParameters: options.parameters, direction: options.direction };
        const fence = (title: string, body: string): string => `%% ${title}\n${body}`;
        console.log(
          fence(
            `pipeline ${options.pipeline}${isPipelineMl(pipeline) ? ' (training)' : ''}`,
            pipelineToMermaid(pipeline, render),
          ),
        );
        if (isPipelineMl(pipeline)) {
          console.log(
            `\n${fence(`pipeline ${options.pipeline} (inference, input '${pipeline.inputName}')`, pipelineToMermaid(pipeline.inference, render))}`,
          );
        }
      },
    );
}
