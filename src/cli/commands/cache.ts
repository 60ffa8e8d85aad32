import type { Command } from 'commander';
import { resolve } from 'node:path';
import {
  defaultCacheDir,
  LocalCacheStore,
  MlflowCacheStore,
  type CacheStore,
} from '../../runner/cache-store.js';
import { openSession } from '../../session.js';
import { CliUsageError } from '../errors.js';
import { addEnvOption, addProjectDirOption } from '../common.js';

interface CacheCommandOptions {
  project: string;
  env: string;
  store: string;
  cacheDir?: string;
}

/** `temporal-mlflow cache clear`: forgets every cached node output (docs/caching.md). */
export function registerCacheCommands(program: Command): void {
  const cache = program
    .command('cache')
    .description('the node cache: outputs of earlier node executions (cache clear)');
  addEnvOption(
    addProjectDirOption(
      cache
        .command('clear')
        .description('remove every cached node output: the next run executes every node'),
    ),
    'configuration environment (its MLflow server, for --store mlflow)',
  )
    .option(
      '--store <store>',
      "which cache: 'local' (<project>/.local/node-cache) or 'mlflow' (the MLflow server's, shared by workers)",
      'local',
    )
    .option('--cache-dir <dir>', "folder of the 'local' cache")
    .action(async (options: CacheCommandOptions) => {
      const store = await storeFrom(options);
      const removed = await store.clear();
      const where = JSON.stringify(store.describe());
      console.log(
        removed === undefined
          ? `Node cache cleared: ${where}.`
          : `Node cache cleared: ${removed} entr${removed === 1 ? 'y' : 'ies'} removed from ${where}.`,
      );
    });
}

async function storeFrom(options: CacheCommandOptions): Promise<CacheStore> {
  if (options.store === 'local')
    return new LocalCacheStore(options.cacheDir ?? defaultCacheDir(resolve(options.project)));
  if (options.store === 'mlflow') {
    if (options.cacheDir)
      throw new CliUsageError('--cache-dir applies to --store local only, not --store mlflow.');
    const session = await openSession({ projectDir: options.project, env: options.env });
    return new MlflowCacheStore(
      session.requireMlflow("The 'mlflow' node cache"),
      session.projectName,
    );
  }
  throw new CliUsageError(`--store must be 'local' or 'mlflow', got '${options.store}'.`);
}
