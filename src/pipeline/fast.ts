/**
 * The fast path: kernel records straight to output bytes, for the common
 * case of printing every session the kernel sends (no userspace predicate,
 * no rules, no summaries). No Session object is made and no line string is
 * built: each record's fields are read from the ring where they lie and
 * written into one buffer, which goes to the output when full or when a
 * drain ends.
 *
 * It follows the formats' layout (formatters.ts: layoutOf) and each field's
 * own text functions, so its bytes are the Session path's by construction;
 * a test compares the two on random records in every format. What it saves:
 * integers are written digit by digit; the texts that repeat (a comm, an
 * address, a cgroup, an enum, the time within a millisecond) are encoded
 * once and copied; floats go through String() as JSON has them.
 */
import {
  type FieldReader,
  fieldReader,
  integerRead,
  isoTime,
  type Resolvers,
} from '../model/decode.js';
import { ENTRIES, fieldSpec, isDerived, isResolved, isStored } from '../model/fields.js';
import { ROW_ONLY_FIELDS } from '../model/output.js';
import { member, RECORD_SIZE } from '../model/record.js';
import { OUT_FIELDS } from './fields.js';
import {
  type Column,
  cell,
  csvQuote,
  dataCsvCell,
  type FormatOptions,
  type Layout,
  layoutOf,
  trimsEnd,
} from './formatters.js';

/** Takes a chunk of output (whole lines) at once; the bytes are reused after it returns. */
export type ByteSink = (bytes: Uint8Array, lines: number) => void;

/** A drain's lines go out in writes of this much (a storm's 50 ms of JSON lines: 3 writes). */
const SIZE = 1 << 18;
/** Cached texts per field before the cache starts again (cgroups, comms, addresses). */
const CACHE_MAX = 4096;
const enc = new TextEncoder();

class Out {
  buf = new Uint8Array(SIZE);
  /** The same bytes, for the generated writers' stores of 2 and 4 constant bytes at once. */
  bv = new DataView(this.buf.buffer);
  p = 0;
  lines = 0;
  constructor(
    private readonly sink: ByteSink,
    /** Kept free beyond what is asked: the room of the writers with a bound. */
    private readonly reserve: number,
  ) {}

  /** Room for n more bytes of the current line, which moves to the front if need be. */
  need(n: number, lineStart: number): number {
    n += this.reserve;
    if (this.p + n <= this.buf.length) return lineStart;
    const partial = this.buf.slice(lineStart, this.p);
    this.p = lineStart;
    this.flush();
    if (partial.length + n > this.buf.length) {
      this.buf = new Uint8Array(2 * (partial.length + n));
      this.bv = new DataView(this.buf.buffer);
    }
    this.buf.set(partial, 0);
    this.p = partial.length;
    return 0;
  }

  /** While set, what is flushed is dropped (the made-up records of warm). */
  muted = false;

  flush(): void {
    if (this.p > 0 && !this.muted) this.sink(this.buf.subarray(0, this.p), this.lines);
    this.p = 0;
    this.lines = 0;
  }
}

/**
 * Writes a field of a record, after its constant prefix (a JSON key, a
 * separator); returns where the current line now starts. A writer with a
 * bound on its bytes relies on the room the record asked for at its start;
 * one without asks for room itself.
 */
type Writer = (o: Out, dv: DataView, off: number, mono: number, line: number) => number;

interface Part {
  readonly write: Writer;
  /** most bytes it writes, prefix included; undefined: no bound */
  readonly max: number | undefined;
  /** What the generated line writer does instead of calling write (lineWriter). */
  readonly inline?: Inline;
}

/**
 * A part as straight-line code: an integer's digits after a constant
 * prefix; a scaled number's (below its exact limit, else write); or, for a
 * field whose text is a function of one byte of the record (an enum, a
 * bool), that text looked up by the byte.
 */
type Inline =
  | {
      readonly kind: 'uint';
      readonly pre: Uint8Array;
      readonly read: string;
      readonly of: string;
      /** its last text, kept when the field's spec says it repeats */
      readonly last: LastText | undefined;
    }
  | {
      readonly kind: 'scaled';
      readonly pre: Uint8Array;
      readonly read: string;
      /** the stored field it is read from */
      readonly of: string;
      readonly scale: 1000 | 1024;
      readonly limit: number;
    }
  | { readonly kind: 'byte'; readonly at: number }
  | { readonly kind: 'key16'; readonly at: number; readonly table: KeyedTexts }
  | { readonly kind: 'time'; readonly read: string; readonly last: LastText }
  | { readonly kind: 'resolved'; readonly read: string; readonly last: LastText };

