import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PIPELINE_NAME, PROJECT_FILE_NAMES } from '../constants.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { closestMatch } from '../utils/suggest.js';
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
 * Imports a module, TypeScript included: a plain `import()` works under tsx, Jest or compiled
 * code; otherwise tsx compiles the file on the fly, so projects need no build step.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
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
    module = await importModule(file);
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
