/**
 * Typing of CSV text columns (`load_args.cast`, on by default): a column whose non-empty cells
 * all parse as numbers becomes numbers, one of only `true`/`false` becomes booleans, any other
 * stays strings. Empty cells become `null` in every column (as pandas reads them as NaN).
 */

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:NaN|Infinity)$/;
const BOOLEAN = /^(?:true|false)$/i;

/** Converts a column of raw cells in place and returns it. */
export function castColumn(cells: unknown[]): unknown[] {
  let numeric = true;
  let boolean = true;
  for (let i = 0; i < cells.length && (numeric || boolean); i++) {
    const cell = cells[i] as string;
    if (cell === '') continue;
    if (numeric && !NUMBER.test(cell)) numeric = false;
    if (boolean && !BOOLEAN.test(cell)) boolean = false;
  }
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i] as string;
    if (cell === '') cells[i] = null;
    else if (numeric) cells[i] = Number(cell);
    else if (boolean) cells[i] = cell.toLowerCase() === 'true';
  }
  return cells;
}