/**
 * The text of the last value written (a time's whole milliseconds, an
 * integer that repeats), as words (length -1: none kept).
 */
interface LastText {
  readonly value: Float64Array;
  readonly words: Uint32Array;
  readonly length: Int16Array;
}

function lastText(): LastText {
  return {
    value: new Float64Array([Number.NaN]),
    words: new Uint32Array(KEYED_MAX / 4),
    length: new Int16Array([-1]),
  };
}

function putBytes(o: Out, b: Uint8Array): void {
  const buf = o.buf;
  const p = o.p;
  if (b.length > 24) buf.set(b, p);
  else for (let i = 0; i < b.length; i++) buf[p + i] = b[i]!;
  o.p = p + b.length;
}

/** A string: ASCII byte by byte, anything else as UTF-8 (room for 3 bytes a char is asked first). */
function putString(o: Out, s: string, line: number): number {
  line = o.need(3 * s.length, line);
  const buf = o.buf;
  let p = o.p;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      p += enc.encodeInto(s.slice(i), buf.subarray(p)).written;
      break;
    }
    buf[p++] = c;
  }
  o.p = p;
  return line;
}

function digitCount(n: number): number {
  if (n < 100000) {
    if (n < 100) return n < 10 ? 1 : 2;
    if (n < 1000) return 3;
    return n < 10000 ? 4 : 5;
  }
  if (n < 10000000000) {
    if (n < 10000000) return n < 1000000 ? 6 : 7;
    if (n < 100000000) return 8;
    return n < 1000000000 ? 9 : 10;
  }
  let d = 10;
  let m = Math.floor(n / 10000000000);
  while (m > 0) {
    m = Math.floor(m / 10);
    d++;
  }
  return d;
}

/** "00" to "99": two digits a division. */
const PAIRS = enc.encode(
  Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''),
);

/** A non-negative safe integer as String() writes it: digits from the last. */
function putUint(o: Out, n: number): void {
  o.p = putUintAt(o.buf, o.p, n);
}

/** putUint at p of buf; returns the position after the digits. */
function putUintAt(buf: Uint8Array, at: number, n: number): number {
  const end = at + digitCount(n);
  let p = end;
  let m = n;
  if (m > 0x7fffffff) {
    // the last 8 digits from an int (zero-padded), then the rest
    const hi = Math.floor(m / 100000000);
    let lo = (m - hi * 100000000) | 0;
    for (let i = 0; i < 4; i++) {
      const q = (lo / 100) | 0;
      const r = (lo - q * 100) << 1;
      buf[--p] = PAIRS[r + 1]!;
      buf[--p] = PAIRS[r]!;
      lo = q;
    }
    m = hi; // below 2^31: n is a safe integer
  }
  let i = m | 0;
  while (i >= 100) {
    const q = (i / 100) | 0;
    const r = (i - q * 100) << 1;
    buf[--p] = PAIRS[r + 1]!;
    buf[--p] = PAIRS[r]!;
    i = q;
  }
  if (i >= 10) {
    buf[--p] = PAIRS[(i << 1) + 1]!;
    buf[--p] = PAIRS[i << 1]!;
  } else buf[--p] = 48 + i;
  return end;
}

function putSpaces(o: Out, n: number): void {
  for (let i = 0; i < n; i++) o.buf[o.p++] = 0x20;
}

/** How a field's value becomes its text in one layout. */
type Mode = 'json' | 'dataCsv' | 'classicCsv' | 'table';

/** Whether a field's record value is an integer whose text in this mode is String(v). */
function plainInteger(name: string, mode: Mode): boolean {
  const spec = fieldSpec(name);
  if (!spec || !isStored(spec) || spec.type === 'bool' || spec.type === 'enum') return false;
  if (spec.c !== 'u8' && spec.c !== 'u16' && spec.c !== 'u32' && spec.c !== 'u64') return false;
  if (spec.type === 'time') return false;
  return mode === 'json' || mode === 'dataCsv' || spec.text === undefined;
}

/** The text of a field's record value in a mode: exactly what the Session path writes. */
function textFn(name: string, mode: Mode, col?: Column): (v: unknown) => string {
  const f = OUT_FIELDS[name]!;
  // The time is read as ms: JSON and data CSV have its ISO text, the original's layouts a clock.
  const value = name === 'time' ? (v: unknown) => isoTime(v as number) : (v: unknown) => v;
  switch (mode) {
    case 'json':
      switch (f.json) {
        case 'str':
          return (v) => JSON.stringify(value(v));
        case 'plain':
          return (v) => `"${value(v)}"`;
        case 'bool':
          return (v) => (v ? 'true' : 'false');
        default:
          return (v) => String(value(v));
      }
    case 'dataCsv':
      return (v) => dataCsvCell(value(v));
    case 'classicCsv':
      return (v) => csvQuote(f.csvOf(v));
    case 'table': {
      const c = col!;
      return (v) => {
        const t = f.textOf(v);
        return cell(c.maxLen !== undefined ? t.slice(0, c.maxLen) : t, c.width);
      };
    }
  }
}

