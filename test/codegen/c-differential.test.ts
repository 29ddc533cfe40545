/**
 * The C the emitter writes means what the reference evaluator says: 1,000
 * random well-typed filters, each split, the kernel part emitted as C and
 * compiled for this host with clang, together with the template's own
 * address helpers and the struct event the registry generates, then run
 * over 200 random sessions laid out as the kernel's records. Every one of
 * the 200,000 answers must equal evaluate() of the same kernel part.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { emitFilter, enumsC } from '../../src/codegen/emit-c.js';
import { compileFilter, evaluate } from '../../src/dsl/index.js';
import { parseAddr } from '../../src/model/addr.js';
import { enumCode, fieldSpec } from '../../src/model/fields.js';
import { eventStructC, RECORD_MEMBERS, RECORD_SIZE } from '../../src/model/record.js';
import { textToBytes } from '../../src/model/text.js';
import { splitFilter } from '../../src/plan/split.js';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { sessionArb, validFilterArb } from '../dsl/arbitraries.js';
import { describeKernel } from '../helpers/kernel.js';
import { type RecordValues, writeRecord } from '../helpers/record.js';

const FILTERS = 1000;
const SESSIONS = 200;

/** A session as the kernel's record: its values as the record's members hold them. */
function record(s: Record<string, unknown>): Buffer {
  const v: RecordValues = {};
  for (const m of RECORD_MEMBERS) {
    const x = s[m.field];
    const spec = fieldSpec(m.field)!;
    const bytes = (b: Uint8Array) => {
      const out = new Uint8Array(16);
      out.set(b.subarray(0, 16));
      return out;
    };
    if (spec.type === 'addr') v[m.field] = bytes(Uint8Array.from(parseAddr(x as string)!.bytes));
    else if (spec.type === 'string') v[m.field] = bytes(textToBytes(x as string).subarray(0, 15));
    else if (spec.type === 'enum') v[m.field] = x === '' ? 0 : enumCode(m.field, x as string);
    else if (spec.type === 'time') v[m.field] = 0;
    else v[m.field] = Number(x);
  }
  const b = Buffer.alloc(RECORD_SIZE);
  writeRecord(new DataView(b.buffer, b.byteOffset, b.length), 0, v);
  return b;
}

/** The template's address helpers, as the kernel program has them. */
function templateHelpers(): string {
  const t = readFileSync(join(PACKAGE_ROOT, 'bpf/templates/tcplife.bpf.c'), 'utf8');
  const from = t.indexOf('/* Address helpers for the generated filter');
  const to = t.indexOf('/*\n * A filter of a PID');
  if (from < 0 || to < from) throw new Error('the template has moved its address helpers');
  return t.slice(from, to).replace(/static __always_inline/g, 'static inline');
}

describeKernel('the emitted C against the reference evaluator', () => {
  it(`${FILTERS} random filters × ${SESSIONS} sessions, compiled for the host with clang`, () => {
    const texts = fc.sample(validFilterArb, { numRuns: FILTERS, seed: 20261207 });
    // As the kernel makes them: the family is the addresses' (an IPv4 peer of
    // a dual-stack socket is an IPv4-mapped IPv6 address, family 6).
    const sessions = fc.sample(sessionArb, { numRuns: SESSIONS, seed: 7 }).map((s) => {
      const family = parseAddr(s.raddr as string)!.family;
      const laddr =
        parseAddr(s.laddr as string)!.family === family
          ? s.laddr
          : family === 4
            ? '10.1.2.3'
            : 'fd00::2';
      return { ...s, family, laddr } as Record<string, unknown>;
    });
    const kernels = texts.map((t) => {
      const r = compileFilter(t);
      expect(r.diagnostics, t).toEqual([]);
      return splitFilter(r.pred!).kernel;
    });
    // The kernel must have something to decide in most of them.
    const decided = kernels.filter((k) => k.k !== 'const').length;
    expect(decided).toBeGreaterThan(FILTERS * 0.9);

    const functions = kernels.map((k, i) => {
      const { expr, data, addrSets } = emitFilter(k);
      expect(addrSets, texts[i]).toEqual([]);
      // Each filter's bitmaps under names of its own.
      const own = (s: string) => s.replace(/\bport_set_(\d+)\b/g, `f${i}_port_set_$1`);
      return `${own(data)}\nstatic int filter_${i}(const struct event *e) { return ${own(expr)}; }`;
    });
    const source = [
      '#include <stdint.h>',
      '#include <stdio.h>',
      '#include <stdbool.h>',
      'typedef uint8_t __u8; typedef uint16_t __u16; typedef uint32_t __u32; typedef uint64_t __u64;',
      eventStructC(),
      enumsC(),
      templateHelpers(),
      ...functions,
      `static int (*const filters[])(const struct event *) = { ${kernels.map((_, i) => `filter_${i}`).join(', ')} };`,
      'int main(void) {',
      '  struct event e;',
      '  while (fread(&e, sizeof e, 1, stdin) == 1) {',
      `    for (int i = 0; i < ${FILTERS}; i++) putchar(filters[i](&e) ? '1' : '0');`,
      "    putchar('\\n');",
      '  }',
      '  return 0;',
      '}',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'tl-cdiff-'));
    writeFileSync(join(dir, 'filters.c'), source);
    execFileSync('clang', ['-O1', '-w', '-o', join(dir, 'filters'), join(dir, 'filters.c')]);
    const out = execFileSync(join(dir, 'filters'), {
      input: Buffer.concat(sessions.map(record)),
      maxBuffer: 1 << 26,
    })
      .toString()
      .trim()
      .split('\n');
    expect(out).toHaveLength(SESSIONS);
    const wrong: string[] = [];
    sessions.forEach((s, j) => {
      kernels.forEach((k, i) => {
        const want = evaluate(k, s) ? '1' : '0';
        if (out[j]![i] !== want && wrong.length < 10)
          wrong.push(`${texts[i]} on ${JSON.stringify(s)}: C says ${out[j]![i]}, evaluate ${want}`);
      });
    });
    expect(wrong).toEqual([]);
    // Both answers occur: the sessions hit the filters' literals.
    const ones = out.join('').split('1').length - 1;
    expect(ones).toBeGreaterThan(FILTERS * SESSIONS * 0.05);
    expect(ones).toBeLessThan(FILTERS * SESSIONS * 0.95);
  }, 120_000);
});
