/**
 * The field registry: every field of a session, declared once. Everything
 * else is derived from it — the kernel's record (struct event) and its
 * decoder, the Session type, the filter language's schema, the typed
 * builder, the set of fields the kernel can decide, the output columns of
 * every format, and the defaults of a rule file's samples.
 *
 * Adding a field: one entry here (its order is the JSON key order), plus,
 * for a stored field, the line of bpf/templates/tcplife.bpf.c that fills it.
 * See docs/ARCHITECTURE.md.
 */
import { type FieldDef, type FieldType, makeSchema, type Schema } from './schema.js';

/** A stored field's member in the kernel's record. */
export type CType = 'u8' | 'u16' | 'u32' | 'u64' | 'u8[16]' | 'char[16]';

/** A field's type: the language's types, plus the close time, which is output only. */
export type ValueType = FieldType | 'time';

/**
 * How a value is shown in the table and CSV (JSON always has the value):
 * floor: its integer part (KiB, as the original printed them); fixed2: two
 * decimals; yesno: a boolean as yes/no; clock: local HH:MM:SS; short12: the
 * first 12 characters (a container ID, as `docker ps` shows it).
 */
export type TextStyle = 'floor' | 'fixed2' | 'yesno' | 'clock' | 'short12';

interface BaseSpec {
  readonly type: ValueType;
  readonly description: string;
  readonly aliases?: readonly string[];
  /** Table and CSV header. */
  readonly header: string;
  /** Table width; negative: left-aligned. */
  readonly width: number;
  readonly text?: TextStyle;
  /** For an enum: its values; the kernel stores 1 for the first, 2 for the next…, 0 for none. */
  readonly values?: readonly string[];
  /** `-x` adds this column to the table and CSV, at this position (1 first). */
  readonly extended?: number;
  /** `--hist` takes this short name for it, as BCC's tools do (span, tx, rx, rtt). */
  readonly histName?: string;
  /**
   * Recordings made before the field existed lack it: a line with none of
   * these fields reads as these values (replay).
   */
  readonly absentAs?: string | number | boolean;
}

/** A value the kernel puts in the record. */
export interface StoredSpec extends BaseSpec {
  readonly c: CType;
  /**
   * A kernel summary's histogram can count it (--hist made in the kernel):
   * its index in the program's settings.hist_of; 0 is the default, spans.
   */
  readonly kernelHist?: number;
  /** The record member's name, when it is not the field's. */
  readonly member?: string;
  /** The kernel part of a filter can compare it. */
  readonly kernel: boolean;
  /**
   * The same in many sessions in a row (a host's network namespace, a
   * service's cgroup): the fast path keeps its last text to copy.
   */
  readonly repeats?: boolean;
}

/** A value computed from a stored one: from / scale (compared exactly by the filter). */
export interface DerivedSpec extends BaseSpec {
  readonly from: string;
  readonly scale: number;
  /** A bare number is refused: a unit must be written (span > 2s). */
  readonly needsUnit?: boolean;
  /** A view for the filter only, not a session key; --fields shows this field instead. */
  readonly shownAs?: string;
}

/** A string resolved in userspace from a stored value (a cgroup's path from its id). */
export interface ResolvedSpec extends BaseSpec {
  readonly from: string;
  readonly resolve: 'cgroup' | 'container';
}

/**
 * Either of two stored fields, as pcap-filter's `port` and `host`: a positive
 * test holds when it holds for either side (`port == 443`), a negative one
 * when it holds for neither (`port != 22`, `not port == 22`).
 */
export interface EitherSpec extends BaseSpec {
  readonly either: readonly [string, string];
}

export type FieldSpec = StoredSpec | DerivedSpec | ResolvedSpec | EitherSpec;

