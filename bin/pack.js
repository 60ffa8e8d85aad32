#!/usr/bin/env node
// The published package is compiled; this repository runs its TypeScript sources.
//   node bin/pack.js build      compile src/, workflows/, activities/ into dist/ (ES modules,
//                               .d.ts, source maps) — `npm run build`
//   node bin/pack.js prepack    build, then point package.json's entry points at dist/ (npm pack)
//   node bin/pack.js postpack   point them back at the sources and remove dist/
// Only the entry-point fields are rewritten (and restored) in place: dependencies that someone
// adds in between are kept.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
/** The folders compiled into dist/ (tsconfig.build.json's `include`). */
const compiledRoots = ['src', 'workflows', 'activities'];

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

const inCompiledRoot = (file) =>
  compiledRoots.some((r) => file === join(root, r) || file.startsWith(join(root, r) + sep));

/**
 * `text` (a module written in folder `fromDir`, now in `toDir`) with each
 * `new URL('<relative>', import.meta.url)` pointing where `target(absolute path)` says (or left
 * as it is when that returns undefined), relative to `toDir`.
 */
function rewriteRelativeUrls(text, fromDir, toDir, target) {
  return text.replace(
    /new URL\((['"])(\.{1,2}\/[^'"]*)\1, import\.meta\.url\)/g,
    (whole, quote, rel) => {
      const rewritten = target(resolve(fromDir, rel));
      if (rewritten === undefined) return whole;
      let out = relative(toDir, rewritten).split(sep).join('/');
      if (!out.startsWith('.')) out = `./${out}`;
      if (rel.endsWith('/') && !out.endsWith('/')) out += '/';
      return `new URL(${quote}${out}${quote}, import.meta.url)`;
    },
  );
}

/**
 * Sources find their neighbours with `new URL('<relative>', import.meta.url)`: a sibling module
 * (`./runtime.ts`, bundled by esbuild or webpack) becomes its compiled `.js`; a file outside the
 * compiled folders (`../../package.json`) keeps pointing at the same file from one level deeper.
 */
function rewriteUrls(distFile) {
  const sourceFile = join(root, relative(dist, distFile)).replace(/\.js$/, '.ts');
  const text = readFileSync(distFile, 'utf8');
  const next = rewriteRelativeUrls(text, dirname(sourceFile), dirname(distFile), (target) => {
    if (!inCompiledRoot(target)) return target;
    return target.endsWith('.ts')
      ? join(dist, relative(root, target)).replace(/\.ts$/, '.js')
      : undefined;
  });
  if (next !== text) writeFileSync(distFile, next);
}

/**
 * Modules the published package loads as files (entry points): the public entries, the CLI and
 * the thread entries (started next to their caller by name). Everything else is reached through
 * them. Models are bundled from dist/src, per module (src/model/bundle.ts says why).
 */
const bundleEntries = {
  index: 'src/index.js',
  testing: 'src/testing/index.js',
  cli: 'src/cli/main.js',
  'node-thread-entry': 'src/runner/node-thread-entry.js',
  'scoring-thread-entry': 'src/serving/scoring-thread-entry.js',
  'load-model': 'src/model/load-model.js',
};
const bundleDir = join(dist, 'bundle');

/**
 * In a bundle every module's `new URL('<relative>', import.meta.url)` is relative to the bundle's
 * folder: an entry's own module becomes that entry, any other file keeps its place.
 */
function bundleUrls() {
  const entryFiles = new Map(
    Object.entries(bundleEntries).map(([name, file]) => [
      join(dist, file),
      join(bundleDir, `${name}.js`),
    ]),
  );
  return {
    name: 'bundle-relative-urls',
    setup(esbuild) {
      esbuild.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(dist + sep)) return undefined;
        const contents = rewriteRelativeUrls(
          readFileSync(args.path, 'utf8'),
          dirname(args.path),
          bundleDir,
          (target) => entryFiles.get(target) ?? target,
        );
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * Packages the bundle imports rather than contains: all dependencies but those inlined, which are
 * internal to this package (no value of theirs crosses its API) and made of many small modules
 * (zod: ~95 ES modules; yaml: ~50 CommonJS files, inlined from its ES module build, the same code
 * but for warnings, which go to console.warn). Other CommonJS packages stay external: their
 * `require`s do not work inside an ES module.
 */
const inlinedPackages = new Set(['zod', 'yaml']);

/** `yaml` from its ES module build (its `node` export is CommonJS). */
function yamlAsEsm() {
  const dir = dirname(createRequire(import.meta.url).resolve('yaml/package.json'));
  return {
    name: 'yaml-esm',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^yaml$/ }, () => ({ path: join(dir, 'browser', 'index.js') }));
    },
  };
}

/**
 * CommonJS packages the bundle `require`s instead of importing. Node gives an ES module importing
 * CommonJS its named exports by lexing the module and everything it re-exports: for
 * @temporalio/client that means ~1.4 MB of protobuf JSON, about a quarter of its load time. The
 * bundle still imports these by name: each import becomes a small module that requires the package
 * and exports the names it has (read here, from the installed package).
 */
const requiredPackages = [
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/common',
  '@temporalio/plugin',
  '@temporalio/worker',
  '@temporalio/workflow',
  'cli-progress',
  'esbuild',
  'fastify',
  'light-my-request',
];

function requireCommonJs() {
  const require = createRequire(join(root, 'package.json'));
  const names = new RegExp(
    `^(${requiredPackages.map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})(/.*)?$`,
  );
  return {
    name: 'require-commonjs',
    setup(esbuild) {
      esbuild.onResolve({ filter: names }, (args) =>
        args.kind === 'import-statement' || args.kind === 'dynamic-import'
          ? { path: args.path, namespace: 'require-commonjs' }
          : { path: args.path, external: true },
      );
      esbuild.onLoad({ filter: /.*/, namespace: 'require-commonjs' }, (args) => {
        const exported = Object.keys(require(args.path)).filter(
          (name) => name !== 'default' && name !== '__esModule' && /^[A-Za-z_$][\w$]*$/.test(name),
        );
        return {
          contents: [
            "import { createRequire } from 'node:module';",
            `const required = createRequire(import.meta.url)(${JSON.stringify(args.path)});`,
            'export default required;',
            exported.length ? `export const { ${exported.join(', ')} } = required;` : '',
          ].join('\n'),
          loader: 'js',
          resolveDir: root,
        };
      });
    },
  };
}

function externalPackages() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })
    .filter((name) => !inlinedPackages.has(name))
    .flatMap((name) => [name, `${name}/*`]);
}

