/**
 * The decoder of the kernel's records, generated from the field registry:
 * one specialised function that reads every member at its offset (no loop
 * over fields, no BigInt, no intermediate arrays for IPv4) and returns a
 * Session whose keys are in registry order, derived fields included. The
 * generated text is built from the registry's checked names and computed
 * offsets only.
 */
import { formatAddr } from './addr.js';
import {
  CLOSE_MS,
  type DecodedSession,
  ENTRIES,
  isDerived,
  isResolved,
  isStored,
  type ResolvedSpec,
} from './fields.js';
import { member, RECORD_MEMBERS, RECORD_SIZE } from './record.js';
import { bytesToText } from './text.js';

export type Decoder = (
  dv: DataView,
  off: number,
  len: number,
  monoOffsetMs: number,
) => DecodedSession;

/** u64 as a number without a BigInt (exact below 2^53: counters and spans are). */
function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 4294967296;
}

const commBytes = new Uint8Array(16);

/**
 * A NUL-terminated char[16]: ASCII fast; anything else (bytes ≥ 0x80, a
 * backslash) through the lossless text form, in which bytes that are not
 * UTF-8 read \xHH (the kernel keeps whatever a process set, cut at 15 bytes).
 */
function chars(dv: DataView, c: number): string {
  let s = '';
  let plain = true;
  let n = 0;
  for (; n < 16; n++) {
    const b = dv.getUint8(c + n);
    if (b === 0) break;
    if (b >= 0x80 || b === 0x5c) plain = false;
    commBytes[n] = b;
    s += String.fromCharCode(b);
  }
  return plain ? s : bytesToText(commBytes.subarray(0, n));
}

function addr(dv: DataView, off: number, family: 4 | 6): string {
  if (family === 4) {
    return `${dv.getUint8(off)}.${dv.getUint8(off + 1)}.${dv.getUint8(off + 2)}.${dv.getUint8(off + 3)}`;
  }
  const bytes: number[] = new Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = dv.getUint8(off + i);
  return formatAddr({ family, bytes });
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

function read(name: string): string {
  const m = member(name);
  const at = `off + ${m.offset}`;
  switch (m.spec.type) {
    case 'family':
      return `dv.getUint8(${at}) === 6 ? 6 : 4`;
    case 'addr':
      return `addr(dv, ${at}, v_family)`;
    case 'string':
      return `chars(dv, ${at})`;
    case 'bool':
      return `dv.getUint8(${at}) !== 0`;
    case 'enum':
      // code 0 (none) and codes this version does not know read as ''
      return `enums.${name}[dv.getUint8(${at})] ?? ''`;
    case 'time':
      // CLOCK_MONOTONIC ns → wall-clock ms
      return `u64(dv, ${at}) / 1e6 + mono`;
    default:
      return integerRead(name);
  }
}

/**
 * The expression that reads a stored integer member (u8 to u64) of the
 * record at `off` of `dv` as a number: generated code's, here and in the
 * fast path's line writers.
 */
export function integerRead(name: string): string {
  const m = member(name);
  const at = `off + ${m.offset}`;
  switch (m.spec.c) {
    case 'u8':
      return `dv.getUint8(${at})`;
    case 'u16':
      return `dv.getUint16(${at}, true)`;
    case 'u32':
      return `dv.getUint32(${at}, true)`;
    case 'u64':
      return `(dv.getUint32(${at}, true) + dv.getUint32(${at} + 4, true) * 4294967296)`;
    default:
      throw new Error(`cannot decode ${name} (${m.spec.c})`);
  }
}

/** Each enum field's values by code: 0 is none (''), 1 the first value… */
const ENUMS = Object.fromEntries(
  ENTRIES.flatMap(({ name, spec }) => (spec.values ? [[name, ['', ...spec.values]]] : [])),
);

/** Reads one field of a record: its value as a Session has it, but a time as ms. */
export type FieldReader = (dv: DataView, off: number, mono: number) => unknown;

/**
 * A reader of one session key, for writers that need no Session (the fast
 * path, pipeline/fast.ts): the same generated reads as the decoder's.
 */
export function fieldReader(name: string, resolvers: Resolvers = NO_RESOLVERS): FieldReader {
  const spec = ENTRIES.find((e) => e.name === name)?.spec;
  if (!spec) throw new Error(`no field ${name}`);
  const base = isStored(spec) ? name : isDerived(spec) || isResolved(spec) ? spec.from : undefined;
  if (base === undefined) throw new Error(`${name} is not read from the record`);
  const m = member(base);
  const family = m.spec.type === 'addr' ? `const v_family = ${read(member('family').field)};` : '';
  const value = isDerived(spec)
    ? `(${read(base)}) / ${spec.scale}`
    : isResolved(spec)
      ? `resolve.${spec.resolve}(${read(base)})`
      : read(base);
  return new Function(
    'u64',
    'chars',
    'addr',
    'enums',
    'resolve',
    `return function read(dv, off, mono) { ${family} return ${value}; };`,
  )(u64, chars, addr, ENUMS, resolvers) as FieldReader;
}

/** Userspace lookups for resolved fields (a cgroup's path from its id). */
export type Resolvers = Readonly<Record<ResolvedSpec['resolve'], (value: number) => string>> & {
  /**
   * Whether the answers for this value, once asked, are for good, so that a
   * writer may keep their text for the next record with that value (absent:
   * never kept; a lookup that failed for a passing reason is asked again).
   */
  readonly final?: (value: number) => boolean;
};

/** Resolvers that know nothing: every resolved field is '', for good. */
export const NO_RESOLVERS: Resolvers = { cgroup: () => '', container: () => '', final: () => true };

/** The decoder, generated for this registry, with these resolvers. */
export function makeDecoder(resolvers: Resolvers = NO_RESOLVERS): Decoder {
  // Locals first (family before the addresses that need it), then one object literal.
  const stored = [...RECORD_MEMBERS].sort(
    (a, b) => Number(b.spec.type === 'family') - Number(a.spec.type === 'family'),
  );
  const lines = stored.map((m) => `const v_${m.field} = ${read(m.field)};`);
  let time: string | undefined;
  const props = ENTRIES.flatMap(({ name, spec }) => {
    if (isStored(spec)) {
      if (spec.type !== 'time') return [`${name}: v_${name}`];
      time = `v_${name}`;
      return [`${name}: iso(v_${name})`];
    }
    if (isResolved(spec)) return [`${name}: resolve.${spec.resolve}(v_${spec.from})`];
    if (!isDerived(spec) || spec.shownAs !== undefined) return []; // views for the filter only
    return [`${name}: v_${spec.from} / ${spec.scale}`];
  });
  if (time) props.push(`[CLOSE]: ${time}`);
  const body = `return function decode(dv, off, len, mono) {
  if (len !== ${RECORD_SIZE}) throw new Error('event record of ' + len + ' bytes, expected ${RECORD_SIZE}');
  ${lines.join('\n  ')}
  return { ${props.join(', ')} };
};`;
  return new Function('u64', 'chars', 'addr', 'iso', 'CLOSE', 'enums', 'resolve', body)(
    u64,
    chars,
    addr,
    isoTime,
    CLOSE_MS,
    ENUMS,
    resolvers,
  ) as Decoder;
}
