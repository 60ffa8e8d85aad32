/**
 * The compiled package loads a project's TypeScript from a cache esbuild writes into the project's
 * node_modules, rebuilt when a source changes (no loader hook, no compile per process).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledProjectUrl } from '../../src/project/compiled-project.js';
import { repoRoot } from '../support/services.js';

interface ProjectModule {
  default: { name: string; here: string; helpers: string[]; value: number };
}

let dir: string;

function write(relative: string, text: string): void {
  const file = join(dir, relative);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

beforeEach(() => {
  // Under the repository, so the compiled module's package imports (yaml) resolve.
  mkdirSync(join(repoRoot, '.local', 'tmp'), { recursive: true });
  dir = mkdtempSync(join(repoRoot, '.local', 'tmp', 'compiled-project-'));
  mkdirSync(join(dir, 'node_modules'));
  // npm init -y writes commonjs: the compiled project is an ES module all the same.
  write('package.json', '{ "name": "p", "type": "commonjs" }\n');
  write(
    'src/a.ts',
    `export function clean(x: number): number { return x + 1; }
export const here: string = import.meta.url;
`,
  );
  write('src/b.ts', `export function clean(x: number): number { return x * 2; }\n`);
  write(
    'config.ts',
    `import { stringify } from 'yaml';
import { clean as first, here } from './src/a.js';
import { clean as second } from './src/b.js';
const value: number = first(1) + second(1);
export default { name: stringify('p').trim(), here, helpers: [first.name, second.name], value };
`,
  );
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const load = async (url: string): Promise<ProjectModule> => (await import(url)) as ProjectModule;

describe('compiledProjectUrl', () => {
  it('compiles a project with its package imports external, keeping file URLs and function names', async () => {
    const url = await compiledProjectUrl(join(dir, 'config.ts'), dir);
    expect(url).toMatch(/\/node_modules\/\.cache\/temporal-mlflow\/project-[0-9a-f]{16}\.mjs$/);
    const loaded = (await load(url!)).default;
    expect(loaded).toEqual({
      name: 'p',
      here: pathToFileURL(join(dir, 'src', 'a.ts')).href,
      helpers: ['clean', 'clean'],
      value: 4,
    });
  });

  it('reuses the compiled module while the sources are unchanged, and rebuilds when one changes', async () => {
    const first = (await compiledProjectUrl(join(dir, 'config.ts'), dir))!;
    const written = statSync(new URL(first)).mtimeMs;
    expect(await compiledProjectUrl(join(dir, 'config.ts'), dir)).toBe(first);
    expect(statSync(new URL(first)).mtimeMs).toBe(written);

    write('src/b.ts', `export function clean(x: number): number { return x * 10; }\n`);
    const second = (await compiledProjectUrl(join(dir, 'config.ts'), dir))!;
    expect(second).not.toBe(first);
    expect((await load(second)).default.value).toBe(12);
  });

  it('names the file and line of a syntax error', async () => {
    write('src/b.ts', `export function clean(x: number): number { return x * ; }\n`);
    await expect(compiledProjectUrl(join(dir, 'config.ts'), dir)).rejects.toThrow(
      /src\/b\.ts:1:\d+: ERROR/,
    );
  });

  it('leaves a project without node_modules to the loader hook', async () => {
    rmSync(join(dir, 'node_modules'), { recursive: true });
    expect(await compiledProjectUrl(join(dir, 'config.ts'), dir)).toBeUndefined();
  });
});
