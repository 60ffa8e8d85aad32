import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PYFUNC_CODE_DIR, PYFUNC_LOADER_MODULE, PYFUNC_LOADER_SOURCE } from './pyfunc/index.js';

/** Python needs only MLflow (and pandas, which it brings) to serve the shim; node does the work. */
const REQUIREMENTS = ['mlflow>=3.1,<4', 'pandas'];
const PYTHON_VERSION = '3.11';

/**
 * Writes what MLflow's python_function flavor needs beside our code: the loader module, and the
 * Python environment files `mlflow models serve` reads (requirements.txt, python_env.yaml, conda.yaml).
 */
export async function writePyfuncFiles(modelDir: string): Promise<void> {
  await mkdir(join(modelDir, PYFUNC_CODE_DIR), { recursive: true });
  await copyFile(
    PYFUNC_LOADER_SOURCE,
    join(modelDir, PYFUNC_CODE_DIR, `${PYFUNC_LOADER_MODULE}.py`),
  );
  await writeFile(join(modelDir, 'requirements.txt'), REQUIREMENTS.join('\n') + '\n');
  await writeFile(
    join(modelDir, 'python_env.yaml'),
    [
      `python: ${PYTHON_VERSION}`,
      'build_dependencies:',
      '- pip',
      'dependencies:',
      '- -r requirements.txt',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(modelDir, 'conda.yaml'),
    [
      'channels:',
      '- conda-forge',
      'dependencies:',
      `- python=${PYTHON_VERSION}`,
      '- nodejs>=20.3',
      '- pip',
      '- pip:',
      ...REQUIREMENTS.map((requirement) => `  - ${requirement}`),
      'name: temporal_mlflow_env',
      '',
    ].join('\n'),
  );
}