/**
 * The published modules as a few ES module files (dist/bundle): loading ~170 small modules cost a
 * one-node `run` about 0.15 s of module resolution. Dependencies stay external (one copy each,
 * shared with the user's project); code shared by entries goes into shared chunks, so each module
 * still exists once per thread; lazy `import()`s stay lazy. esbuild splits at every lazy import
 * (~50 chunks on a `run`, each resolved and linked on its own), so rollup then merges what loads
 * together (`mergeEagerChunks`).
 */
async function bundle() {
  const { build: esbuild } = await import('esbuild');
  const { metafile } = await esbuild({
    entryPoints: Object.fromEntries(
      Object.entries(bundleEntries).map(([name, file]) => [name, join(dist, file)]),
    ),
    outdir: bundleDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: externalPackages(),
    keepNames: true,
    minify: true,
    sourcemap: true,
    metafile: true,
    chunkNames: 'chunk-[hash]',
    logLevel: 'warning',
    plugins: [requireCommonJs(), bundleUrls(), yamlAsEsm()],
  });
  await mergeEagerChunks(metafile);
}

/**
 * Rewrites esbuild's chunks so that the chunks an entry loads eagerly are grouped by which entries
 * load them: one file per group instead of one per combination of lazy imports that reach the
 * code. An entry never loads more code than before; code only lazy imports reach stays lazy. The
 * files stay in dist/bundle, so relative `new URL(…, import.meta.url)`s keep their targets, and
 * the source maps chain back to dist/src.
 */