/**
 * The text after the whole part of rest ÷ scale, for each rest: the point
 * and the exact decimal digits, trailing zeros dropped ('' for 0): the
 * fraction as a zero-padded integer of 3 (÷1000) or 10 (÷1024) digits.
 * The whole part's digits and then these are what String() writes for a
 * number divided by 1000 or 1024 (ms from µs, KiB from bytes) while the
 * quotient's doubles are closer together than its decimals (below 2^40
 * for 1000, 2^19 for 1024): no shorter decimal then reads back as the
 * same double. Larger values go through String().
 */
function fractions(scale: 1000 | 1024): Uint8Array[] {
  const texts: Uint8Array[] = [new Uint8Array(0)];
  for (let rest = 1; rest < scale; rest++) {
    const digits = String(scale === 1000 ? rest : rest * 9765625).padStart(
      scale === 1000 ? 3 : 10,
      '0',
    );
    texts.push(enc.encode(`.${digits.replace(/0+$/, '')}`));
  }
  return texts;
}

/**
 * fractions(scale) as words, made when a writer of ms or KiB is (not at
 * start-up: most commands write none). Not kept as texts: 2,024 small
 * arrays, each with its own buffer, held some 0.7 MiB.
 */
const FRACTIONS: { 1000?: WordTexts; 1024?: WordTexts } = {};

function fractionWords(scale: 1000 | 1024): WordTexts {
  FRACTIONS[scale] ??= wordTexts(fractions(scale));
  return FRACTIONS[scale];
}

const SCALED_EXACT = { 1000: 2 ** 40, 1024: 2 ** 19 } as const;

