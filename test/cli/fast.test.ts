/**
 * The fast path (records straight to bytes) against the Session path
 * (decode, then a formatter's row): byte-identical on random records, in
 * every format and layout the CLI can ask for, across buffer boundaries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeDecoder, type Resolvers } from '../../src/model/decode.js';
import { RECORD_MEMBERS, RECORD_SIZE } from '../../src/model/record.js';
import { fastWriter } from '../../src/pipeline/fast.js';
import { createFormatter, type FormatOptions } from '../../src/pipeline/formatters.js';
import { type RecordValues as Values, writeRecord as write } from '../helpers/record.js';

/** Bytes a comm may hold: mostly names, sometimes quotes, commas, controls, UTF-8 and stray bytes. */
const commByte = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x61, max: 0x7a }) },
  { weight: 1, arbitrary: fc.constantFrom(0x22, 0x2c, 0x5c, 0x20, 0x0a, 0x09, 0x1b, 0x7f) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
);
const comm = fc.oneof(
  fc.array(commByte, { minLength: 0, maxLength: 15 }),
  // valid UTF-8, and a no-break space at the end (white space that trimEnd knows)
  fc.constantFrom([0xc3, 0xa9, 0x74, 0xc3, 0xa9], [0x61, 0x20, 0xc2, 0xa0], [0xe2, 0x80, 0x83]),
);
const addrBytes = fc.oneof(
  fc.constantFrom([127, 0, 0, 1], [10, 1, 2, 3], [192, 168, 0, 1]),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }),
);

const record = fc
  .record({
    family: fc.constantFrom(4, 6),
    laddr: addrBytes,
    raddr: addrBytes,
    comm,
    big: fc.oneof(
      fc.integer({ min: 0, max: 2000 }),
      fc.integer({ min: 0, max: 2 ** 45 }),
      fc.maxSafeNat(),
    ),
    small: fc.integer({ min: 0, max: 70000 }),
    // u32 values past 2^31 (a network namespace's inode), often the same in a row
    wide: fc.option(fc.constantFrom(4026531840, 4026532481, 2 ** 32 - 1), { freq: 2 }),
    code: fc.integer({ min: 0, max: 9 }),
    // any time, or within a few seconds: lines of one second, milliseconds apart
    time: fc.oneof(fc.integer({ min: 0, max: 10 ** 15 }), fc.integer({ min: 0, max: 3e9 })),
    cg: fc.integer({ min: 0, max: 5 }),
  })
  .map((r): Values => {
    const v: Values = {};
    for (const m of RECORD_MEMBERS) {
      const pad = (b: readonly number[]) => {
        const out = new Uint8Array(16);
        out.set(b.slice(0, r.family === 4 && m.spec.type === 'addr' ? 4 : 16));
        return out;
      };
      if (m.spec.c === 'char[16]') v[m.field] = pad(r.comm);
      else if (m.spec.c === 'u8[16]') v[m.field] = pad(m.field === 'laddr' ? r.laddr : r.raddr);
      else if (m.spec.type === 'family') v[m.field] = r.family;
      else if (m.spec.type === 'time') v[m.field] = r.time;
      else if (m.field === 'cgroup_id') v[m.field] = r.cg;
      else if (m.spec.c === 'u8') v[m.field] = r.code % 4;
      else if (m.spec.c === 'u16') v[m.field] = r.small % 65536;
      else if (m.spec.c === 'u32') v[m.field] = r.wide ?? (r.small * 7919 + r.code) >>> 0;
      else v[m.field] = r.big;
    }
    return v;
  });

/**
 * cgroup paths with what CSV and JSON must quote, and non-ASCII; the
 * answers for id 5 are not for good (as after a lookup that failed for a
 * passing reason), so their text is never kept.
 */
const resolvers: Resolvers = {
  cgroup: (id) =>
    ['', '/', '/system.slice/a,b.service', '/x/"quoted"', '/é/ü', '/docker-1234'][id % 6]!,
  container: (id) => (id % 2 ? 'ab'.repeat(32) : ''),
  final: (id) => id !== 5,
};

const MONO = 1.7e12 + 0.25;

