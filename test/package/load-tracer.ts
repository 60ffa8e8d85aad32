import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes, in `dir`, a module to `--import` that prints to stderr every package module the process
 * resolves: `ESM <url>` for ES modules (a resolve hook), `CJS <path>` for required CommonJS ones.
 * Returns its path.
 */
export function writeLoadTracer(dir: string): string {
  const hook = join(dir, 'trace-hook.mjs');
  writeFileSync(
    hook,
    `export async function resolve(s, c, next) {
      const r = await next(s, c);
      if (r.url.includes('/node_modules/')) process.stderr.write('ESM ' + r.url + '\\n');
      return r;
    }`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import Module, { register } from 'node:module';
    register(${JSON.stringify(`file://${hook}`)});
    const resolveFilename = Module._resolveFilename;
    Module._resolveFilename = function (...args) {
      const path = resolveFilename.apply(this, args);
      if (path.includes('/node_modules/')) process.stderr.write('CJS ' + path + '\\n');
      return path;
    };`,
  );
  return register;
}