async function mergeEagerChunks(metafile) {
  const { rollup } = await import('rollup');
  const file = (output) => resolve(root, output);
  const entries = Object.keys(bundleEntries).map((name) => join(bundleDir, `${name}.js`));
  const loadedBy = new Map();
  for (const entry of entries) {
    const visit = (output) => {
      const entriesOfChunk = loadedBy.get(output) ?? new Set();
      if (entriesOfChunk.has(entry)) return;
      loadedBy.set(output, entriesOfChunk.add(entry));
      for (const imported of metafile.outputs[relative(root, output)].imports)
        if (imported.kind === 'import-statement' && !imported.external) visit(file(imported.path));
    };
    visit(entry);
  }
  const group = (id) => {
    if (entries.includes(id) || !loadedBy.has(id)) return undefined;
    const names = [...loadedBy.get(id)].map((entry) => basename(entry, '.js')).sort();
    return `eager-${names.join('+')}`;
  };
  const merged = await rollup({
    input: Object.fromEntries(
      Object.keys(bundleEntries).map((n) => [n, join(bundleDir, `${n}.js`)]),
    ),
    external: (id) => !id.startsWith('.') && !isAbsolute(id),
    plugins: [
      {
        name: 'esbuild-chunks',
        load(id) {
          const map = `${id}.map`;
          return {
            code: readFileSync(id, 'utf8'),
            map: existsSync(map) ? readFileSync(map, 'utf8') : null,
          };
        },
      },
    ],
    onwarn(warning, warn) {
      // esbuild's output is already linked: its `this` at the top level and circular chunks are fine.
      if (warning.code !== 'CIRCULAR_DEPENDENCY' && warning.code !== 'THIS_IS_UNDEFINED')
        warn(warning);
    },
  });
  const mergedDir = `${bundleDir}.merged`;
  await merged.write({
    dir: mergedDir,
    format: 'es',
    sourcemap: true,
    manualChunks: group,
    chunkFileNames: 'chunk-[hash].js',
  });
  await merged.close();
  rmSync(bundleDir, { recursive: true, force: true });
  renameSync(mergedDir, bundleDir);
}

async function build() {
  rmSync(dist, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
  for (const folder of compiledRoots) {
    for (const file of walk(join(root, folder))) {
      if (file.endsWith('.ts')) continue;
      // Assets read at run time (the python_function loader) sit next to the compiled modules.
      const target = join(dist, relative(root, file));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(file, target);
    }
  }
  for (const file of walk(dist)) if (file.endsWith('.js')) rewriteUrls(file);
  await bundle();
}

/**
 * `./src/index.ts` → `{ types: ./dist/src/index.d.ts, default: ./dist/bundle/index.js }`; a
 * module that is no bundle entry (the workflows, which Temporal's own bundler compiles for its
 * sandbox) keeps its compiled file.
 */
function compiledTarget(target) {
  if (typeof target !== 'string' || !target.endsWith('.ts')) return target;
  const compiled = target.replace(/^\.\//, '').replace(/\.ts$/, '.js');
  const types = `./dist/${compiled.replace(/\.js$/, '.d.ts')}`;
  const entry = Object.entries(bundleEntries).find(([, file]) => file === compiled)?.[0];
  return { types, default: entry ? `./dist/bundle/${entry}.js` : `./dist/${compiled}` };
}

function sourceTarget(target) {
  if (typeof target !== 'object' || target === null || typeof target.types !== 'string')
    return target;
  return `./${target.types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts')}`;
}

function rewriteManifest(mapTarget, published) {
  const file = join(root, 'package.json');
  const text = readFileSync(file, 'utf8');
  const manifest = JSON.parse(text);
  manifest.exports = Object.fromEntries(
    Object.entries(manifest.exports).map(([key, target]) => [key, mapTarget(target)]),
  );
  if (published) {
    manifest.main = manifest.exports['.'].default;
    manifest.types = manifest.exports['.'].types;
  } else {
    delete manifest.main;
    delete manifest.types;
  }
  const indent = /^\s+/.exec(text.split('\n')[1] ?? '')?.[0] ?? '  ';
  writeFileSync(file, `${JSON.stringify(manifest, null, indent)}\n`);
}

const command = process.argv[2];
if (command === 'build') await build();
else if (command === 'prepack') {
  await build();
  rewriteManifest(compiledTarget, true);
} else if (command === 'postpack') {
  rewriteManifest(sourceTarget, false);
  if (existsSync(dist)) rmSync(dist, { recursive: true, force: true });
} else {
  console.error('usage: node bin/pack.js build|prepack|postpack');
  process.exitCode = 2;
}
