/**
 * Formatters over one row type: a header line (or none) and one line per
 * row. The table with no --fields keeps the original tool's columns and
 * widths (and its wide variant); CSV follows RFC 4180.
 */
import { isoTime, OUT_FIELDS, type Row } from './fields.js';

export type OutputFormat = 'table' | 'jsonl' | 'csv';

export interface FormatOptions {
  readonly format: OutputFormat;
  /** explicit columns (--fields); undefined: the original's layout */
  readonly fields?: readonly string[];
  /** -T: HH:MM:SS column */
  readonly time?: boolean;
  /** -t: seconds since the first session */
  readonly timestamp?: boolean;
  /** -w: wide columns that fit IPv6 */
  readonly wide?: boolean;
  /** add the RULES column / rules key */
  readonly rules?: boolean;
}

export interface Formatter {
  header(): string | undefined;
  row(r: Row): string;
}

export function csvQuote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function padL(s: string, w: number): string {
  return s.length >= w ? s : s + ' '.repeat(w - s.length);
}
function padR(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

/** Columns of the original: its default, wide and CSV layouts. */
function classicColumns(o: FormatOptions): string[] {
  const cols: string[] = [];
  if (o.time) cols.push('time');
  if (o.timestamp) cols.push('ts');
  cols.push('pid', 'comm');
  if (o.wide || o.format === 'csv') cols.push('family');
  cols.push('laddr', 'lport', 'raddr', 'rport', 'tx_kb', 'rx_kb', 'span_ms');
  if (o.rules) cols.push('rules');
  return cols;
}

function classicTable(o: FormatOptions): Formatter {
  const wide = o.wide === true;
  const commW = wide ? 16 : 10;
  const addrW = wide ? 26 : 15;
  const kbW = wide ? 6 : 5;
  const prefixH =
    (o.time ? `${padL('TIME', 8)} ` : '') + (o.timestamp ? `${padL('TIME(s)', 9)} ` : '');
  const tail = o.rules ? ' RULES' : '';
  return {
    header: () =>
      `${prefixH}${padL('PID', 5)} ${padL('COMM', commW)} ${wide ? `${padL('IP', 2)} ` : ''}${padL('LADDR', addrW)} ${padL('LPORT', 5)} ${padL('RADDR', addrW)} ${padL('RPORT', 5)} ${padR('TX_KB', kbW)} ${padR('RX_KB', kbW)} MS${tail}`,
    row: (r) => {
      let pre = '';
      if (o.time) pre += `${padL(OUT_FIELDS.time!.text(r), 8)} `;
      if (o.timestamp) pre += `${padL(OUT_FIELDS.ts!.text(r), 9)} `;
      return (
        `${pre}${padL(String(r.pid), 5)} ${padL(r.comm.slice(0, commW), commW)} ${wide ? `${padL(String(r.family), 2)} ` : ''}` +
        `${padL(r.laddr, addrW)} ${padL(String(r.lport), 5)} ${padL(r.raddr, addrW)} ${padL(String(r.rport), 5)} ` +
        `${padR(String(Math.floor(r.tx_b / 1024)), kbW)} ${padR(String(Math.floor(r.rx_b / 1024)), kbW)} ${(r.span_us / 1000).toFixed(2)}` +
        (o.rules ? ` ${(r.rules ?? []).join(',')}` : '')
      );
    },
  };
}

function fieldTable(fields: readonly string[], wide: boolean): Formatter {
  const cols = fields.map((n) => OUT_FIELDS[n]!);
  const width = (n: string, w: number) => (wide && (n === 'laddr' || n === 'raddr') ? -39 : w);
  const cell = (n: string, w: number, s: string, last: boolean) => {
    const ww = width(n, w);
    if (ww < 0) return last ? s : padL(s, -ww);
    return padR(s, ww);
  };
  return {
    header: () =>
      cols.map((c, i) => cell(c.name, c.width, c.header, i === cols.length - 1)).join(' '),
    row: (r) =>
      cols.map((c, i) => cell(c.name, c.width, c.text(r), i === cols.length - 1)).join(' '),
  };
}

function csv(fields: readonly string[]): Formatter {
  const cols = fields.map((n) => OUT_FIELDS[n]!);
  return {
    header: () => cols.map((c) => c.header).join(','),
    row: (r) => cols.map((c) => csvQuote(c.text(r))).join(','),
  };
}

/**
 * The default JSON line, written out by hand: one template per session
 * instead of a call per field. Must equal the generic path for DEFAULT_JSON
 * (a test compares them on the shared fixtures).
 */
function defaultJsonRow(r: Row): string {
  return `{"time":"${isoTime(r.time_ms)}","pid":${r.pid},"uid":${r.uid},"comm":${JSON.stringify(r.comm)},"family":${r.family},"laddr":"${r.laddr}","lport":${r.lport},"raddr":"${r.raddr}","rport":${r.rport},"tx_b":${r.tx_b},"rx_b":${r.rx_b},"tx_kb":${r.tx_b / 1024},"rx_kb":${r.rx_b / 1024},"span_us":${r.span_us},"span_ms":${r.span_us / 1000},"owner":${r.owner}}`;
}

export function genericJsonl(fields: readonly string[]): Formatter {
  return jsonl(fields);
}

function jsonl(fields: readonly string[]): Formatter {
  if (fields.length === DEFAULT_JSON.length && fields.every((f, i) => f === DEFAULT_JSON[i])) {
    return { header: () => undefined, row: defaultJsonRow };
  }
  // The object's text is built directly (keys are fixed; each field knows
  // its JSON text): JSON.stringify of a fresh object per session cost several
  // times more. Tests parse the result back.
  const parts = fields.map((n, i) => {
    const c = OUT_FIELDS[n]!;
    const key = `${i === 0 ? '{' : ','}"${c.name}":`;
    const val = c.jsonText ?? ((r: Row) => JSON.stringify(c.json(r)));
    return { key, val };
  });
  return {
    header: () => undefined,
    row: (r) => {
      let s = '';
      for (const p of parts) s += p.key + p.val(r);
      return `${s}}`;
    },
  };
}

export const DEFAULT_JSON = [
  'time',
  'pid',
  'uid',
  'comm',
  'family',
  'laddr',
  'lport',
  'raddr',
  'rport',
  'tx_b',
  'rx_b',
  'tx_kb',
  'rx_kb',
  'span_us',
  'span_ms',
  'owner',
];

export function createFormatter(o: FormatOptions): Formatter {
  switch (o.format) {
    case 'table':
      return o.fields ? fieldTable(o.fields, o.wide === true) : classicTable(o);
    case 'csv':
      return csv(o.fields ?? classicColumns(o));
    case 'jsonl': {
      const base = o.fields ?? [...(o.timestamp ? ['ts'] : []), ...DEFAULT_JSON];
      return jsonl(o.rules && !base.includes('rules') ? [...base, 'rules'] : base);
    }
    default: {
      const never: never = o.format;
      throw new Error(`unknown format ${never}`);
    }
  }
}
