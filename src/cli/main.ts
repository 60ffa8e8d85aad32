import { Command, CommanderError } from 'commander';
import { PACKAGE_NAME } from '../constants.js';
import { registerRunCommand } from './commands/run.js';
import { registerTrainCommand } from './commands/train.js';
import { registerWorkerCommand } from './commands/worker.js';
import { registerModelCommands } from './commands/model.js';
import { registerMlflowCommands } from './commands/mlflow.js';
import { registerQuickstartCommand } from './commands/quickstart.js';
import { registerCodecCommands } from './commands/codec.js';
import { registerBatchCommand } from './commands/batch.js';
import { registerDevCommand } from './commands/dev.js';
import { registerVizCommand } from './commands/viz.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerApprovalCommands } from './commands/approve.js';

export function buildProgram(): Command {
  const program = new Command(PACKAGE_NAME)
    .description(
      'Durable ML pipelines on Temporal, with inference pipelines packaged as MLflow models',
    )
    .option('--verbose', 'print stack traces of errors', false)
    .showSuggestionAfterError()
    .exitOverride();
  registerRunCommand(program);
  registerTrainCommand(program);
  registerWorkerCommand(program);
  registerModelCommands(program);
  registerMlflowCommands(program);
  registerQuickstartCommand(program);
  registerCodecCommands(program);
  registerBatchCommand(program);
  registerDevCommand(program);
  registerVizCommand(program);
  registerScheduleCommands(program);
  registerApprovalCommands(program);
  return program;
}

/** Runs the CLI: a short error message (`--verbose` for the stack) and a non-zero exit on failure. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const verbose = argv.includes('--verbose');
    const err = error as Error;
    console.error(verbose ? (err.stack ?? String(err)) : `${err.name ?? 'Error'}: ${err.message}`);
    if (!verbose) console.error('(run again with --verbose for the stack trace)');
    process.exitCode = 1;
  }
}