function fieldPart(
  prefix: string,
  name: string,
  mode: Mode,
  resolvers: Resolvers,
  col?: Column,
): Part {
  const pre = enc.encode(prefix);
  const read: FieldReader = fieldReader(name, resolvers);
  const width = col?.width ?? 0;
  const spec = fieldSpec(name);
  if (plainInteger(name, mode) && col?.maxLen === undefined) {
    return {
      max: pre.length + 24 + Math.abs(width),
      inline:
        width === 0
          ? {
              kind: 'uint',
              pre,
              read: integerRead(name),
              of: name,
              last: isStored(spec!) && spec.repeats ? lastText() : undefined,
            }
          : undefined,
      write: (o, dv, off, mono, line) => {
        putBytes(o, pre);
        const n = read(dv, off, mono) as number;
        if (width > 0) {
          putSpaces(o, width - digitCount(n));
          putUint(o, n);
        } else if (width < 0) {
          const start = o.p;
          putUint(o, n);
          putSpaces(o, -width - (o.p - start));
        } else putUint(o, n);
        return line;
      },
    };
  }
  const text = textFn(name, mode, col);
  if (
    (mode === 'json' || mode === 'dataCsv') &&
    spec &&
    isDerived(spec) &&
    (spec.scale === 1000 || spec.scale === 1024) &&
    isStored(fieldSpec(spec.from)!)
  ) {
    // ms and KiB: JSON's number text, digit by digit in the line writer
    // (fractions()); past the exact range, String()'s.
    const scale = spec.scale;
    return {
      max: undefined,
      inline: {
        kind: 'scaled',
        pre,
        read: integerRead(spec.from),
        of: spec.from,
        scale,
        limit: SCALED_EXACT[scale] * scale,
      },
      write: (o, dv, off, mono, line) => putString(o, prefix + text(read(dv, off, mono)), line),
    };
  }
  const repeats =
    name === 'time' ||
    spec?.type === 'string' ||
    spec?.type === 'addr' ||
    spec?.type === 'enum' ||
    spec?.type === 'bool';
  if (!repeats) {
    // Other floats and the rest: their text, as the Session path makes it.
    return {
      max: undefined,
      write: (o, dv, off, mono, line) => putString(o, prefix + text(read(dv, off, mono)), line),
    };
  }
  if (name === 'time') {
    // Texts of a time depend on its whole milliseconds only (ISO, clock): the
    // last one is kept as words for the line writer, which reads the time itself.
    const last = lastText();
    let bytes = new Uint8Array(0);
    const textOf = (ms: number) => enc.encode(prefix + text(ms));
    // Within a second the text stays (a clock) or only its milliseconds' digits move (ISO).
    const shape = secondShape(textOf);
    return {
      max: undefined,
      inline: isStored(spec!) ? { kind: 'time', read: integerRead(name), last } : undefined,
      write: (o, dv, off, mono, line) => {
        const ms = read(dv, off, mono) as number;
        const whole = Math.floor(ms);
        const prev = last.value[0]!;
        if (whole !== prev) {
          last.value[0] = whole;
          if (shape === undefined || Math.floor(whole / 1000) !== Math.floor(prev / 1000))
            bytes = textOf(ms);
          else if (shape !== 'same') {
            const d = whole % 1000;
            bytes[shape] = 48 + Math.floor(d / 100);
            bytes[shape + 1] = 48 + (Math.floor(d / 10) % 10);
            bytes[shape + 2] = 48 + (d % 10);
          }
          last.length[0] = keepWords(last.words, 0, bytes);
        }
        line = o.need(bytes.length, line);
        putBytes(o, bytes);
        return line;
      },
    };
  }
  if (spec && isStored(spec) && (spec.c === 'char[16]' || spec.c === 'u8[16]'))
    return bytesKeyed(name, read, (v) => prefix + text(v));
  const bytesOf = cachedTexts((v) => prefix + text(v));
  if (spec && isResolved(spec) && isStored(fieldSpec(spec.from)!)) {
    // A cgroup's path, a container: the text of the id's answer, kept for
    // the line writer while the id stays, if the answer is for good.
    const id = fieldReader(spec.from, resolvers);
    const resolve = resolvers[spec.resolve];
    const last = lastText();
    return {
      max: undefined,
      inline: { kind: 'resolved', read: integerRead(spec.from), last },
      write: (o, dv, off, mono, line) => {
        const n = id(dv, off, mono) as number;
        const bytes = bytesOf(resolve(n));
        last.value[0] = n;
        last.length[0] = resolvers.final?.(n) ? keepWords(last.words, 0, bytes) : -1;
        line = o.need(bytes.length, line);
        putBytes(o, bytes);
        return line;
      },
    };
  }
  const byte =
    spec && isStored(spec) && spec.c === 'u8' && (spec.type === 'enum' || spec.type === 'bool');
  return {
    max: undefined,
    inline: byte ? { kind: 'byte', at: member(name).offset } : undefined,
    write: (o, dv, off, mono, line) => {
      const bytes = bytesOf(read(dv, off, mono));
      line = o.need(bytes.length, line);
      putBytes(o, bytes);
      return line;
    },
  };
}

/**
 * How a time's text moves within one second: not at all ('same': a clock),
 * or only in three digits of its milliseconds at this offset (ISO);
 * undefined when neither holds, as tried on a few times.
 */
function secondShape(textOf: (ms: number) => Uint8Array): 'same' | number | undefined {
  let at: number | 'same' | undefined;
  for (const second of [1_700_000_000_000, 1_767_225_599_000, 86_399_000]) {
    const base = textOf(second);
    // milliseconds none of whose digits is 0: all three differ from the whole second's
    for (const x of [111, 234, 567, 999.6]) {
      const t = textOf(second + x);
      if (t.length !== base.length) return undefined;
      const differ: number[] = [];
      for (let i = 0; i < t.length; i++) if (t[i] !== base[i]) differ.push(i);
      let here: number | 'same';
      if (differ.length === 0) here = 'same';
      else {
        const first = differ[0]!;
        const digits = String(Math.floor(x)).padStart(3, '0');
        for (let k = 0; k < 3; k++)
          if (t[first + k] !== digits.charCodeAt(k) || base[first + k] !== 48) return undefined;
        if (differ.some((i) => i >= first + 3)) return undefined;
        here = first;
      }
      if (at === undefined) at = here;
      else if (at !== here) return undefined;
    }
  }
  return at;
}

/** A value's text as bytes, made once (up to CACHE_MAX values, then anew). */
function cachedTexts(text: (v: unknown) => string): (v: unknown) => Uint8Array {
  const cache = new Map<unknown, Uint8Array>();
  let lastValue: unknown = cache; // no value is this Map
  let lastBytes: Uint8Array | undefined;
  return (v) => {
    // the last value first: sessions in a burst share a cgroup, a role
    let bytes = v === lastValue ? lastBytes : cache.get(v);
    if (!bytes) {
      if (cache.size >= CACHE_MAX) cache.clear();
      bytes = enc.encode(text(v));
      cache.set(v, bytes);
    }
    lastValue = v;
    lastBytes = bytes;
    return bytes;
  };
}

