/**
 * Output fields: every session key of the field registry, plus `ts` and
 * `rules`. One table drives every format: how a field is read from a row,
 * shown in a table or CSV cell, and written in JSON.
 */
import { isoTime } from '../model/decode.js';
import {
  closeMs,
  type DecodedSession,
  ENTRIES,
  fieldSpec,
  isDerived,
  SESSION_KEYS,
  type TextStyle,
  tcplifeSchema,
  type ValueType,
} from '../model/fields.js';
import { escapeControls } from '../model/text.js';

export type Row = DecodedSession & {
  /** names of the rules the session matched (with --rules) */
  readonly rules?: readonly string[];
  /** the tags of those rules, each once */
  readonly tags?: readonly string[];
  /** seconds since the first session (for -t) */
  readonly ts?: number;
};

/**
 * How a value is written in JSON: num, a number as JavaScript prints it
 * (which is JSON's text); str, a string that may need escaping; plain, a
 * string that never does (addresses, ISO times); bool; list, an array of strings.
 */
export type JsonKind = 'num' | 'str' | 'plain' | 'bool' | 'list';

export interface OutField {
  readonly name: string;
  readonly header: string;
  /** table column width; negative: left-aligned */
  readonly width: number;
  readonly json: JsonKind;
  /** the value as JSON has it */
  readonly value: (r: Row) => unknown;
  /** the text of a table cell */
  readonly text: (r: Row) => string;
  /** the text of a CSV cell: the table's, but never shortened */
  readonly csv: (r: Row) => string;
  /** What text and csv read from a row: its value, or for a clock the close time in ms. */
  readonly cellValue: (r: Row) => unknown;
  /** text and csv of that value (text(r) is textOf(cellValue(r))) */
  readonly textOf: (v: unknown) => string;
  readonly csvOf: (v: unknown) => string;
}

export { isoTime };

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function hhmmss(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

const JSON_KIND: Readonly<Record<ValueType, JsonKind>> = {
  int: 'num',
  pid: 'num',
  port: 'num',
  family: 'num',
  size: 'num',
  duration: 'num',
  addr: 'plain',
  time: 'plain',
  enum: 'plain',
  string: 'str',
  bool: 'bool',
};

/** A cell's text from its value (for a clock, the close time in ms). */
function styled(style: TextStyle | undefined, type?: ValueType): (v: unknown) => string {
  switch (style) {
    case undefined:
      if (type === 'string') return (v) => escapeControls(String(v));
      return (v) => String(v);
    case 'floor':
      return (v) => String(Math.floor(v as number));
    case 'fixed2':
      return (v) => (v as number).toFixed(2);
    case 'yesno':
      return (v) => (v ? 'yes' : 'no');
    case 'clock':
      return (v) => hhmmss(v as number);
    case 'short12':
      return (v) => String(v).slice(0, 12);
  }
}

/** A list of names a row may carry (rules, tags): an array in JSON, comma-joined in text. */
function listField(
  name: string,
  header: string,
  get: (r: Row) => readonly string[] | undefined,
): [string, OutField] {
  const textOf = (v: unknown) => (v as readonly string[]).join(',');
  const value = (r: Row) => get(r) ?? [];
  const text = (r: Row) => textOf(value(r));
  return [
    name,
    {
      name,
      header,
      width: -1,
      json: 'list',
      value,
      text,
      csv: text,
      cellValue: value,
      textOf,
      csvOf: textOf,
    },
  ];
}

/** JSON's text for a finite number is JavaScript's: String(n). */
export const OUT_FIELDS: Readonly<Record<string, OutField>> = Object.fromEntries([
  ...ENTRIES.filter((e) => (SESSION_KEYS as readonly string[]).includes(e.name)).map(
    ({ name, spec }): [string, OutField] => {
      const value = (r: Row) => (r as unknown as Record<string, unknown>)[name];
      const cellValue = spec.text === 'clock' ? (r: Row) => closeMs(r) : value;
      const textOf = styled(spec.text, spec.type);
      const csvOf = styled(spec.text === 'short12' ? undefined : spec.text);
      return [
        name,
        {
          name,
          header: spec.header,
          width: spec.width,
          json: JSON_KIND[spec.type],
          value,
          text: (r) => textOf(cellValue(r)),
          csv: (r) => csvOf(cellValue(r)),
          cellValue,
          textOf,
          csvOf,
        },
      ];
    },
  ),
  [
    'ts',
    {
      name: 'ts',
      header: 'TIME(s)',
      width: -9,
      json: 'num',
      value: (r: Row) => r.ts ?? 0,
      text: (r: Row) => (r.ts ?? 0).toFixed(6),
      csv: (r: Row) => (r.ts ?? 0).toFixed(6),
      cellValue: (r: Row) => r.ts ?? 0,
      textOf: (v: unknown) => (v as number).toFixed(6),
      csvOf: (v: unknown) => (v as number).toFixed(6),
    },
  ],
  listField('rules', 'RULES', (r) => r.rules),
  listField('tags', 'TAGS', (r) => r.tags),
]);

/** Resolves names given to --fields and --group-by (the filter language's aliases allowed). */
export function resolveFields(names: readonly string[]): { fields: string[]; unknown: string[] } {
  const fields: string[] = [];
  const unknown: string[] = [];
  for (const raw of names) {
    const n = raw.trim();
    if (!n) continue;
    if (OUT_FIELDS[n]) {
      fields.push(n);
      continue;
    }
    const f = tcplifeSchema.byName.get(n);
    const spec = f && fieldSpec(f.name);
    const shown = spec && isDerived(spec) && spec.shownAs ? spec.shownAs : f?.name;
    if (shown && OUT_FIELDS[shown]) fields.push(shown);
    else unknown.push(n);
  }
  return { fields, unknown };
}
