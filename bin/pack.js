#!/usr/bin/env node
// The published package is compiled; this repository runs its TypeScript sources.
//   node bin/pack.js build      compile src/, workflows/, activities/ into dist/ (ES modules,
//                               .d.ts, source maps) — `npm run build`
//   node bin/pack.js prepack    build, then point package.json's entry points at dist/ (npm pack)
//   node bin/pack.js postpack   point them back at the sources and remove dist/
// Only the entry-point fields are rewritten (and restored) in place: dependencies that someone
// adds in between are kept.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
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
 * Sources find their neighbours with `new URL('<relative>', import.meta.url)`: a sibling module
 * (`./runtime.ts`, bundled by esbuild or webpack) becomes its compiled `.js`; a file outside the
 * compiled folders (`../../package.json`) keeps pointing at the same file from one level deeper.
 */
function rewriteUrls(distFile) {
  const sourceFile = join(root, relative(dist, distFile)).replace(/\.js$/, '.ts');
  const text = readFileSync(distFile, 'utf8');
  const next = text.replace(
    /new URL\((['"])(\.{1,2}\/[^'"]*)\1, import\.meta\.url\)/g,
    (whole, quote, rel) => {
      const target = resolve(dirname(sourceFile), rel);
      let rewritten;
      if (inCompiledRoot(target) && target.endsWith('.ts')) {
        rewritten = join(dist, relative(root, target)).replace(/\.ts$/, '.js');
      } else if (!inCompiledRoot(target)) {
        rewritten = target;
      } else return whole;
      let out = relative(dirname(distFile), rewritten).split(sep).join('/');
      if (!out.startsWith('.')) out = `./${out}`;
      if (rel.endsWith('/') && !out.endsWith('/')) out += '/';
      return `new URL(${quote}${out}${quote}, import.meta.url)`;
    },
  );
  if (next !== text) writeFileSync(distFile, next);
}

function build() {
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
}

/** `./src/index.ts` → `{ types: ./dist/src/index.d.ts, default: ./dist/src/index.js }`. */
function compiledTarget(target) {
  if (typeof target !== 'string' || !target.endsWith('.ts')) return target;
  const js = `./dist/${target.replace(/^\.\//, '').replace(/\.ts$/, '.js')}`;
  return { types: js.replace(/\.js$/, '.d.ts'), default: js };
}

function sourceTarget(target) {
  if (typeof target !== 'object' || target === null || typeof target.default !== 'string')
    return target;
  return `./${target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')}`;
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
if (command === 'build') build();
else if (command === 'prepack') {
  build();
  rewriteManifest(compiledTarget, true);
} else if (command === 'postpack') {
  rewriteManifest(sourceTarget, false);
  if (existsSync(dist)) rmSync(dist, { recursive: true, force: true });
} else {
  console.error('usage: node bin/pack.js build|prepack|postpack');
  process.exitCode = 2;
}
