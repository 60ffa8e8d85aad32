import type { BuildContext, BuildOptions, BuildResult, Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookupBundle, storeBundle } from './bundle-cache.js';
import { STDIO_BUNDLE_FILE } from './pyfunc/index.js';
import { installedPackage, packageRoot as thisPackageRoot } from '../utils/local-services-hint.js';

/** The name esbuild gives the generated entry (read from stdin). */
const ENTRY_SOURCE = 'model-entry.js';
const RUNTIME_MODULE = fileURLToPath(new URL('./runtime.ts', import.meta.url));
const STDIO_MODULE = fileURLToPath(new URL('./pyfunc/stdio-server.ts', import.meta.url));

/** The inference code of a model as one file, and the native packages it needs installed. */
export interface InferenceBundle {
  /** File name inside `code/`, content-hashed: `pipeline-<sha256 prefix>.mjs`. */
  fileName: string;
  sha256: string;
  bytes: number;
  /** Native packages left external, with their exact installed versions. */
  externals: Record<string, string>;
  /** True when the code came from the bundle cache (no build). */
  cached: boolean;
}

function packageRoot(
  resolvedPath: string,
): { dir: string; manifest: { name?: string; version?: string; gypfile?: boolean } } | undefined {
  let dir = dirname(resolvedPath);
  while (dir !== dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as {
        name?: string;
        version?: string;
        gypfile?: boolean;
      };
      if (manifest.name && manifest.version) return { dir, manifest };
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** A package with compiled code (node-gyp or prebuilt `.node` files) cannot be bundled. */
function isNativePackage(dir: string, manifest: { gypfile?: boolean }): boolean {
  if (manifest.gypfile || existsSync(join(dir, 'binding.gyp'))) return true;
  for (const sub of ['', 'build/Release', 'prebuilds', 'lib']) {
    const folder = join(dir, sub);
    if (existsSync(folder) && readdirSync(folder).some((file) => file.endsWith('.node')))
      return true;
  }
  return false;
}

/**
 * The SQL datasets' drivers, `require`d only when such a dataset is used (src/datasets/sql): left
 * out of every model and of its environment. A model whose inference pipeline reads SQL needs them
 * installed where it runs (docs/datasets.md).
 */
const SQL_DRIVERS = ['pg', 'pg-cursor', 'pg-native', 'better-sqlite3'];

/**
 * Packages the inference path never runs (Temporal's worker and client, the bundler, the HTTP
 * server): left external so esbuild need not parse them; tree shaking then drops their imports.
 * Any that still appear in the output are real dependencies and are listed in the environment.
 */
const NEVER_BUNDLED = [
  '@temporalio/*',
  '@swc/*',
  'esbuild',
  'tsx',
  'fastify',
  'commander',
  'cli-progress',
  ...SQL_DRIVERS,
];

/** The package a bare import names (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function installedVersion(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  while (dir !== dirname(dir)) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest))
      return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version;
    dir = dirname(dir);
  }
  return undefined;
}

/** Where the native-externals plugin records what it finds: reset before each build. */
interface ExternalsSink {
  externals: Record<string, string>;
}

function nativeExternals(sink: ExternalsSink): Plugin {
  return {
    name: 'temporal-mlflow-native-externals',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'resolving' || args.path.startsWith('node:')) return undefined;
        const resolved = await esbuild.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          pluginData: 'resolving',
        });
        if (resolved.errors.length > 0 || !resolved.path || resolved.external) return undefined;
        const root = packageRoot(resolved.path);
        if (!root || !isNativePackage(root.dir, root.manifest)) return undefined;
        sink.externals[root.manifest.name!] = root.manifest.version!;
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * The published package loads from one bundle (dist/bundle), whose chunks mix modules a model
 * never needs with ones it does, so esbuild could not shake off their imports (Temporal's). A model
 * is built from the per-module compiled files instead (dist/src, as the runtime is): the project's
 * `import 'temporal-mlflow'` resolves there too, so project and runtime share one copy.
 */
function publishedModules(): Plugin[] {
  const index = join(thisPackageRoot, 'dist', 'src', 'index.js');
  if (!installedPackage || !existsSync(index)) return [];
  return [
    {
      name: 'temporal-mlflow-published-modules',
      setup(esbuild) {
        esbuild.onResolve({ filter: /^temporal-mlflow$/ }, () => ({ path: index }));
      },
    },
  ];
}

/**
 * Bundles a project's inference pipeline with esbuild: the project definition, the model runtime
 * and the stdio server of the python_function shim, tree-shaken into one ES module that exports
 * `load(modelDir, options?)` (which verifies the folder's integrity unless told it was verified)
 * and `runStdioServer`. Native packages stay external.
 */
export async function bundleInferenceCode(options: {
  projectFile: string;
  codeDir: string;
  /** Reuse the bundle of an earlier build whose inputs are unchanged. @default true */
  cache?: boolean;
  /**
   * Keep an esbuild context for this project after building, so that the next build after a
   * change only re-reads what changed (a worker packaging run after run). A kept context keeps
   * the process alive: call `disposeWarmBundlers()` before exiting. @default false
   */
  warm?: boolean;
}): Promise<InferenceBundle> {
  // Loaded here, not with the package: only packaging a model bundles.
  const { build, context, version: esbuildVersion } = await import('esbuild');
  const entry = [
    `import project from ${JSON.stringify(options.projectFile)};`,
    `import { loadPipelineModel } from ${JSON.stringify(RUNTIME_MODULE)};`,
    `export { runStdioServer } from ${JSON.stringify(STDIO_MODULE)};`,
    `export function load(modelDir, options) { return loadPipelineModel(project, modelDir, options); }`,
  ].join('\n');
  // The cached code and what it needs, keyed by the entry (project file, runtime) and esbuild.
  const salt = `${esbuildVersion}\0${entry}`;
  if (options.cache !== false) {
    const hit = await lookupBundle<{ code: string; externals: Record<string, string> }>(
      options.projectFile,
      salt,
    );
    if (hit) {
      let decoded = decodedEntries.get(hit.result);
      if (!decoded) {
        const code = Buffer.from(hit.result.code, 'base64');
        decoded = { code, sha256: createHash('sha256').update(code).digest('hex') };
        decodedEntries.set(hit.result, decoded);
      }
      return {
        ...(await writeBundle(options.codeDir, decoded.code, hit.result.externals, decoded.sha256)),
        cached: true,
      };
    }
  }
  const sink: ExternalsSink = { externals: {} };
  const buildOptions = {
    stdin: {
      contents: entry,
      resolveDir: dirname(options.projectFile),
      sourcefile: ENTRY_SOURCE,
      loader: 'js',
    },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    treeShaking: true,
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'silent',
    // CommonJS dependencies may `require` Node built-ins: give the ES module a require.
    banner: {
      js: "import { createRequire as __tmCreateRequire } from 'node:module'; const require = __tmCreateRequire(import.meta.url);",
    },
    external: NEVER_BUNDLED,
    metafile: true,
    plugins: [...publishedModules(), nativeExternals(sink)],
  } satisfies BuildOptions;
  let result: BuildResult<typeof buildOptions>;
  if (options.warm) {
    const key = `${options.projectFile}\0${salt}`;
    let warm = warmBundlers.get(key);
    if (!warm) {
      warm = { context: context(buildOptions), sink, queue: Promise.resolve() };
      warmBundlers.set(key, warm);
    }
    const kept = warm;
    // One build at a time per context: each reads the externals its own build found.
    const building = kept.queue.then(async () => {
      kept.sink.externals = {};
      const rebuilt = await (await kept.context).rebuild();
      return { rebuilt, externals: kept.sink.externals };
    });
    kept.queue = building.catch(() => undefined);
    try {
      const done = await building;
      result = done.rebuilt;
      sink.externals = done.externals;
    } catch (error) {
      // A context that failed is not kept: the next build starts afresh.
      if (warmBundlers.get(key) === kept) warmBundlers.delete(key);
      await kept.context.then((ctx) => ctx.dispose()).catch(() => undefined);
      throw error;
    }
  } else {
    result = await build(buildOptions);
  }
  const externals = sink.externals;
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) {
      if (
        !imported.external ||
        imported.path.startsWith('node:') ||
        builtinModules.includes(imported.path)
      )
        continue;
      const name = packageName(imported.path);
      if (SQL_DRIVERS.includes(name)) continue;
      externals[name] ??= installedVersion(name, dirname(options.projectFile)) ?? '*';
    }
  }
  const code = result.outputFiles[0]!.contents;
  if (options.cache !== false) {
    const inputs = Object.keys(result.metafile.inputs)
      // The entry is stdin: its text is in the salt.
      .filter((path) => !path.startsWith('<') && basename(path) !== ENTRY_SOURCE)
      .map((path) => resolve(path))
      .sort();
    await storeBundle(options.projectFile, salt, inputs, {
      code: Buffer.from(code).toString('base64'),
      externals,
    }).catch(() => undefined);
  }
  return { ...(await writeBundle(options.codeDir, code, externals)), cached: false };
}

