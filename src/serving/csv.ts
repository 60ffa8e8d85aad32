/**
 * A CSV reader for scoring requests (RFC 4180: `,` separators, `"` quoting with `""` escapes, LF or
 * CRLF rows, a leading BOM ignored, empty lines skipped), written as sliced work and linear in the
 * body's length. It stops as soon as the header has more than `maxColumns` names or the body more
 * than `maxRecords` rows, before the rest is read.
 */
import { CHECKPOINT_EVERY, type Sliced } from './slicing.js';

/** A body that is not CSV (an unclosed quote, text after a closing quote). */
export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError';
}

/** A header or a row count over the limits; `what` says which. */
export class CsvLimitError extends Error {
  override readonly name = 'CsvLimitError';
  constructor(
    readonly what: 'columns' | 'records',
    readonly limit: number,
  ) {
    super(`more than ${limit} ${what}`);
  }
}

export interface CsvLimits {
  maxColumns: number;
  maxRecords: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Reads CSV text into rows of strings (the header first). Rows may have different lengths. */
export function* readCsvRows(text: string, limits: CsvLimits): Sliced<string[][]> {
  const rows: string[][] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let row: string[] = [];
  let work = 0;
  const n = text.length;
  const endRow = () => {
    // An empty line is one empty field: skipped.
    if (!(row.length === 1 && row[0] === '')) {
      if (rows.length > limits.maxRecords) throw new CsvLimitError('records', limits.maxRecords);
      rows.push(row);
    }
    row = [];
    line++;
  };
  while (pos < n) {
    let c = text.charCodeAt(pos);
    let field: string;
    if (c === QUOTE) {
      const startLine = line;
      let i = pos + 1;
      let value = '';
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0)
          throw new CsvSyntaxError(
            `Quote Not Closed: the quoted field starting on line ${startLine} is not closed`,
          );
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += text.slice(i, q + 1);
          i = q + 2;
          continue;
        }
        value += text.slice(i, q);
        pos = q + 1;
        break;
      }
      for (let k = value.indexOf('\n'); k >= 0; k = value.indexOf('\n', k + 1)) line++;
      field = value;
      c = text.charCodeAt(pos);
      if (pos < n && c !== COMMA && c !== LF && c !== CR)
        throw new CsvSyntaxError(
          `Invalid Closing Quote: got ${JSON.stringify(text[pos])} after a quoted field on line ${line}`,
        );
    } else {
      let i = pos;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === COMMA || d === LF || d === CR) break;
        i++;
      }
      field = text.slice(pos, i);
      pos = i;
      c = text.charCodeAt(pos);
    }
    row.push(field);
    if (row.length > limits.maxColumns) throw new CsvLimitError('columns', limits.maxColumns);
    if (pos >= n) break;
    if (c === COMMA) {
      pos++;
      if (pos >= n) row.push('');
    } else {
      pos += c === CR && text.charCodeAt(pos + 1) === LF ? 2 : 1;
      endRow();
    }
    if (++work >= CHECKPOINT_EVERY) {
      work = 0;
      yield;
    }
  }
  if (row.length > 0) endRow();
  return rows;
}