const SLOTS = 1024;
/** Texts of a 16-byte field kept as words up to this many bytes (a longer one is written from its bytes). */
const KEYED_MAX = 64;

/** The bytes of a text as little-endian words from words[start] on, the last one zero-padded. */
function storeWords(words: Uint32Array, start: number, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i += 4)
    words[start + i / 4] =
      ((bytes[i] ?? 0) |
        ((bytes[i + 1] ?? 0) << 8) |
        ((bytes[i + 2] ?? 0) << 16) |
        ((bytes[i + 3] ?? 0) << 24)) >>>
      0;
}

/**
 * A cached text kept as words (KEYED_MAX bytes a slot from words[start]);
 * returns its length, or -1 when it is not kept (empty, or too long).
 */
function keepWords(words: Uint32Array, start: number, bytes: Uint8Array): number {
  if (bytes.length === 0 || bytes.length > KEYED_MAX) return -1;
  words.fill(0, start, start + KEYED_MAX / 4);
  storeWords(words, start, bytes);
  return bytes.length;
}

/**
 * The texts of a field stored as 16 bytes (a comm, an address), cached by
 * those bytes and the family in a direct-mapped table, each as whole
 * little-endian words: a repeated value costs five loads, a compare and a
 * store a word, not a string. The line writer inlines the lookup; its
 * write makes and caches a text the table lacks.
 */
interface KeyedTexts {
  /** the 16 bytes as four words, then the family: five a slot */
  readonly keys: Uint32Array;
  readonly words: Uint32Array;
  /** a text's length in bytes; -1: none (an empty or too long text, or no text yet) */
  readonly lengths: Int16Array;
}

/** The slot of a 16-byte key (its four words). */
function keySlot(a: number, b: number, c: number, d: number): number {
  return (
    Math.imul(a ^ Math.imul(b, 31) ^ Math.imul(c, 961) ^ Math.imul(d, 29791), 0x9e3779b1) >>> 22
  );
}

function bytesKeyed(name: string, read: FieldReader, text: (v: unknown) => string): Part {
  const at = member(name).offset;
  const familyAt = member('family').offset;
  const table: KeyedTexts = {
    keys: new Uint32Array(5 * SLOTS),
    words: new Uint32Array((KEYED_MAX / 4) * SLOTS),
    lengths: new Int16Array(SLOTS).fill(-1),
  };
  return {
    max: undefined,
    inline: { kind: 'key16', at, table },
    write: (o, dv, off, mono, line) => {
      const a = dv.getUint32(off + at, true);
      const b = dv.getUint32(off + at + 4, true);
      const c = dv.getUint32(off + at + 8, true);
      const d = dv.getUint32(off + at + 12, true);
      const slot = keySlot(a, b, c, d);
      const bytes = enc.encode(text(read(dv, off, mono)));
      const kept = keepWords(table.words, slot * (KEYED_MAX / 4), bytes);
      if (kept > 0) {
        table.lengths[slot] = kept;
        const k = 5 * slot;
        table.keys[k] = a;
        table.keys[k + 1] = b;
        table.keys[k + 2] = c;
        table.keys[k + 3] = d;
        table.keys[k + 4] = dv.getUint8(off + familyAt);
      }
      line = o.need(bytes.length, line);
      putBytes(o, bytes);
      return line;
    },
  };
}

/** Fields the fast path cannot write: they are not in the record (-t's ts, rules, tags). */

function layoutNames(l: Layout): readonly string[] {
  return l.kind === 'table' ? l.cols.map((c) => c.name) : l.fields;
}

export interface FastWriter {
  /** Writes one kernel record (as the ring holds it) as one line. */
  record(dv: DataView, off: number, len: number, mono: number): void;
  /** Hands what is buffered to the sink (at the end of each drain). */
  flush(): void;
}

/**
 * A writer of kernel records in this format, or undefined when the format
 * needs what only a Session has (rules, -t).
 */