export const FIELDS = {
  time: {
    type: 'time',
    c: 'u64',
    member: 'ts_ns',
    kernel: false,
    header: 'TIME',
    width: -8,
    text: 'clock',
    description:
      'when the session closed (for a session still open, when the record was made): ISO 8601 in UTC (JSON), local HH:MM:SS (table, CSV)',
  },
  pid: {
    type: 'pid',
    c: 'u32',
    kernel: true,
    header: 'PID',
    width: -7,
    description: 'process ID of the socket owner',
  },
  uid: {
    type: 'int',
    c: 'u32',
    kernel: true,
    header: 'UID',
    width: -6,
    description: 'user ID of the socket owner',
  },
  comm: {
    type: 'string',
    c: 'char[16]',
    kernel: true,
    header: 'COMM',
    width: -16,
    description: 'command name of the socket owner (at most 15 bytes)',
  },
  family: {
    type: 'family',
    c: 'u8',
    kernel: true,
    header: 'IP',
    width: -2,
    description: 'address family: 4 or 6',
  },
  laddr: {
    type: 'addr',
    c: 'u8[16]',
    kernel: true,
    header: 'LADDR',
    width: -15,
    description: 'local address',
  },
  lport: {
    type: 'port',
    c: 'u16',
    kernel: true,
    aliases: ['sport'],
    header: 'LPORT',
    width: -5,
    description: 'local port',
  },
  raddr: {
    type: 'addr',
    c: 'u8[16]',
    kernel: true,
    aliases: ['daddr'],
    header: 'RADDR',
    width: -15,
    description: 'remote address',
  },
  rport: {
    type: 'port',
    c: 'u16',
    kernel: true,
    aliases: ['dport'],
    header: 'RPORT',
    width: -5,
    description: 'remote port',
  },
  tx_b: {
    type: 'size',
    c: 'u64',
    kernel: true,
    aliases: ['tx'],
    header: 'TX_B',
    width: 10,
    description: 'bytes acked by the peer (as the kernel counts: +1 per SYN/FIN)',
    kernelHist: 1,
    histName: 'tx',
  },
  rx_b: {
    type: 'size',
    c: 'u64',
    kernel: true,
    aliases: ['rx'],
    header: 'RX_B',
    width: 10,
    description: 'bytes received (as the kernel counts: +1 for the FIN)',
    kernelHist: 2,
    histName: 'rx',
  },
  tx_kb: {
    type: 'size',
    from: 'tx_b',
    scale: 1024,
    header: 'TX_KB',
    width: 6,
    text: 'floor',
    description: 'tx_b in KiB (a bare number is KiB; compared exactly)',
  },
  rx_kb: {
    type: 'size',
    from: 'rx_b',
    scale: 1024,
    header: 'RX_KB',
    width: 6,
    text: 'floor',
    description: 'rx_b in KiB (a bare number is KiB; compared exactly)',
  },
  span_us: {
    type: 'duration',
    c: 'u64',
    kernel: true,
    header: 'SPAN_US',
    width: 10,
    description: 'session lifespan in microseconds',
    kernelHist: 0,
    histName: 'span',
  },
  span_ms: {
    type: 'duration',
    from: 'span_us',
    scale: 1000,
    aliases: ['ms'],
    header: 'MS',
    width: 9,
    text: 'fixed2',
    description: 'session lifespan in milliseconds (compared exactly)',
  },
  span: {
    type: 'duration',
    from: 'span_us',
    scale: 1,
    needsUnit: true,
    shownAs: 'span_ms',
    header: 'MS',
    width: 9,
    description: 'session lifespan; needs a unit: span > 2s',
  },
  retrans: {
    type: 'int',
    c: 'u32',
    kernel: true,
    header: 'RETRANS',
    width: 7,
    description: 'segments retransmitted (tcp_sock.total_retrans at close)',
    kernelHist: 4,
    extended: 3,
  },
  owner: {
    type: 'bool',
    c: 'u8',
    kernel: true,
    header: 'OWNER',
    width: -5,
    text: 'yesno',
    description:
      "true when pid, comm and uid are the socket owner's; false: the task running at close",
  },
  role: {
    type: 'enum',
    values: ['client', 'server'],
    c: 'u8',
    kernel: true,
    header: 'ROLE',
    width: -6,
    description:
      'client: this side connected (first state SYN_SENT); server: it accepted (SYN_RECV)',
    extended: 1,
  },
  outcome: {
    type: 'enum',
    values: ['closed', 'aborted', 'reset', 'refused', 'timeout', 'error', 'abandoned'],
    c: 'u8',
    kernel: true,
    header: 'OUTCOME',
    width: -8,
    description:
      'how the session ended: closed (orderly), aborted (by this side), reset (by the peer), refused, timeout (the kernel gave up connecting), error, abandoned (this side closed while still connecting: an application timeout)',
    extended: 2,
  },
  rtt_us: {
    type: 'duration',
    c: 'u32',
    kernel: true,
    header: 'RTT_US',
    width: 8,
    description: 'smoothed round-trip time at close in microseconds (0: never measured)',
    kernelHist: 3,
    histName: 'rtt',
  },
  rtt_ms: {
    type: 'duration',
    from: 'rtt_us',
    scale: 1000,
    header: 'RTT_MS',
    width: 8,
    text: 'fixed2',
    description: 'smoothed round-trip time in milliseconds (compared exactly)',
    extended: 4,
  },
  cgroup_id: {
    type: 'int',
    c: 'u64',
    kernel: true,
    header: 'CGROUP_ID',
    width: 10,
    repeats: true,
    description: "the owner's cgroup v2 id: the inode of its directory in the cgroup2 mount",
  },
  cgroup: {
    type: 'string',
    from: 'cgroup_id',
    resolve: 'cgroup',
    header: 'CGROUP',
    width: -30,
    description: "the owner's cgroup, relative to the cgroup2 mount (/system.slice/nginx.service)",
  },
  container: {
    type: 'string',
    from: 'cgroup_id',
    resolve: 'container',
    header: 'CONTAINER',
    width: -12,
    text: 'short12',
    description:
      "the owner's container ID (64 hex digits) from its cgroup: Docker, containerd, CRI-O, Podman",
    extended: 5,
  },
  netns: {
    type: 'int',
    c: 'u32',
    kernel: true,
    header: 'NETNS',
    width: 10,
    repeats: true,
    description: "the socket's network namespace inode (stat -L /run/netns/NAME)",
  },
  event: {
    type: 'enum',
    values: ['close', 'interim', 'exit'],
    c: 'u8',
    kernel: true,
    header: 'EVENT',
    width: -7,
    description:
      'what the record is: close (the session ended), interim (still open: totals so far, --interim), exit (still open when tracing stopped)',
    absentAs: 'close',
  },
  sid: {
    type: 'int',
    c: 'u64',
    kernel: true,
    header: 'SID',
    width: 10,
    description:
      "the session's id: the same in all its records, unique among sessions open at once (the kernel's socket cookie)",
    absentAs: 0,
  },
  start_seen: {
    type: 'bool',
    c: 'u8',
    kernel: true,
    header: 'START',
    width: -5,
    text: 'yesno',
    description:
      'false for a session already open when tracing began: its bytes count from its start, its span from when tracing began',
    absentAs: true,
  },
  port: {
    type: 'port',
    either: ['lport', 'rport'],
    header: 'PORT',
    width: -5,
    description:
      'either port: port == 443 is lport == 443 or rport == 443; port != 22: neither is 22',
  },
  addr: {
    type: 'addr',
    either: ['laddr', 'raddr'],
    aliases: ['host'],
    header: 'ADDR',
    width: -15,
    description:
      'either address: addr in (10.0.0.0/8) is laddr or raddr in it; addr != a: neither is a',
  },
} as const satisfies Record<string, FieldSpec>;

