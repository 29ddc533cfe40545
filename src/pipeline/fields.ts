/**
 * Output fields: the filter language's names, plus `time`, `ts` and `rules`.
 * One table drives every format: how a field is read from a row, and how it
 * is shown in a table, in CSV and in JSON.
 */

import { tcplifeSchema } from '../dsl/schema.js';
import type { Session } from '../kernel/layout.js';

export type Row = Session & {
  /** names of the rules the session matched (with --rules) */
  rules?: readonly string[];
  /** seconds since the first session (for -t) */
  ts?: number;
};

export interface OutField {
  readonly name: string;
  readonly header: string;
  /** table column width; negative: left-aligned */
  readonly width: number;
  readonly json: (r: Row) => unknown;
  readonly text: (r: Row) => string;
  /** the JSON text of the value, fast (defaults to JSON.stringify(json(r))) */
  readonly jsonText?: (r: Row) => string;
}

let isoMs = Number.NaN;
let isoText = '';
/** ISO time of a close, cached per millisecond (sessions come in bursts). */
export function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  if (whole !== isoMs) {
    isoMs = whole;
    isoText = new Date(whole).toISOString();
  }
  return isoText;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function hhmmss(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

const num = (
  name: 'pid' | 'uid' | 'lport' | 'rport' | 'tx_b' | 'rx_b' | 'span_us',
  width: number,
): OutField => ({
  name,
  header: name.toUpperCase(),
  width,
  json: (r) => r[name],
  jsonText: (r) => String(r[name]),
  text: (r) => String(r[name]),
});

const str = (name: 'laddr' | 'raddr', header: string): OutField => ({
  name,
  header,
  width: -15,
  json: (r) => r[name],
  // Addresses are digits, hex, dots and colons: nothing to escape.
  jsonText: (r) => `"${r[name]}"`,
  text: (r) => r[name],
});

/** tx_kb/rx_kb: exact in JSON (a fraction); whole KiB in text, as the original printed. */
const kib = (bytes: 'tx_b' | 'rx_b'): OutField => ({
  name: bytes === 'tx_b' ? 'tx_kb' : 'rx_kb',
  header: bytes === 'tx_b' ? 'TX_KB' : 'RX_KB',
  width: 6,
  json: (r) => r[bytes] / 1024,
  jsonText: (r) => String(r[bytes] / 1024),
  text: (r) => String(Math.floor(r[bytes] / 1024)),
});

/** JSON's text for a finite number is JavaScript's: String(n). */
export const OUT_FIELDS: Readonly<Record<string, OutField>> = {
  time: {
    name: 'time',
    header: 'TIME',
    width: -8,
    json: (r) => isoTime(r.time_ms),
    jsonText: (r) => `"${isoTime(r.time_ms)}"`,
    text: (r) => hhmmss(r.time_ms),
  },
  ts: {
    name: 'ts',
    header: 'TIME(s)',
    width: -9,
    json: (r) => r.ts ?? 0,
    jsonText: (r) => String(r.ts ?? 0),
    text: (r) => (r.ts ?? 0).toFixed(6),
  },
  pid: num('pid', -7),
  uid: num('uid', -6),
  comm: {
    name: 'comm',
    header: 'COMM',
    width: -16,
    json: (r) => r.comm,
    jsonText: (r) => JSON.stringify(r.comm),
    text: (r) => r.comm,
  },
  family: {
    name: 'family',
    header: 'IP',
    width: -2,
    json: (r) => r.family,
    jsonText: (r) => String(r.family),
    text: (r) => String(r.family),
  },
  laddr: str('laddr', 'LADDR'),
  lport: num('lport', -5),
  raddr: str('raddr', 'RADDR'),
  rport: num('rport', -5),
  tx_b: num('tx_b', 10),
  rx_b: num('rx_b', 10),
  tx_kb: kib('tx_b'),
  rx_kb: kib('rx_b'),
  span_us: num('span_us', 10),
  span_ms: {
    name: 'span_ms',
    header: 'MS',
    width: 9,
    json: (r) => r.span_us / 1000,
    jsonText: (r) => String(r.span_us / 1000),
    text: (r) => (r.span_us / 1000).toFixed(2),
  },
  owner: {
    name: 'owner',
    header: 'OWNER',
    width: -5,
    json: (r) => r.owner,
    jsonText: (r) => (r.owner ? 'true' : 'false'),
    text: (r) => (r.owner ? 'yes' : 'no'),
  },
  rules: {
    name: 'rules',
    header: 'RULES',
    width: -1,
    json: (r) => r.rules ?? [],
    jsonText: (r) => JSON.stringify(r.rules ?? []),
    text: (r) => (r.rules ?? []).join(','),
  },
};

/** Resolves names given to --fields (aliases of the filter language allowed). */
export function resolveFields(names: readonly string[]): { fields: string[]; unknown: string[] } {
  const fields: string[] = [];
  const unknown: string[] = [];
  for (const raw of names) {
    const n = raw.trim();
    if (!n) continue;
    if (OUT_FIELDS[n]) fields.push(n);
    else {
      const f = tcplifeSchema.byName.get(n);
      if (f && OUT_FIELDS[f.name]) fields.push(f.name);
      else if (n === 'span' || n === 'ms') fields.push('span_ms');
      else unknown.push(n);
    }
  }
  return { fields, unknown };
}
