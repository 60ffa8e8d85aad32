import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PIPELINE_NAME, PROJECT_FILE_NAMES } from '../constants.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { closestMatch } from '../utils/suggest.js';
import { compiledProjectUrl } from './compiled-project.js';
import { isProjectDefinition, type ProjectDefinition } from './define-project.js';
import { InvalidProjectError, PipelineNotFoundError, ProjectNotFoundError } from './errors.js';

/** A loaded project and where it lives. */
export interface LoadedProject {
  readonly dir: string;
  readonly file: string;
  readonly definition: ProjectDefinition;
}

/** The project file at `projectDir`'s root. */
export function findProjectFile(projectDir: string): string {
  const dir = resolve(projectDir);
  for (const name of PROJECT_FILE_NAMES) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new ProjectNotFoundError(dir, PROJECT_FILE_NAMES);
}

/**
 * A module-resolution hook that loads a project's own TypeScript files as ES modules whatever its
 * package.json says: `npm init -y` writes `"type": "commonjs"`, and a folder may have no
 * package.json at all, which would make tsx compile the project to CommonJS (and Node refuse it:
 * "Cannot require() ES Module ... in a cycle"). Files under node_modules keep their own format.
 */
const ESM_PROJECT_HOOK = `data:text/javascript,${encodeURIComponent(`
let roots = [];
export function initialize(data) { roots = data.roots; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const url = result.url;
  if (url.startsWith('file:') && /\\.tsx?$/.test(new URL(url).pathname) &&
      !url.includes('/node_modules/') && roots.some((root) => url.startsWith(root)))
    return { ...result, format: 'module' };
  return result;
}`)}`;

const esmRoots = new Set<string>();

/** Makes `dir`'s TypeScript files load as ES modules (once per folder and thread). */
function loadAsEsm(dir: string): void {
  const root = pathToFileURL(resolve(dir)).href.replace(/\/?$/, '/');
  if (esmRoots.has(root)) return;
  esmRoots.add(root);
  register(ESM_PROJECT_HOOK, { data: { roots: [root] } });
}

/** Running from TypeScript sources (tsx, Jest): their loader already compiles project files. */
const runningFromSources = import.meta.url.endsWith('.ts');

let tsxRegistered: Promise<void> | undefined;

/** tsx's loader for this thread's later imports (once): project TypeScript compiles on the fly. */
function registerTsx(): Promise<void> {
  tsxRegistered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return tsxRegistered;
}

/**
 * Imports a module, TypeScript included: from sources a plain `import()` works (tsx or Jest compile
 * it); compiled, the project is compiled once into its node_modules cache (`compiled-project.ts`)
 * and imported from there, so projects need no build step and no loader hook. Without a
 * node_modules folder, tsx compiles the file on the fly as an ES module.
 *
 * tsx's loader is registered for the thread, not scoped (`tsImport`): a scoped import gives every
 * module the project file reaches its own URL, so this package and its dependencies would load a
 * second time (twice the start-up of a one-node `run`, and classes the CLI's `instanceof` would not
 * recognise).
 */
async function importModule(file: string, dir: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (runningFromSources || !/\.[cm]?tsx?$/.test(file))
    return (await import(url)) as Record<string, unknown>;
  const compiled = await compiledProjectUrl(file, dir);
  if (compiled) return (await import(compiled)) as Record<string, unknown>;
  // This package's own modules load before any hook exists: with hooks registered, each import of
  // its graph would cross to the hooks thread (about half of a one-node run's start-up).
  await import('../index.js');
  loadAsEsm(dir);
  await registerTsx();
  return (await import(url)) as Record<string, unknown>;
}

const loaded = new Map<string, Promise<LoadedProject>>();

/** Loads (once per process) the project whose root is `projectDir` (default: the current directory). */
export function loadProject(projectDir: string = process.cwd()): Promise<LoadedProject> {
  const file = findProjectFile(projectDir);
  let project = loaded.get(file);
  if (!project) {
    project = importProjectFile(resolve(projectDir), file);
    loaded.set(file, project);
    project.catch(() => loaded.delete(file));
  }
  return project;
}

async function importProjectFile(dir: string, file: string): Promise<LoadedProject> {
  let module: Record<string, unknown>;
  try {
    module = await importModule(file, dir);
  } catch (error) {
    throw new InvalidProjectError(file, `it failed to load: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const definition = module.default;
  if (!isProjectDefinition(definition)) {
    throw new InvalidProjectError(
      file,
      'its default export must be the result of defineProject({ name, pipelines }).',
    );
  }
  if (Object.keys(definition.pipelines).length === 0) {
    throw new InvalidProjectError(
      file,
      'it registers no pipeline: give defineProject a `pipelines` map.',
    );
  }
  return { dir, file, definition };
}

/** The registered pipeline called `name` (default `__default__`). */
export function getPipeline(
  project: ProjectDefinition,
  name: string = DEFAULT_PIPELINE_NAME,
): Pipeline {
  const pipeline = project.pipelines[name];
  if (!pipeline) {
    const available = Object.keys(project.pipelines);
    throw new PipelineNotFoundError(name, available, closestMatch(name, available));
  }
  return pipeline;
}
