/** Merging of configuration mappings. */

export type ConfigMap = Record<string, unknown>;

export function isMapping(value: unknown): value is ConfigMap {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

/**
 * Deep merge (OmegaConf.merge, Kedro's "soft" strategy): nested mappings merge key by key,
 * anything else (scalars, lists) in `override` replaces the base value.
 */
export function deepMerge(base: ConfigMap, override: ConfigMap): ConfigMap {
  const result: ConfigMap = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = result[key];
    result[key] = isMapping(current) && isMapping(value) ? deepMerge(current, value) : value;
  }
  return result;
}

/** Top-level replacement (Kedro's default "destructive" strategy). */
export function shallowMerge(base: ConfigMap, override: ConfigMap): ConfigMap {
  return { ...base, ...override };
}

/** The value at a dotted path (`a.b.c`), or `undefined`. */
export function getPath(root: unknown, path: string): unknown {
  let current = root;
  for (const key of path.split('.')) {
    if (!isMapping(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Every dotted path to a value (leaves and intermediate mappings), for "did you mean". */
export function allPaths(root: ConfigMap, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(root)) {
    const path = prefix ? `${prefix}.${key}` : key;
    paths.push(path);
    if (isMapping(value)) paths.push(...allPaths(value, path));
  }
  return paths;
}