export function fastWriter(
  opts: FormatOptions,
  resolvers: Resolvers,
  sink: ByteSink,
): FastWriter | undefined {
  const layout = layoutOf(opts);
  if (layoutNames(layout).some((n) => ROW_ONLY_FIELDS.has(n))) return undefined;
  let parts: Part[];
  let end = '\n';
  switch (layout.kind) {
    case 'jsonl':
      parts = layout.fields.map((name, i) =>
        fieldPart(`${i === 0 ? '{' : ','}"${name}":`, name, 'json', resolvers),
      );
      end = '}\n';
      break;
    case 'dataCsv':
    case 'classicCsv': {
      const mode = layout.kind;
      parts = layout.fields.map((name, i) => fieldPart(i > 0 ? ',' : '', name, mode, resolvers));
      break;
    }
    case 'table':
      parts = layout.cols.map((c, i) => fieldPart(i > 0 ? ' ' : '', c.name, 'table', resolvers, c));
      break;
  }
  const trim = layout.kind === 'table' && trimsEnd(layout.cols);
  const { record, out } = lineWriter(sink, parts, enc.encode(end), trim);
  return { record, flush: () => out.flush() };
}

/** A byte part's text for each value of its byte, made by its own writer. */
function textsByByte(part: Part, at: number): Uint8Array[] {
  const dv = new DataView(new ArrayBuffer(RECORD_SIZE));
  const texts: Uint8Array[] = [];
  const o = new Out(() => {}, 0);
  for (let code = 0; code < 256; code++) {
    dv.setUint8(at, code);
    o.p = 0;
    part.write(o, dv, 0, 0, 0);
    texts.push(o.buf.slice(0, o.p));
  }
  return texts;
}

/**
 * One function that writes a record's line: the parts with inline code as
 * straight-line stores into the buffer, the others through their write.
 * V8 compiles it as one unit (no call per field through an array of
 * closures, no read closures). The generated text holds numbers and
 * parameter names only; what a part writes comes from its own code, so the
 * bytes are those of the parts' writers (the differential test holds them
 * to the Session path's).
 */
function lineWriter(
  sink: ByteSink,
  parts: readonly Part[],
  end: Uint8Array,
  trim: boolean,
): { record: FastWriter['record']; out: Out } {
  const names: string[] = ['putUintAt', 'trimLine', 'keySlot'];
  const values: unknown[] = [putUintAt, trimLine, keySlot];
  const arg = (name: string, v: unknown) => {
    names.push(name);
    values.push(v);
    return name;
  };
  const reload = 'buf = o.buf; bv = o.bv; p = o.p;';
  /** Code calling part i's own write, then taking up the buffer where it left it. */
  const callWrite = (i: number, part: Part) =>
    `o.p = p; line = ${arg(`w${i}`, part.write)}(o, dv, off, mono, line); ${reload}`;
  /** Part i's kept text, passed under names made from i. */
  const lastNames = (i: number, t: LastText) => ({
    value: arg(`l${i}`, t.value),
    length: arg(`l${i}l`, t.length),
    words: arg(`l${i}w`, t.words),
  });
  /** Code copying a kept text while `key` is its value, else doing `miss`. */
  const lastTextCode = (t: ReturnType<typeof lastNames>, key: string, miss: string) =>
    `tl = ${t.length}[0]; if (${key} === ${t.value}[0] && tl > 0) { s = 0; ${copyWords(t.words)} } else { ${miss} }`;
  const body: string[] = [];
  let room = end.length;
  parts.forEach((part, i) => {
    const c = part.inline;
    room += part.max ?? 0;
    if (!c) {
      body.push(callWrite(i, part));
      return;
    }
    switch (c.kind) {
      case 'uint':
        body.push(constBytes(c.pre), `n = ${c.read};`);
        if (c.last) {
          // Copied while the value stays; its digits kept anew when it changes.
          const t = lastNames(i, c.last);
          body.push(
            lastTextCode(
              t,
              'n',
              `${t.value}[0] = n; s = p; ${putUintCode('n')} tl = p - s; ${t.length}[0] = tl;` +
                ` for (k = 0; k < tl; k += 4) ${t.words}[k >> 2] = bv.getUint32(s + k, true);`,
            ),
          );
        } else body.push(putUintCode('n'));
        break;
      case 'scaled': {
        const texts = fractionWords(c.scale);
        room += c.pre.length + 13 + 4 * texts.stride; // 13 digits, then the point and fraction
        body.push(
          `n = ${c.read};`,
          `if (n < ${c.limit}) { ${constBytes(c.pre)} q = Math.floor(n / ${c.scale}); ${putUintCode('q')} r = n - q * ${c.scale};`,
          putWords(texts, `f${i}`, arg, 'r'),
          `} else { ${callWrite(i, part)} }`,
        );
        break;
      }
      case 'key16': {
        // The table's text if its key is this record's, else the part's write (which caches it).
        const t = c.table;
        const keys = arg(`k${i}`, t.keys);
        const words = arg(`k${i}w`, t.words);
        const lengths = arg(`k${i}l`, t.lengths);
        const load = (w: number) => `dv.getUint32(off + ${c.at + 4 * w}, true)`;
        room += KEYED_MAX;
        body.push(
          `n = ${load(0)}; q = ${load(1)}; r = ${load(2)}; m = ${load(3)}; k = keySlot(n, q, r, m);`,
          `tl = ${lengths}[k]; s = 5 * k;`,
          `if (tl > 0 && ${keys}[s] === n && ${keys}[s + 1] === q && ${keys}[s + 2] === r && ${keys}[s + 3] === m && ${keys}[s + 4] === dv.getUint8(off + ${member('family').offset})) {`,
          `  s = k * ${KEYED_MAX / 4}; ${copyWords(words)}`,
          `} else { ${callWrite(i, part)} }`,
        );
        break;
      }
      case 'time': {
        // The last text kept if this record's time is in the same millisecond, else the part's write.
        room += KEYED_MAX;
        body.push(
          // ms as the decoder reads a time (decode.ts): CLOCK_MONOTONIC ns, then the offset
          `n = ${c.read} / 1e6 + mono;`,
          lastTextCode(lastNames(i, c.last), 'Math.floor(n)', callWrite(i, part)),
        );
        break;
      }
      case 'resolved':
        // The last answer's text while the id stays (kept only when final), else the part's write.
        room += KEYED_MAX;
        body.push(`n = ${c.read};`, lastTextCode(lastNames(i, c.last), 'n', callWrite(i, part)));
        break;
      case 'byte': {
        const texts = wordTexts(textsByByte(part, c.at));
        room += 4 * texts.stride;
        body.push(`r = dv.getUint8(off + ${c.at});`, putWords(texts, `t${i}`, arg, 'r'));
        break;
      }
    }
  });
  if (trim) body.push(`o.p = p; line = trimLine(o, line); ${reload}`);
  body.push(constBytes(end), 'o.p = p;', 'o.lines++;');
  // Room asked once a record for every part with a bound (Out.need keeps it free).
  const out = new Out(sink, room);
  const src = `return function record(dv, off, len, mono) {
  if (len !== ${RECORD_SIZE}) throw new Error('event record of ' + len + ' bytes, expected ${RECORD_SIZE}');
  let line = o.need(0, o.p);
  let buf = o.buf, bv = o.bv, p = o.p, n = 0, q = 0, r = 0, k = 0, m = 0, s = 0, tl = 0;
  ${body.join('\n  ')}
};`;
  const record: FastWriter['record'] = new Function('o', ...names, src)(out, ...values);
  warm(record, out, parts);
  return { record, out };
}