/** esbuild contexts kept by `bundleInferenceCode({ warm: true })`, by project file and entry. */
const warmBundlers = new Map<
  string,
  {
    context: Promise<BuildContext<BuildOptions & { metafile: true; write: false }>>;
    sink: ExternalsSink;
    /** The last build queued on the context. */
    queue: Promise<unknown>;
  }
>();

/** How many esbuild contexts `warm` builds keep. */
export function warmBundlerCount(): number {
  return warmBundlers.size;
}

/** Disposes the esbuild contexts `warm` builds kept (the process can then exit). */
export async function disposeWarmBundlers(): Promise<void> {
  const kept = [...warmBundlers.values()];
  warmBundlers.clear();
  await Promise.all(
    kept.map((warm) => warm.context.then((ctx) => ctx.dispose()).catch(() => undefined)),
  );
}

/**
 * Cached code decoded and hashed, by cache entry (the bundle cache returns the same entry object
 * while its file is unchanged): the next hit writes the bytes without decoding them again.
 */
const decodedEntries = new WeakMap<object, { code: Buffer; sha256: string }>();

/** Writes the bundle and the python_function shim's stdio entry into `codeDir`. */
async function writeBundle(
  codeDir: string,
  code: Uint8Array,
  externals: Record<string, string>,
  knownSha256?: string,
): Promise<Omit<InferenceBundle, 'cached'>> {
  const sha256 = knownSha256 ?? createHash('sha256').update(code).digest('hex');
  const fileName = `pipeline-${sha256.slice(0, 16)}.mjs`;
  await mkdir(codeDir, { recursive: true });
  await writeFile(join(codeDir, fileName), code);
  await writeFile(
    join(codeDir, STDIO_BUNDLE_FILE),
    [
      `// Started by the python_function shim: answers predict requests as JSON lines on stdin/stdout.`,
      `import { fileURLToPath } from 'node:url';`,
      `import { load, runStdioServer } from './${fileName}';`,
      `const modelDir = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));`,
      `let model;`,
      `try {`,
      `  model = await load(modelDir);`,
      `} catch (error) {`,
      `  // One line naming the error (e.g. ModelIntegrityError and the file), not the minified source.`,
      `  process.stderr.write(\`temporal-mlflow: cannot load the model: \${error?.name ?? 'Error'}: \${error?.message ?? error}\\n\`);`,
      `  process.exit(1);`,
      `}`,
      `await runStdioServer(model);`,
      '',
    ].join('\n'),
  );
  return { fileName, sha256, bytes: code.byteLength, externals };
}
