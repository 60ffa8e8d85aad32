/**
 * Query parameters, always bound by the driver and never spliced into the SQL text. Positional
 * parameters (an array) use the database's own placeholders (`?` in SQLite, `$1` in PostgreSQL);
 * named ones (an object) are written `:name` in both, and translated to `$n` for PostgreSQL
 * outside string literals, quoted identifiers, comments and `::` casts.
 */
export type SqlParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/** `:name` placeholders → `$n` and the matching value list (PostgreSQL). */
export function toPositional(
  sql: string,
  params: Readonly<Record<string, unknown>>,
): { text: string; values: unknown[] } {
  const order: string[] = [];
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === "'" || ch === '"') {
      const end = closing(sql, i, ch);
      out += sql.slice(i, end);
      i = end;
    } else if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '$' && /[A-Za-z_$]/.test(next ?? '')) {
      const tag = /^\$[A-Za-z_0-9]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        const stop = end === -1 ? sql.length : end + tag.length;
        out += sql.slice(i, stop);
        i = stop;
      } else {
        out += ch;
        i++;
      }
    } else if (ch === ':' && next === ':') {
      out += '::';
      i += 2;
    } else if (ch === ':' && /[A-Za-z_]/.test(next ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      if (!(name in params)) throw new RangeError(`no value for query parameter :${name}`);
      let index = order.indexOf(name);
      if (index === -1) index = order.push(name) - 1;
      out += `$${index + 1}`;
      i += 1 + name.length;
    } else {
      out += ch;
      i++;
    }
  }
  return { text: out, values: order.map((name) => params[name]) };
}

/** Index just past the literal or identifier opened at `start` (doubled quotes escape). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
