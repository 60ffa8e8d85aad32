/**
 * apache-arrow, imported on first need: it is ~150 modules, a tenth of a second of every CLI
 * start, and most runs never hold an Arrow table.
 */
import type * as Arrow from 'apache-arrow';
import type { Table } from 'apache-arrow';

export type ArrowModule = typeof Arrow;

let loading: Promise<ArrowModule> | undefined;

export function loadArrow(): Promise<ArrowModule> {
  loading ??= import('apache-arrow');
  return loading;
}

/**
 * True for an apache-arrow `Table`, told by its class's `Symbol.toStringTag` (which Arrow sets to
 * 'Table') and its record batches, so the check needs no import of apache-arrow and accepts a
 * table made by another copy of the package.
 */
export function isArrowTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null) return false;
  const ctor = (value as { constructor?: { [Symbol.toStringTag]?: unknown } }).constructor;
  return ctor?.[Symbol.toStringTag] === 'Table' && Array.isArray((value as Table).batches);
}