/** The stored fields that resolved ones are read from (cgroup_id). */
function resolvedFrom(): string[] {
  return ENTRIES.flatMap(({ spec }) => (isResolved(spec) ? [spec.from] : []));
}

/** The made-up records' clock offset: a wall-clock time in ms (2023), as large and as fractional as a real one. */
const WARM_MONO = 1_700_000_000_000.5;

/**
 * Rounds of the made-up records (6 lines each). V8 keeps no feedback for a
 * function's first few calls; and after some 100 rounds it optimizes the
 * JSON writer, here at start-up rather than in the first burst of sessions.
 */
const WARM_ROUNDS = 300;

/**
 * Runs a new line writer over made-up records that take each of its
 * branches, then forgets their lines. V8 optimizes the writer once it is
 * hot (for JSON lines, in these rounds); a branch no record had taken by
 * then has no type feedback, and the first record to take it (a session of
 * 10 ms or more, a retransmit count of two digits, a new millisecond)
 * throws the optimized code away: a second compile of the largest function,
 * 20-50 ms of a storm's tracer CPU each time. The records: every integer 0
 * (one digit), then a five-digit value where its type allows, then its
 * type's largest (past 2^31, and ms and KiB past their exact limit); times
 * a new millisecond and then a new second apart, on a clock offset as
 * large as a real one; each record twice, so that a kept text is found,
 * and every other round with the kept texts forgotten, so that each is
 * made again once V8 keeps feedback; every other round from a full
 * buffer, whose flush they do not reach the output with. Zero cgroup ids
 * and IPv4 addresses make no lookup of the host's.
 */
