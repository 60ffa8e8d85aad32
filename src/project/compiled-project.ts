/**
 * A project's TypeScript compiled once, by esbuild, into one ES module that later processes import
 * directly while its sources are unchanged. A loader hook (tsx) would cost every command a hooks
 * thread and a compile of each project file (about 0.2 s of a one-node `run`); checking the cache
 * costs a read and a hash of each source.
 *
 * The module lives in the project's `node_modules/.cache/temporal-mlflow/`, so its imports of
 * packages resolve as the project's own files do (packages stay external: one copy of this
 * library and of every dependency). `import.meta.url`, `.dirname` and `.filename` keep naming each
 * source file, and function names are kept (node names come from them).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

/** Bumped when the compiled form changes, so caches written by older versions are rebuilt. */
const FORMAT_VERSION = 1;

interface CacheManifest {
  readonly format: number;
  readonly entry: string;
  /** Absolute path → sha256 of its content when compiled. */
  readonly inputs: Record<string, string>;
  readonly output: string;
}

/** The folder the compiled project lives in, or undefined when the project has no node_modules. */
function compiledProjectDir(projectDir: string): string | undefined {
  const modules = join(resolve(projectDir), 'node_modules');
  return existsSync(modules) ? join(modules, '.cache', 'temporal-mlflow') : undefined;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function manifestFile(cacheDir: string, entry: string): string {
  return join(cacheDir, `project-${sha256(entry).slice(0, 16)}.json`);
}

/** The compiled module's URL when every source it was built from is unchanged. */
function upToDate(cacheDir: string, entry: string): string | undefined {
  let manifest: CacheManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile(cacheDir, entry), 'utf8')) as CacheManifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== FORMAT_VERSION || manifest.entry !== entry) return undefined;
  for (const [file, hash] of Object.entries(manifest.inputs)) {
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch {
      return undefined;
    }
    if (sha256(content) !== hash) return undefined;
  }
  const output = join(cacheDir, manifest.output);
  return existsSync(output) ? pathToFileURL(output).href : undefined;
}

const IMPORT_META = /\bimport\.meta\b/;
const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx' } as const;

/** Gives each source file's `import.meta.url` (and dirname, filename) its own file's values. */
function importMetaPlugin(tsconfigRaw: string | undefined): Plugin {
  return {
    name: 'temporal-mlflow-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!IMPORT_META.test(source)) return undefined;
        const { transform } = await import('esbuild');
        const extension = extname(args.path) as keyof typeof LOADERS;
        const loader = LOADERS[extension] ?? (extension.endsWith('x') ? 'jsx' : 'js');
        const result = await transform(source, {
          loader,
          sourcefile: args.path,
          ...(tsconfigRaw ? { tsconfigRaw } : {}),
          define: {
            'import.meta.url': JSON.stringify(pathToFileURL(args.path).href),
            'import.meta.dirname': JSON.stringify(dirname(args.path)),
            'import.meta.filename': JSON.stringify(args.path),
          },
        });
        return { contents: result.code, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

async function compile(cacheDir: string, entry: string, projectDir: string): Promise<string> {
  const { build } = await import('esbuild');
  const tsconfigFile = join(projectDir, 'tsconfig.json');
  const tsconfigRaw = existsSync(tsconfigFile) ? readFileSync(tsconfigFile, 'utf8') : undefined;
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: projectDir,
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    keepNames: true,
    write: false,
    metafile: true,
    sourcemap: 'inline',
    sourcesContent: false,
    outfile: join(cacheDir, 'project.mjs'),
    logLevel: 'silent',
    plugins: [importMetaPlugin(tsconfigRaw)],
  });
  const code = result.outputFiles[0]!.contents;
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = resolve(projectDir, input);
    inputs[file] = sha256(readFileSync(file));
  }
  const output = `project-${sha256(code).slice(0, 16)}.mjs`;
  mkdirSync(cacheDir, { recursive: true });
  writeAtomically(join(cacheDir, output), code);
  const manifest: CacheManifest = { format: FORMAT_VERSION, entry, inputs, output };
  writeAtomically(manifestFile(cacheDir, entry), JSON.stringify(manifest, null, 2));
  return pathToFileURL(join(cacheDir, output)).href;
}

function writeAtomically(file: string, content: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/**
 * The URL of `entry` (a project's TypeScript file) compiled with everything it imports from the
 * project, rebuilt when any of those sources changed; undefined when the project has no
 * node_modules folder to keep it in.
 */
export async function compiledProjectUrl(
  entry: string,
  projectDir: string,
): Promise<string | undefined> {
  const cacheDir = compiledProjectDir(projectDir);
  if (!cacheDir) return undefined;
  const file = resolve(entry);
  return upToDate(cacheDir, file) ?? (await compile(cacheDir, file, resolve(projectDir)));
}
