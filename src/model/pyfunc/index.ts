/**
 * The python_function shim of temporal-mlflow models: what the packager copies into a model's
 * `code/` folder and writes in MLmodel, and the JS side of its stdio protocol.
 *
 * MLmodel (exact):
 * ```yaml
 * flavors:
 *   python_function:
 *     loader_module: temporal_mlflow_loader   # PYFUNC_LOADER_MODULE
 *     code: code                              # PYFUNC_CODE_DIR, prepended to sys.path by MLflow
 *     python_version: 3.11.7                  # optional, silences MLflow's version warning
 * ```
 * No `data` key: MLflow then passes the model directory itself as `_load_pyfunc(data_path)`.
 */
import { fileURLToPath } from 'node:url';

export { runStdioServer } from './stdio-server.js';
export type { StdioRequest, StdioResponse } from './stdio-server.js';

/** `loader_module` of the python_function flavor (the .py file's name without extension). */
export const PYFUNC_LOADER_MODULE = 'temporal_mlflow_loader';
/** The model folder MLflow adds to `sys.path` (`code:` of the flavor) and where the bundle lives. */
export const PYFUNC_CODE_DIR = 'code';
/** The bundled stdio entry point the loader runs as `node <model>/code/serve-stdio.mjs <model>`. */
export const STDIO_BUNDLE_FILE = 'serve-stdio.mjs';
/** Absolute path of the loader source, to copy to `<model>/code/temporal_mlflow_loader.py`. */
export const PYFUNC_LOADER_SOURCE = fileURLToPath(
  // A literal URL: the published build rewrites it for its bundle (bin/pack.js).
  new URL('./temporal_mlflow_loader.py', import.meta.url),
);