function warm(record: FastWriter['record'], out: Out, parts: readonly Part[]): void {
  const stored = new Set<string>();
  for (const part of parts)
    if (part.inline?.kind === 'uint' || part.inline?.kind === 'scaled') stored.add(part.inline.of);
  // The addresses' family, and what the host is asked about, stay as made.
  for (const name of ['family', ...resolvedFrom()]) stored.delete(name);
  const family = member('family');
  const time = member('time');
  const records = [0, 12345, -1].map((value, i) => {
    const bytes = new Uint8Array(RECORD_SIZE);
    const dv = new DataView(bytes.buffer);
    dv.setUint8(family.offset, 4); // IPv4
    // Times of 0, 7 and 1,007 ms since boot: a new millisecond, then a new second.
    dv.setUint32(time.offset, [0, 7e6, 1.007e9][i]!, true);
    for (const name of stored) {
      const m = member(name);
      if (value < 0) bytes.fill(0xff, m.offset, m.offset + m.size);
      else if (m.size >= 4) dv.setUint32(m.offset, value, true);
      else if (m.size === 2) dv.setUint16(m.offset, value, true);
      else dv.setUint8(m.offset, Math.min(value, 255));
    }
    return dv;
  });
  const lasts: LastText[] = [];
  const tables: Int16Array[] = [];
  for (const { inline: c } of parts) {
    if (c && 'last' in c && c.last) lasts.push(c.last);
    if (c?.kind === 'key16') tables.push(c.table.lengths);
  }
  out.muted = true;
  for (let round = 0; round < WARM_ROUNDS; round++) {
    // Every other round the kept texts are forgotten, so that their misses too are taken again once V8 keeps feedback.
    if (round % 2) {
      for (const l of lasts) l.length[0] = -1;
      for (const t of tables) t.fill(-1);
    }
    for (const dv of records)
      for (let twice = 0; twice < 2; twice++) {
        // Every other round from a full buffer: the flush between lines is a branch too.
        if (round % 2) out.p = out.buf.length;
        record(dv, 0, RECORD_SIZE, WARM_MONO);
      }
  }
  out.muted = false;
  out.p = 0;
  out.lines = 0;
}

/**
 * Short texts, each as whole little-endian 4-byte words at a fixed stride,
 * so that writing one is a few stores (as many as the longest needs; the
 * line's room covers what is past the text) and a move by its own length.
 */
interface WordTexts {
  readonly words: Uint32Array;
  readonly lengths: Uint8Array;
  /** words a text */
  readonly stride: number;
}

function wordTexts(texts: readonly Uint8Array[]): WordTexts {
  const stride = Math.max(1, Math.ceil(Math.max(...texts.map((t) => t.length)) / 4));
  const words = new Uint32Array(stride * texts.length);
  for (const [i, t] of texts.entries()) storeWords(words, stride * i, t);
  return { words, lengths: Uint8Array.from(texts, (t) => t.length), stride };
}

/**
 * Code writing text number `index` (an expression) of these texts, passed
 * to the generated function under names made from `name` by `arg`.
 */
function putWords(
  texts: WordTexts,
  name: string,
  arg: (name: string, v: unknown) => string,
  index: string,
): string {
  const words = arg(`${name}w`, texts.words);
  const code = [`k = ${index} * ${texts.stride};`];
  for (let w = 0; w < texts.stride; w++)
    code.push(`bv.setUint32(p + ${4 * w}, ${words}[k + ${w}], true);`);
  code.push(`p += ${arg(`${name}l`, texts.lengths)}[${index}];`);
  return code.join(' ');
}

/** Code copying tl bytes at p from the words array named, word s on, a word at a time. */
function copyWords(words: string): string {
  return `for (n = 0; n < tl; n += 4) bv.setUint32(p + n, ${words}[s++], true); p += tl;`;
}

/** Code writing the integer in variable v at p: a digit without a call (counts, flags, families often are one). */
function putUintCode(v: string): string {
  return `if (${v} < 10) buf[p++] = 48 + ${v}; else p = putUintAt(buf, p, ${v});`;
}

/** Stores of constant bytes at p, four at a time, then p moved past them. */
function constBytes(b: Uint8Array): string {
  const code: string[] = [];
  let i = 0;
  for (; i + 4 <= b.length; i += 4)
    code.push(
      `bv.setUint32(p + ${i}, ${new DataView(b.buffer, b.byteOffset).getUint32(i, true)}, true);`,
    );
  for (; i < b.length; i++) code.push(`buf[p + ${i}] = ${b[i]};`);
  code.push(`p += ${b.length};`);
  return code.join(' ');
}

/** String.prototype.trimEnd on the line being written: spaces here, any other white space as JS has it. */
function trimLine(o: Out, line: number): number {
  while (o.p > line && o.buf[o.p - 1] === 0x20) o.p--;
  if (o.p > line && o.buf[o.p - 1]! >= 0x80) {
    const text = new TextDecoder().decode(o.buf.subarray(line, o.p)).trimEnd();
    o.p = line;
    return putString(o, text, line);
  }
  return line;
}
