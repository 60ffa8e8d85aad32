/**
 * Dataset factories (Kedro's catalog patterns): a catalog key with `{placeholders}`, such as
 * `"{name}_csv"` or `"{namespace}.{name}"`, matches dataset names at lookup time; the values
 * matched are substituted into the entry's config. Patterns are ranked like Kedro's
 * `_sort_patterns`: more literal characters first, then fewer placeholders, then alphabetically;
 * the first that matches wins (so a catch-all `"{default}"` comes last).
 */
import type { ConfigMap } from './merge.js';
import { isMapping } from './merge.js';

const PLACEHOLDER = /\{([A-Za-z_]\w*)\}/g;

export interface DatasetPattern {
  readonly pattern: string;
  readonly config: ConfigMap;
  readonly placeholders: readonly string[];
  /** Characters outside placeholders. */
  readonly specificity: number;
  readonly regex: RegExp;
}

export function isPattern(key: string): boolean {
  return /\{[A-Za-z_]\w*\}/.test(key);
}

export function compilePattern(pattern: string, config: ConfigMap): DatasetPattern {
  const placeholders: string[] = [];
  let source = '^';
  let last = 0;
  for (const match of pattern.matchAll(PLACEHOLDER)) {
    const name = match[1] as string;
    source += escapeRegExp(pattern.slice(last, match.index));
    source += placeholders.includes(name) ? `\\k<${name}>` : `(?<${name}>.+?)`;
    if (!placeholders.includes(name)) placeholders.push(name);
    last = (match.index ?? 0) + match[0].length;
  }
  source += `${escapeRegExp(pattern.slice(last))}$`;
  const specificity = pattern.replace(PLACEHOLDER, '').length;
  return { pattern, config, placeholders, specificity, regex: new RegExp(source, 's') };
}

/** Kedro's ranking: specificity descending, placeholder count ascending, then by name. */
export function sortPatterns(patterns: readonly DatasetPattern[]): DatasetPattern[] {
  return [...patterns].sort(
    (a, b) =>
      b.specificity - a.specificity ||
      a.placeholders.length - b.placeholders.length ||
      (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0),
  );
}

/** The first (best-ranked) pattern matching `name`, with the placeholder values. */
export function matchPattern(
  sorted: readonly DatasetPattern[],
  name: string,
): { pattern: DatasetPattern; values: Record<string, string> } | undefined {
  for (const pattern of sorted) {
    const match = pattern.regex.exec(name);
    if (match) return { pattern, values: { ...match.groups } };
  }
  return undefined;
}

/** Replaces `{placeholder}` in every string of `config` (keys included) with its value. */
export function substitutePlaceholders(
  value: unknown,
  values: Readonly<Record<string, string>>,
): unknown {
  if (typeof value === 'string')
    return value.replace(PLACEHOLDER, (whole, key: string) => values[key] ?? whole);
  if (Array.isArray(value)) return value.map((item) => substitutePlaceholders(item, values));
  if (isMapping(value)) {
    const out: ConfigMap = {};
    for (const [key, item] of Object.entries(value))
      out[substitutePlaceholders(key, values) as string] = substitutePlaceholders(item, values);
    return out;
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