type Fields = typeof FIELDS;

/** The fields a kernel summary's histogram can count (their registry entries say kernelHist). */
export type KernelHistField = {
  [K in keyof Fields]: Fields[K] extends { readonly kernelHist: number } ? K : never;
}[keyof Fields];
export type FieldName = keyof Fields;

/** Keys of a Session (and of a JSON line): every field but the filter-only views. */
export type SessionKey = {
  [K in FieldName]: Fields[K] extends { readonly shownAs: string } | { readonly either: unknown }
    ? never
    : K;
}[FieldName];

type ValueOf<T extends ValueType> = T extends 'family'
  ? 4 | 6
  : T extends 'addr' | 'string' | 'time' | 'enum'
    ? string
    : T extends 'bool'
      ? boolean
      : number;

/**
 * A closed TCP session as tcplife reports it: exactly the keys and values of
 * a JSON line (`time` is the close time in ISO 8601, derived fields carry
 * their fractions).
 */
export type Session = {
  readonly [K in SessionKey]: Fields[K] extends { readonly values: readonly (infer V)[] }
    ? V | ''
    : ValueOf<Fields[K]['type']>;
};

/** Fields the filter language can name (time is output only). */
export type FilterFieldName = {
  [K in FieldName]: Fields[K]['type'] extends 'time' ? never : K;
}[FieldName];

