import { spawn, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ensureServices, packageRoot } from '../local-services.js';
import { addProjectDirOption } from '../common.js';

/** Changes under these folders are data or state, not code: they never restart the worker. */
const IGNORED = /(^|\/)(node_modules|data|\.local|\.git|mlruns)(\/|$)/;
const CODE_FILE = /\.(ts|mts|js|mjs|yml|yaml)$/;

/**
 * `temporal-mlflow dev`: the local servers kept running, plus a worker for the project that
 * restarts when its code or configuration changes.
 */
export function registerDevCommand(program: Command): void {
  addProjectDirOption(
    program
      .command('dev')
      .description('start the local servers and a worker that restarts when project code changes'),
  )
    .option('--task-queue <name>', 'task queue of the worker')
    .action(async (options: { project: string; taskQueue?: string }) => {
      ensureServices((line) => console.log(line));
      const projectDir = resolve(options.project);
      const args = [
        resolve(packageRoot, 'bin', 'temporal-mlflow.js'),
        'worker',
        '--project',
        projectDir,
        '--shutdown-grace',
        '5s',
      ];
      if (options.taskQueue) args.push('--task-queue', options.taskQueue);
      let worker: ChildProcess | undefined;
      let restarting: NodeJS.Timeout | undefined;
      const start = (): void => {
        worker = spawn(process.execPath, args, { stdio: 'inherit', env: process.env });
      };
      const restart = (file: string): void => {
        clearTimeout(restarting);
        restarting = setTimeout(() => {
          console.log(`dev: ${file} changed, restarting the worker`);
          const previous = worker;
          if (previous && previous.exitCode === null) {
            previous.once('exit', start);
            previous.kill('SIGTERM');
          } else start();
        }, 300);
      };
      start();
      const watcher = watch(projectDir, { recursive: true }, (_event, file) => {
        if (file && CODE_FILE.test(file) && !IGNORED.test(file)) restart(file);
      });
      console.log(
        `dev: watching ${projectDir}; Temporal UI ${process.env.TEMPORAL_UI_URL}, MLflow ${process.env.MLFLOW_TRACKING_URI}. Ctrl-C to stop.`,
      );
      await new Promise<void>((done) => {
        const stop = (): void => {
          watcher.close();
          clearTimeout(restarting);
          if (worker && worker.exitCode === null) worker.once('exit', () => done()).kill('SIGTERM');
          else done();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
