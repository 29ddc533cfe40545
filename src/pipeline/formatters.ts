/**
 * Formatters over one row type: a header line (or none) and one line per
 * row. The table with no --fields keeps the original tool's columns and
 * widths (and its wide variant); CSV follows RFC 4180; a JSON line is built
 * by a function generated for its field list from the output fields.
 */
import { ENTRIES, SESSION_KEYS } from '../model/fields.js';
import type { FormatOptions } from '../model/output.js';
import { type JsonKind, OUT_FIELDS, type Row } from './fields.js';

export type { FormatOptions, OutputFormat } from '../model/output.js';

/** The columns -x adds to the table and CSV, after the original's. */
export const EXTENDED: readonly string[] = ENTRIES.filter((e) => e.spec.extended !== undefined)
  .sort((a, b) => a.spec.extended! - b.spec.extended!)
  .map((e) => e.name);

export interface Formatter {
  header(): string | undefined;
  row(r: Row): string;
}

export function csvQuote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function field(name: string) {
  const f = OUT_FIELDS[name];
  if (!f) throw new Error(`unknown output field ${name}`);
  return f;
}

/** A table cell: width > 0 right-aligned, < 0 left-aligned, 0 as it is; maxLen truncates. */
export interface Column {
  readonly name: string;
  readonly width: number;
  readonly maxLen?: number;
}

/**
 * What a format writes, per row, decided from the options once: the table's
 * columns (which fields, widths, truncation), or the fields of a CSV (the
 * original's or data) or a JSON line. Formatters over rows and the fast path
 * over kernel records (fast.ts) both follow it.
 */
export type Layout =
  | { readonly kind: 'table'; readonly cols: readonly Column[] }
  | { readonly kind: 'classicCsv' | 'dataCsv' | 'jsonl'; readonly fields: readonly string[] };

export function cell(s: string, width: number): string {
  if (width > 0) return s.padStart(width);
  if (width < 0) return s.padEnd(-width);
  return s;
}

/** An empty last cell leaves no trailing space. */
export function trimsEnd(cols: readonly Column[]): boolean {
  return cols[cols.length - 1]?.width === 0;
}

function table(cols: readonly Column[]): Formatter {
  const fs = cols.map((c) => ({ ...c, f: field(c.name) }));
  return {
    header: () => fs.map((c) => cell(c.f.header, c.width)).join(' '),
    row: (r) => {
      const line = fs
        .map((c) => {
          const t = c.f.text(r);
          return cell(c.maxLen !== undefined ? t.slice(0, c.maxLen) : t, c.width);
        })
        .join(' ');
      return trimsEnd(cols) ? line.trimEnd() : line;
    },
  };
}

/** The original's table: its columns, widths and wide variant (-w). */
function classicTable(o: FormatOptions): Column[] {
  const wide = o.wide === true;
  const commW = wide ? 16 : 10;
  const addrW = wide ? 26 : 15;
  const kbW = wide ? 6 : 5;
  const cols: Column[] = [];
  if (o.open) cols.push({ name: 'event', width: -7 });
  if (o.time) cols.push({ name: 'time', width: -8 });
  if (o.timestamp) cols.push({ name: 'ts', width: -9 });
  cols.push({ name: 'pid', width: -5 }, { name: 'comm', width: -commW, maxLen: commW });
  if (wide) cols.push({ name: 'family', width: -2 });
  cols.push(
    { name: 'laddr', width: -addrW },
    { name: 'lport', width: -5 },
    { name: 'raddr', width: -addrW },
    { name: 'rport', width: -5 },
    { name: 'tx_kb', width: kbW },
    { name: 'rx_kb', width: kbW },
  );
  if (o.extended) {
    // MS keeps its place; the extension follows it, padded like the rest.
    cols.push(
      { name: 'span_ms', width: 8 },
      ...EXTENDED.map((name) => ({ name, width: field(name).width })),
    );
    const last = cols[cols.length - 1]!;
    if (!o.rules && last.width < 0) cols[cols.length - 1] = { ...last, width: 0 };
  } else cols.push({ name: 'span_ms', width: 0 });
  if (o.rules) cols.push({ name: 'rules', width: 0 });
  return cols;
}

/** The original's CSV columns. */
function classicColumns(o: FormatOptions): string[] {
  const cols: string[] = [];
  if (o.open) cols.push('event');
  if (o.time) cols.push('time');
  if (o.timestamp) cols.push('ts');
  cols.push(
    'pid',
    'comm',
    'family',
    'laddr',
    'lport',
    'raddr',
    'rport',
    'tx_kb',
    'rx_kb',
    'span_ms',
  );
  if (o.extended) cols.push(...EXTENDED);
  if (o.rules) cols.push('rules');
  return cols;
}