/** A filter field's aliases, as a union of literal names. */
export type AliasOf<K extends FieldName> = Fields[K] extends {
  readonly aliases: readonly (infer A extends string)[];
}
  ? A
  : never;

/** Every name and alias the filter accepts, mapped to its field. */
export type FilterNames = {
  [K in FilterFieldName as K | AliasOf<K>]: Fields[K];
};

/**
 * The close time in milliseconds since the epoch, with the fraction the
 * kernel's clock gave (the ISO `time` keeps milliseconds). Not a JSON key:
 * a symbol, which JSON and Object.keys skip.
 */
export const CLOSE_MS: unique symbol = Symbol('tcplife.closeMs');
export type DecodedSession = Session & { readonly [CLOSE_MS]?: number };

/** The close time in ms, precise when the session was decoded from the kernel. */
export function closeMs(s: DecodedSession): number {
  return s[CLOSE_MS] ?? Date.parse(s.time);
}

export function isStored(f: FieldSpec): f is StoredSpec {
  return 'c' in f;
}

export function isResolved(f: FieldSpec): f is ResolvedSpec {
  return 'resolve' in f;
}

export function isDerived(f: FieldSpec): f is DerivedSpec {
  return 'scale' in f;
}

export function isEither(f: FieldSpec): f is EitherSpec {
  return 'either' in f;
}

