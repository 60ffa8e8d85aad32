import { Command, CommanderError } from 'commander';
import { PACKAGE_NAME } from '../constants.js';

type Register = (program: Command) => void;

/**
 * The CLI's commands, imported only when one of them runs: `--help` loads none, `run` loads no
 * Temporal worker, esbuild or fastify. `commands` are the top-level names a module registers,
 * with the summary `--help` lists (test/package/cli-lazy.test.ts keeps them equal to the real
 * descriptions). A new command module gets a row here.
 */
const COMMAND_MODULES: ReadonlyArray<{
  commands: Readonly<Record<string, string>>;
  load: () => Promise<Register>;
}> = [
  {
    commands: {
      new: 'create a project that runs at once (kedro new); --example copies the example',
    },
    load: async () => (await import('./commands/new.js')).registerNewCommand,
  },
  {
    commands: { run: 'run a pipeline in this process with the local runner' },
    load: async () => (await import('./commands/run.js')).registerRunCommand,
  },
  {
    commands: { train: 'start a training workflow on Temporal' },
    load: async () => (await import('./commands/train.js')).registerTrainCommand,
  },
  {
    commands: { worker: "run a Temporal worker for the project's pipelines" },
    load: async () => (await import('./commands/worker.js')).registerWorkerCommand,
  },
  {
    commands: {
      predict:
        'predict with a logged model on a CSV, Parquet, JSON or JSON Lines file, streamed in chunks',
      serve:
        "serve a model over HTTP with MLflow's scoring protocol (answers as `mlflow models serve` does; --strict for stricter checks)",
      modelify:
        'package an existing pipeline as an MLflow model without training (kedro-mlflow modelify)',
    },
    load: async () => (await import('./commands/model.js')).registerModelCommands,
  },
  {
    commands: {
      init: 'write a commented conf/<env>/mlflow.yml (kedro-mlflow init)',
      ui: 'print (and open) the MLflow UI of the project, starting the local server when none is configured',
    },
    load: async () => (await import('./commands/mlflow.js')).registerMlflowCommands,
  },
  {
    commands: {
      services:
        'start, stop or show the local Temporal and MLflow servers (installed once per user)',
    },
    load: async () => (await import('./commands/services.js')).registerServicesCommand,
  },
  {
    commands: {
      quickstart:
        'train the example on Temporal, log its model to MLflow and predict with it (the main job)',
    },
    load: async () => (await import('./commands/quickstart.js')).registerQuickstartCommand,
  },
  {
    commands: {
      'codec-key': 'print a new AES-256 key for TEMPORAL_MLFLOW_CODEC_KEY',
      'codec-server':
        "serve Temporal's remote codec protocol so the Web UI can show encrypted payloads",
    },
    load: async () => (await import('./commands/codec.js')).registerCodecCommands,
  },
  {
    commands: {
      'batch-predict':
        'score a catalog dataset with a model on Temporal, in chunks, into another catalog dataset',
    },
    load: async () => (await import('./commands/batch.js')).registerBatchCommand,
  },
  {
    commands: {
      dev: 'start the local servers and a worker that restarts when project code changes',
    },
    load: async () => (await import('./commands/dev.js')).registerDevCommand,
  },
  { commands: { cache: 'the node cache: outputs of earlier node executions (cache clear)' }, load: async () => (await import('./commands/cache.js')).registerCacheCommands }, // prettier-ignore
  {
    commands: {
      viz: 'print a pipeline as a Mermaid flowchart (paste it in a README or any Mermaid viewer)',
    },
    load: async () => (await import('./commands/viz.js')).registerVizCommand,
  },
  {
    commands: {
      schedule: 'scheduled training: Temporal Schedules that start training workflows',
    },
    load: async () => (await import('./commands/schedule.js')).registerScheduleCommands,
  },
  {
    commands: {
      approve: 'approve the promotion a training or sweep waits for: the alias moves',
      reject: 'reject the promotion a training or sweep waits for: the alias stays',
      approvals: 'list trainings and sweeps waiting for a promotion approval',
    },
    load: async () => (await import('./commands/approve.js')).registerApprovalCommands,
  },
];

/** The summaries `--help` lists, by command name (for the test that keeps them true). */
export const commandSummaries: Readonly<Record<string, string>> = Object.assign(
  {},
  ...COMMAND_MODULES.map((m) => m.commands),
) as Record<string, string>;

function newProgram(): Command {
  return new Command(PACKAGE_NAME)
    .description(
      'Durable ML pipelines on Temporal, with inference pipelines packaged as MLflow models',
    )
    .option('--verbose', 'print stack traces of errors', false)
    .showSuggestionAfterError()
    .helpCommand(false)
    .exitOverride();
}

/** The program with every command loaded (help of every command, tests). */
export async function buildFullProgram(): Promise<Command> {
  const program = newProgram();
  for (const module of COMMAND_MODULES) (await module.load())(program);
  return program;
}

/**
 * The program: each command is a placeholder that, when it runs, imports its module and parses
 * the same arguments again with the real command (its options, its `--help`).
 */
export function buildProgram(): Command {
  const program = newProgram();
  for (const module of COMMAND_MODULES) {
    for (const [name, summary] of Object.entries(module.commands)) {
      program
        .command(name)
        .description(summary)
        .helpOption(false)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(async () => {
          const real = newProgram();
          (await module.load())(real);
          // commander keeps the argv it parsed (untyped): the real command parses it again.
          await real.parseAsync((program as Command & { rawArgs: string[] }).rawArgs);
        });
    }
  }
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
