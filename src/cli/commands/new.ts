import type { Command } from 'commander';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_NAME, PROJECT_FILE_NAMES } from '../../constants.js';
import { renderMlflowYmlTemplate } from '../../mlflow/template.js';
import { packageRoot } from '../../utils/local-services-hint.js';
import { CliUsageError } from '../errors.js';

const TEMPLATE_DIR = join(packageRoot, 'templates', 'project');
const EXAMPLE_DIR = join(packageRoot, 'examples', 'support-tickets');
/** Template files named `<file>.tmpl` have `{{name}}` replaced; `gitignore.tmpl` is `.gitignore`. */
const TEMPLATE_SUFFIX = '.tmpl';

interface Manifest {
  name?: string;
  type?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export interface NewProjectOptions {
  /** Copy the support-ticket example instead of the minimal project. @default false */
  example?: boolean;
  /** Overwrite files that exist already. @default false */
  force?: boolean;
}

/** npm's package-name rules, loosely: lower case, no spaces. */
function projectName(dir: string): string {
  return (
    basename(resolve(dir))
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[._-]+/, '') || 'my-project'
  );
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

function readManifest(file: string): Manifest {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Manifest) : {};
}

/**
 * The project's package.json: an existing one (`npm init -y`) keeps its fields and gains what the
 * project needs — `"type": "module"`, the scripts, this package and the type-checking tools.
 */
function projectManifest(existing: Manifest, name: string): Manifest {
  const own = readManifest(join(packageRoot, 'package.json')) as Manifest & { version?: string };
  const placeholderTest = /no test specified/;
  const scripts: Record<string, string> = {
    run: 'temporal-mlflow run',
    train: 'temporal-mlflow train --wait',
    worker: 'temporal-mlflow worker',
    test: 'node --import tsx --test test/*.test.ts',
    typecheck: 'tsc --noEmit',
  };
  const mergedScripts = { ...existing.scripts };
  for (const [key, value] of Object.entries(scripts)) {
    if (!mergedScripts[key] || placeholderTest.test(mergedScripts[key])) mergedScripts[key] = value;
  }
  const devTool = (pkg: string): string | undefined =>
    own.devDependencies?.[pkg] ?? own.dependencies?.[pkg];
  const devDependencies: Record<string, string> = { ...existing.devDependencies };
  for (const pkg of ['typescript', '@types/node', 'tsx']) {
    const version = devTool(pkg);
    if (version && !existing.dependencies?.[pkg]) devDependencies[pkg] ??= version;
  }
  return {
    name: existing.name ?? name,
    version: (existing.version as string | undefined) ?? '0.1.0',
    private: (existing.private as boolean | undefined) ?? true,
    ...existing,
    type: 'module',
    scripts: mergedScripts,
    dependencies: {
      ...existing.dependencies,
      [PACKAGE_NAME]: existing.dependencies?.[PACKAGE_NAME] ?? `^${own.version ?? '0.1.0'}`,
    },
    devDependencies,
  };
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    noEmit: true,
  },
  include: ['temporal-mlflow.config.ts', 'src', 'test'],
};

/**
 * Writes a project into `dir` (made if missing; an existing package.json is merged): a tiny
 * PipelineML (or, with `example`, the support-ticket router), its conf/, a test, a README.
 * Returns the files written, relative to `dir`.
 */
export function createProject(dir: string, options: NewProjectOptions = {}): string[] {
  const root = resolve(dir);
  const name = projectName(root);
  const existingProject = PROJECT_FILE_NAMES.find((file) => existsSync(join(root, file)));
  if (existingProject && !options.force) {
    throw new CliUsageError(
      `${join(root, existingProject)} exists already: ${dir} is a project. Pick another folder, or --force to overwrite.`,
    );
  }
  mkdirSync(root, { recursive: true });
  const written: string[] = [];
  const write = (file: string, text: string): void => {
    const target = join(root, file);
    if (existsSync(target) && !options.force && file !== 'package.json') return;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    written.push(file);
  };

  if (options.example) {
    for (const file of walk(EXAMPLE_DIR)) {
      const rel = relative(EXAMPLE_DIR, file);
      if (/^data[\\/]0[2-9]_/.test(rel) && !rel.endsWith('.gitkeep')) continue;
      const target = join(root, rel);
      if (existsSync(target) && !options.force) continue;
      mkdirSync(dirname(target), { recursive: true });
      cpSync(file, target);
      written.push(rel);
    }
    const readme = readFileSync(join(TEMPLATE_DIR, `README.md${TEMPLATE_SUFFIX}`), 'utf8');
    write('README.md', readme.replaceAll('{{name}}', name));
    write('.gitignore', readFileSync(join(TEMPLATE_DIR, `gitignore${TEMPLATE_SUFFIX}`), 'utf8'));
  } else {
    for (const file of walk(TEMPLATE_DIR)) {
      let rel = relative(TEMPLATE_DIR, file);
      let text = readFileSync(file, 'utf8');
      if (rel.endsWith(TEMPLATE_SUFFIX)) {
        rel = rel.slice(0, -TEMPLATE_SUFFIX.length);
        text = text.replaceAll('{{name}}', name);
      }
      if (rel === 'gitignore') rel = '.gitignore';
      write(rel, text);
    }
    write(join('conf', 'local', 'mlflow.yml'), renderMlflowYmlTemplate(name));
  }
  write('tsconfig.json', `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  const manifestFile = join(root, 'package.json');
  write(
    'package.json',
    `${JSON.stringify(projectManifest(readManifest(manifestFile), name), null, 2)}\n`,
  );
  return written;
}

export function registerNewCommand(program: Command): void {
  program
    .command('new')
    .description('create a project that runs at once (kedro new); --example copies the example')
    .argument('[dir]', 'folder of the project (made if missing; "." for the current one)', '.')
    .option('--example', 'copy the support-ticket example (a text classifier) instead', false)
    .option('--force', 'overwrite files that exist already', false)
    .action((dir: string, options: NewProjectOptions) => {
      const written = createProject(dir, options);
      const into = resolve(dir) === process.cwd() ? '' : `cd ${dir}\n  `;
      console.log(
        `Created ${projectName(dir)} in ${resolve(dir)} (${written.length} files). Next:\n` +
          `  ${into}npm install\n` +
          `  npx temporal-mlflow run\n` +
          `  npm test\n` +
          `Then train on Temporal and serve the model: see README.md.`,
      );
    });
}
