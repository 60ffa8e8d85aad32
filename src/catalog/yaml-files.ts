import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigParseError, DuplicateConfigKeyError } from './errors.js';
import type { ConfigMap } from './merge.js';
import { isMapping } from './merge.js';

/** The kinds of configuration a project's `conf/<env>/` holds. */
export type ConfigKind = 'catalog' | 'parameters' | 'credentials' | 'mlflow' | 'globals';

export const CONFIG_KINDS: readonly ConfigKind[] = [
  'catalog',
  'parameters',
  'credentials',
  'mlflow',
  'globals',
];

const EXTENSIONS = ['.yml', '.yaml', '.json'];

/**
 * Kedro's default config patterns: a `<kind>*` file at the env root, any file in a folder
 * named `<kind>*`, and a `<kind>*` file in any subfolder; `globals` is only `globals.yml`.
 * Extensions: .yml, .yaml, .json.
 */
export function matchesKind(relativePath: string, kind: ConfigKind): boolean {
  if (!EXTENSIONS.some((ext) => relativePath.endsWith(ext))) return false;
  const parts = relativePath.split('/');
  const base = parts[parts.length - 1] ?? '';
  if (kind === 'globals') return parts.length === 1 && /^globals\.ya?ml$/.test(base);
  return (parts[0] ?? '').startsWith(kind) || base.startsWith(kind);
}

/** Every non-hidden file under `dir`, as `/`-separated paths relative to it, sorted. */
export async function listConfigFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string, prefix: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(current, entry.name), rel);
      else if (entry.isFile()) out.push(rel);
    }
  }
  await walk(dir, '');
  return out.sort();
}

/** Parses one YAML file into a mapping; malformed YAML is a `ConfigParseError` with its line. */
export function parseConfigText(text: string, file: string): ConfigMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const error = doc.errors[0];
  if (error) {
    const position = lineCounter.linePos(error.pos[0]);
    const where = ` at line ${position.line}, column ${position.col}`;
    const reason = error.message.split('\n')[0];
    throw new ConfigParseError(`Malformed YAML in ${file}${where}: ${reason}`, {
      file,
      line: position.line,
      column: position.col,
      cause: error,
    });
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) return {};
  if (!isMapping(value)) {
    throw new ConfigParseError(
      `Invalid config in ${file}: expected a mapping of keys at the top level, found ${Array.isArray(value) ? 'a list' : typeof value}`,
      {
        file,
        line: 1,
      },
    );
  }
  return value;
}

/** One environment's config of one kind: the merged mapping and which file defined each key. */
export interface EnvConfig {
  readonly config: ConfigMap;
  /** Top-level key → file (relative to the project) that defines it. */
  readonly sources: Record<string, string>;
  readonly files: string[];
}

/**
 * Loads and merges every file of `kind` in `envDir`. Keys starting with `_` (YAML anchors'
 * holders) are dropped, as in Kedro; a key defined by two files is a `DuplicateConfigKeyError`.
 */
export async function loadEnvConfig(
  envDir: string,
  kind: ConfigKind,
  projectDir: string,
): Promise<EnvConfig> {
  const config: ConfigMap = {};
  const sources: Record<string, string> = {};
  const files: string[] = [];
  for (const rel of (await listConfigFiles(envDir)).filter((path) => matchesKind(path, kind))) {
    const absolute = join(envDir, rel);
    const display = relative(projectDir, absolute).split('\\').join('/');
    files.push(display);
    const parsed = parseConfigText(await readFile(absolute, 'utf8'), display);
    for (const [key, value] of Object.entries(parsed)) {
      if (key.startsWith('_')) continue;
      const previous = sources[key];
      if (previous !== undefined) throw new DuplicateConfigKeyError(key, [previous, display]);
      config[key] = value;
      sources[key] = display;
    }
  }
  return { config, sources, files };
}
