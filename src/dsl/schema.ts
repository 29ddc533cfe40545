/**
 * Fields come from a schema object, so another event source can reuse the
 * language with its own fields. A field reads one key of the event record
 * (`key`); derived fields (tx_kb, span_ms) read the same key with a scale,
 * so comparisons stay exact: `tx_kb > 10` is `tx_b > 10240`.
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
  | 'duration';

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

const U32 = 0xffff_ffff;
const U64 = Number.MAX_SAFE_INTEGER;

function field(
  name: string,
  type: FieldType,
  description: string,
  opts: Partial<
    Pick<FieldDef, 'key' | 'scale' | 'bareNumbers' | 'max' | 'maxBytes' | 'aliases'>
  > = {},
): FieldDef {
  return {
    name,
    type,
    description,
    key: opts.key ?? name,
    scale: opts.scale ?? 1,
    bareNumbers: opts.bareNumbers ?? true,
    max: opts.max ?? U64,
    aliases: opts.aliases ?? [],
    ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
  };
}

/** The fields of a tcplife session. */
export const tcplifeSchema: Schema = makeSchema([
  field('pid', 'pid', 'process ID of the socket owner', { max: U32 }),
  field('uid', 'int', 'user ID of the socket owner', { max: U32 }),
  field('comm', 'string', 'command name of the socket owner (at most 15 bytes)', {
    maxBytes: 15,
  }),
  field('family', 'family', 'address family: 4 or 6'),
  field('laddr', 'addr', 'local address'),
  field('lport', 'port', 'local port', { aliases: ['sport'], max: 65535 }),
  field('raddr', 'addr', 'remote address', { aliases: ['daddr'] }),
  field('rport', 'port', 'remote port', { aliases: ['dport'], max: 65535 }),
  field('tx_b', 'size', 'bytes acked by the peer (as the kernel counts: +1 per SYN/FIN)', {
    aliases: ['tx'],
  }),
  field('rx_b', 'size', 'bytes received (as the kernel counts: +1 for the FIN)', {
    aliases: ['rx'],
  }),
  field('tx_kb', 'size', 'tx_b in KiB (a bare number is KiB; compared exactly)', {
    key: 'tx_b',
    scale: 1024,
  }),
  field('rx_kb', 'size', 'rx_b in KiB (a bare number is KiB; compared exactly)', {
    key: 'rx_b',
    scale: 1024,
  }),
  field('span_us', 'duration', 'session lifespan in microseconds'),
  field('span_ms', 'duration', 'session lifespan in milliseconds (compared exactly)', {
    key: 'span_us',
    scale: 1000,
    aliases: ['ms'],
  }),
  field('span', 'duration', 'session lifespan; needs a unit: span > 2s', {
    key: 'span_us',
    bareNumbers: false,
  }),
]);

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