export interface Entry {
  readonly name: string;
  readonly spec: FieldSpec;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/** The registry as a list, in declaration order, with its names checked once. */
export const ENTRIES: readonly Entry[] = Object.entries(FIELDS as Record<string, FieldSpec>).map(
  ([name, spec]) => {
    // Names reach generated C and JS source: they must be plain identifiers.
    if (!NAME.test(name)) throw new Error(`field registry: bad field name ${name}`);
    if (isStored(spec) && spec.member && !NAME.test(spec.member))
      throw new Error(`field registry: bad member name ${spec.member}`);
    const bases = isEither(spec) ? spec.either : isStored(spec) ? [] : [spec.from];
    if (bases.some((b) => !isStored((FIELDS as Record<string, FieldSpec>)[b]!)))
      throw new Error(`field registry: ${name} derives from ${bases.join(', ')}, not stored`);
    if (spec.type === 'enum' && !(spec.values?.length && isStored(spec) && spec.c === 'u8'))
      throw new Error(`field registry: enum ${name} needs values and a u8`);
    for (const v of spec.values ?? [])
      if (!NAME.test(v)) throw new Error(`field registry: bad value ${v} of ${name}`);
    return { name, spec };
  },
);

export const SESSION_KEYS: readonly SessionKey[] = ENTRIES.filter(
  (e) => !isEither(e.spec) && (!isDerived(e.spec) || e.spec.shownAs === undefined),
).map((e) => e.name as SessionKey);

export function fieldSpec(name: string): FieldSpec | undefined {
  return Object.hasOwn(FIELDS, name) ? (FIELDS as Record<string, FieldSpec>)[name] : undefined;
}

const MAX: Readonly<Record<CType, number>> = {
  u8: 0xff,
  u16: 0xffff,
  u32: 0xffff_ffff,
  u64: Number.MAX_SAFE_INTEGER,
  'u8[16]': Number.MAX_SAFE_INTEGER,
  'char[16]': Number.MAX_SAFE_INTEGER,
};

function stored(name: string): StoredSpec {
  return fieldSpec(name) as StoredSpec;
}

function isFilterType(t: ValueType): t is FieldType {
  return t !== 'time';
}

/** The filter language's schema, derived from the registry. */
export const tcplifeSchema: Schema = makeSchema(
  ENTRIES.flatMap(({ name, spec }): FieldDef[] => {
    if (!isFilterType(spec.type)) return [];
    const common = {
      name,
      type: spec.type,
      aliases: spec.aliases ?? [],
      description: spec.description,
      ...(spec.values ? { values: spec.values } : {}),
    };
    if (isResolved(spec))
      return [{ ...common, key: name, scale: 1, bareNumbers: true, max: MAX['char[16]'] }];
    if (isEither(spec)) {
      const [a, b] = spec.either;
      return [
        { ...common, key: a, either: [a, b], scale: 1, bareNumbers: true, max: MAX[stored(a).c] },
      ];
    }
    const base = isStored(spec) ? { name, spec } : { name: spec.from, spec: stored(spec.from) };
    return [
      {
        ...common,
        key: base.name,
        scale: isDerived(spec) ? spec.scale : 1,
        bareNumbers: !(isDerived(spec) && spec.needsUnit),
        max: MAX[base.spec.c],
        ...(base.spec.c === 'char[16]' ? { maxBytes: 15 } : {}),
      },
    ];
  }),
);

/** How the kernel compares a stored field, if it can (an enum as its code). */
export type KernelKind = 'num' | 'port' | 'addr' | 'comm' | 'enum';

/** Record keys the kernel part of a filter may compare, and how. */
export const KERNEL_KEYS: ReadonlyMap<string, KernelKind> = new Map(
  ENTRIES.flatMap(({ name, spec }): [string, KernelKind][] => {
    if (!isStored(spec) || !spec.kernel) return [];
    const kind: KernelKind =
      spec.type === 'port'
        ? 'port'
        : spec.type === 'addr'
          ? 'addr'
          : spec.type === 'string'
            ? 'comm'
            : spec.type === 'enum'
              ? 'enum'
              : 'num';
    return [[name, kind]];
  }),
);

/** An enum value's code in the kernel's record: 1 for the first value; 0 is none. */
export function enumCode(key: string, value: string): number {
  const values = fieldSpec(key)?.values ?? [];
  const i = values.indexOf(value);
  if (i < 0) throw new Error(`${value} is not a value of ${key}`);
  return i + 1;
}

/**
 * A rule file's sample session before its own fields are applied: every
 * stored or resolved filter field at its zero (numbers 0, false, strings and enums
 * empty, addresses 0.0.0.0, family 4).
 */
export function sampleDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name, spec } of ENTRIES) {
    if (!(isStored(spec) || isResolved(spec)) || !isFilterType(spec.type)) continue;
    out[name] =
      spec.type === 'string' || spec.type === 'enum'
        ? ''
        : spec.type === 'addr'
          ? '0.0.0.0'
          : spec.type === 'family'
            ? 4
            : spec.type === 'bool'
              ? false
              : 0;
  }
  return out;
}

/**
 * What a session is made from: its stored values (`time` in ms since the
 * epoch) and its resolved ones (which need the host to compute).
 */
export type StoredValues = {
  readonly [K in SessionKey as Fields[K] extends StoredSpec | ResolvedSpec
    ? K
    : never]: K extends 'time' ? number : Session[K];
};

/**
 * A Session from its stored and resolved values, derived fields computed as
 * the decoder computes them (for tests, fixtures and sources other than the
 * kernel).
 */
export function sessionOf(v: StoredValues): DecodedSession {
  const src = v as unknown as Record<string, unknown>;
  const out: Record<string | symbol, unknown> = {};
  for (const { name, spec } of ENTRIES) {
    if (isEither(spec)) continue;
    if (isDerived(spec)) {
      if (spec.shownAs === undefined) out[name] = (src[spec.from] as number) / spec.scale;
    } else
      out[name] = spec.type === 'time' ? new Date(Math.floor(v.time)).toISOString() : src[name];
  }
  out[CLOSE_MS] = v.time;
  return out as DecodedSession;
}
