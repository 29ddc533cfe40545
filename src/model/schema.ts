/**
 * What the filter language needs to know of a field, whatever source of
 * events it comes from. A field reads one key of the event record (`key`);
 * derived fields (tx_kb, span_ms) read the same key with a scale, so
 * comparisons stay exact: `tx_kb > 10` is `tx_b > 10240`. tcplife's schema is
 * derived from its field registry (fields.ts); another event source can make
 * its own with makeSchema.
 */

export type FieldType =
  /** unsigned integer */
  | 'int'
  | 'pid'
  | 'port'
  /** 4 or 6 */
  | 'family'
  | 'addr'
  | 'string'
  /** bytes */
  | 'size'
  /** microseconds */
  | 'duration'
  /** one of a fixed set of words (FieldDef.values), written bare or quoted */
  | 'enum'
  /** true or false (stored as 1 or 0) */
  | 'bool';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  /** The event key holding the value in base units (bytes, µs). */
  readonly key: string;
  /** What a bare number means in base units: 1024 for *_kb, 1000 for span_ms. */
  readonly scale: number;
  /** False for `span`: it needs a unit (`span > 2s`). */
  readonly bareNumbers: boolean;
  /** Largest value the key can hold (for range checks). */
  readonly max: number;
  /** For strings: longest value in bytes. */
  readonly maxBytes?: number;
  /** For enums: the values, in the order of their codes (1, 2, …; 0 is none). */
  readonly values?: readonly string[];
  /** Either of these keys (pcap's `port`): key is the first; a test holds for either side. */
  readonly either?: readonly [string, string];
  readonly aliases: readonly string[];
  readonly description: string;
}

export interface Schema {
  readonly fields: readonly FieldDef[];
  /** name or alias → field */
  readonly byName: ReadonlyMap<string, FieldDef>;
}

export function makeSchema(fields: readonly FieldDef[]): Schema {
  const byName = new Map<string, FieldDef>();
  for (const f of fields) {
    for (const n of [f.name, ...f.aliases]) {
      if (byName.has(n)) throw new Error(`schema: duplicate field name ${n}`);
      byName.set(n, f);
    }
  }
  return { fields, byName };
}

/** Size units in bytes. KB/MB/GB/TB mean the binary units, as the *_kb fields do. */
export const SIZE_UNITS = {
  B: 1,
  KiB: 1024,
  KB: 1024,
  MiB: 1024 ** 2,
  MB: 1024 ** 2,
  GiB: 1024 ** 3,
  GB: 1024 ** 3,
  TiB: 1024 ** 4,
  TB: 1024 ** 4,
} as const;
export type SizeUnit = keyof typeof SIZE_UNITS;

/** Duration units in microseconds. */
export const DURATION_UNITS = {
  us: 1,
  µs: 1,
  ms: 1000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
} as const;
export type DurationUnit = keyof typeof DURATION_UNITS;