/** --fields in a table: each field's own width, the last column unpadded. */
function fieldTable(fields: readonly string[], wide: boolean): Column[] {
  return fields.map((name, i) => {
    let width = field(name).width;
    if (wide && (name === 'laddr' || name === 'raddr')) width = -39;
    if (i === fields.length - 1 && width < 0) width = 0;
    return { name, width };
  });
}

/** The original's CSV (-s): upper-case headers, the table's texts. */
function classicCsv(fields: readonly string[]): Formatter {
  const cols = fields.map(field);
  return {
    header: () => cols.map((c) => c.header).join(','),
    row: (r) => cols.map((c) => csvQuote(c.csv(r))).join(','),
  };
}

/** A JSON value as a CSV cell: numbers and booleans as JSON writes them, lists as JSON arrays. */
export function cellOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

/**
 * A data CSV cell: the JSON value, quoted as RFC 4180 needs; an empty
 * string is written "" so that data tools read an empty string, not a
 * missing value (DuckDB, PostgreSQL's COPY: an empty unquoted cell is NULL).
 */
export function dataCsvCell(v: unknown): string {
  const text = cellOf(v);
  return text === '' && typeof v === 'string' ? '""' : csvQuote(text);
}

/** CSV as data (-o csv): the JSON keys as headers, the JSON values in the cells. */
function dataCsv(fields: readonly string[]): Formatter {
  const cols = fields.map(field);
  return {
    header: () => cols.map((c) => c.name).join(','),
    row: (r) => cols.map((c) => dataCsvCell(c.value(r))).join(','),
  };
}

/** A JS expression for a field's JSON text, reading row `r` (names are registry identifiers). */
function jsonExpr(name: string, kind: JsonKind): string {
  const v = `r[${JSON.stringify(name)}]`;
  switch (kind) {
    case 'num':
      return name === 'ts' ? `(${v} ?? 0)` : v;
    case 'plain':
      return `'"' + ${v} + '"'`;
    case 'str':
      return `q(${v})`;
    case 'bool':
      return `(${v} ? 'true' : 'false')`;
    case 'list':
      return `q(${v} ?? [])`;
  }
}

/**
 * One JSON object per row, written by a function generated for the field
 * list: one concatenation per session instead of a call per field or a
 * JSON.stringify of a fresh object (several times the cost). Tests parse
 * every format back and compare it with the session.
 */
function jsonl(fields: readonly string[]): Formatter {
  const terms = fields.map((name, i) => {
    const key = JSON.stringify(`${i === 0 ? '{' : ','}"${name}":`);
    return `${key} + ${jsonExpr(name, field(name).json)}`;
  });
  const body = `return function row(r) { return ${terms.join(' + ')} + '}'; };`;
  const row = new Function('q', body)(JSON.stringify) as (r: Row) => string;
  return { header: () => undefined, row };
}

/** JSON lines' keys (and data CSV's columns): every session key, with ts, rules and tags when asked. */
function jsonFields(o: FormatOptions): readonly string[] {
  const base = o.fields ?? [...(o.timestamp ? ['ts'] : []), ...SESSION_KEYS];
  // With rule files, they say which rules matched and their tags.
  const extra = o.rules ? ['rules', 'tags'].filter((n) => !base.includes(n)) : [];
  return [...base, ...extra];
}

export function layoutOf(o: FormatOptions): Layout {
  switch (o.format) {
    case 'table':
      return {
        kind: 'table',
        cols: o.fields ? fieldTable(o.fields, o.wide === true) : classicTable(o),
      };
    case 'csv':
      if (o.classic) return { kind: 'classicCsv', fields: o.fields ?? classicColumns(o) };
      return { kind: 'dataCsv', fields: o.fields ?? jsonFields(o) };
    case 'jsonl':
      return { kind: 'jsonl', fields: jsonFields(o) };
    default: {
      const never: never = o.format;
      throw new Error(`unknown format ${never}`);
    }
  }
}

export function createFormatter(o: FormatOptions): Formatter {
  const l = layoutOf(o);
  switch (l.kind) {
    case 'table':
      return table(l.cols);
    case 'classicCsv':
      return classicCsv(l.fields);
    case 'dataCsv':
      return dataCsv(l.fields);
    case 'jsonl':
      return jsonl(l.fields);
  }
}