function bothPaths(o: FormatOptions, records: Values[], chunk: number) {
  const buf = new DataView(new ArrayBuffer(RECORD_SIZE * (records.length + 1)));
  records.forEach((v, i) => {
    write(buf, i * RECORD_SIZE, v);
  });
  const decode = makeDecoder(resolvers);
  const f = createFormatter(o);
  const expected = records
    .map((_, i) => `${f.row(decode(buf, i * RECORD_SIZE, RECORD_SIZE, MONO))}\n`)
    .join('');
  const parts: Buffer[] = [];
  let lines = 0;
  const w = fastWriter(o, resolvers, (bytes, n) => {
    parts.push(Buffer.from(bytes));
    lines += n;
  });
  if (!w) throw new Error(`no fast path for ${JSON.stringify(o)}`);
  records.forEach((_, i) => {
    w.record(buf, i * RECORD_SIZE, RECORD_SIZE, MONO);
    if (i % chunk === chunk - 1) w.flush();
  });
  w.flush();
  return { expected, got: Buffer.concat(parts).toString('utf8'), lines };
}

const LAYOUTS: FormatOptions[] = [
  { format: 'jsonl' },
  { format: 'jsonl', fields: ['comm', 'rport', 'span_ms', 'cgroup', 'outcome', 'owner'] },
  { format: 'csv' },
  { format: 'csv', fields: ['time', 'comm', 'laddr', 'tx_kb', 'container'] },
  { format: 'csv', classic: true },
  { format: 'csv', classic: true, time: true, extended: true },
  { format: 'table' },
  { format: 'table', time: true },
  { format: 'table', wide: true },
  { format: 'table', extended: true },
  { format: 'table', wide: true, extended: true, time: true },
  { format: 'table', fields: ['comm', 'laddr', 'rtt_ms', 'owner', 'cgroup'] },
  { format: 'table', fields: ['pid', 'comm'] },
  { format: 'table', fields: ['span_ms', 'netns'], wide: true },
];

describe('the fast path writes what the Session path writes', () => {
  for (const o of LAYOUTS) {
    it(`byte for byte: ${JSON.stringify(o)}`, () => {
      fc.assert(
        fc.property(
          fc.array(record, { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 7 }),
          (records, chunk) => {
            const r = bothPaths(o, records, chunk);
            expect(r.got).toBe(r.expected);
            expect(r.lines).toBe(records.length);
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('across many buffers: lines stay whole', () => {
    const records = fc.sample(record, { numRuns: 3000, seed: 7 });
    const parts: string[] = [];
    const buf = new DataView(new ArrayBuffer(RECORD_SIZE * records.length));
    records.forEach((v, i) => {
      write(buf, i * RECORD_SIZE, v);
    });
    const w = fastWriter({ format: 'jsonl' }, resolvers, (bytes) =>
      parts.push(Buffer.from(bytes).toString('utf8')),
    )!;
    records.forEach((_, i) => {
      w.record(buf, i * RECORD_SIZE, RECORD_SIZE, MONO);
    });
    w.flush();
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) expect(p.endsWith('\n')).toBe(true);
    const decode = makeDecoder(resolvers);
    const f = createFormatter({ format: 'jsonl' });
    expect(parts.join('')).toBe(
      records.map((_, i) => `${f.row(decode(buf, i * RECORD_SIZE, RECORD_SIZE, MONO))}\n`).join(''),
    );
  });

  it('a cgroup whose answer is not for good yet is asked again at its next record', () => {
    let found = false;
    const later: Resolvers = {
      cgroup: (id) => (id === 7 && found ? '/now.slice' : ''),
      container: () => '',
      final: (id) => id !== 7 || found,
    };
    const [v] = fc.sample(record, { numRuns: 1, seed: 3 });
    const buf = new DataView(new ArrayBuffer(RECORD_SIZE));
    write(buf, 0, { ...v, cgroup_id: 7 });
    const lines: string[] = [];
    const w = fastWriter({ format: 'jsonl', fields: ['cgroup'] }, later, (bytes) =>
      lines.push(...Buffer.from(bytes).toString('utf8').trim().split('\n')),
    )!;
    for (let i = 0; i < 4; i++) {
      if (i === 2) found = true; // a later lookup finds it
      w.record(buf, 0, RECORD_SIZE, MONO);
    }
    w.flush();
    expect(lines.map((l) => JSON.parse(l).cgroup)).toEqual(['', '', '/now.slice', '/now.slice']);
  });

  it('declines what needs a Session: -t and rules', () => {
    expect(fastWriter({ format: 'jsonl', timestamp: true }, resolvers, () => {})).toBeUndefined();
    expect(fastWriter({ format: 'table', rules: true }, resolvers, () => {})).toBeUndefined();
  });
});
