/** The lossless text form of byte strings (a comm), and string literals' \xHH. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emitFilter } from '../../src/codegen/emit-c.js';
import { compileFilter, printExpr } from '../../src/dsl/index.js';
import { bytesToText, textToBytes } from '../../src/model/text.js';
import { splitFilter } from '../../src/plan/split.js';

describe('the text form of bytes', () => {
  it('is lossless for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (b) => {
        expect([...textToBytes(bytesToText(b))]).toEqual([...b]);
      }),
      { numRuns: 3000 },
    );
  });

  it('is the UTF-8 text itself for UTF-8 without backslashes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\\')),
        (s) => {
          expect(bytesToText(Buffer.from(s, 'utf8'))).toBe(s);
        },
      ),
    );
  });

  it('examples: a cut character, Latin-1, a backslash that would read as an escape', () => {
    const cafe = Buffer.from('caf\u00e9', 'utf8');
    expect(bytesToText(cafe.subarray(0, 4))).toBe('caf\\xc3');
    expect(bytesToText(Buffer.from([0x74, 0x6c, 0xe9]))).toBe('tl\\xe9');
    expect(bytesToText(Buffer.from('a\\x41', 'latin1'))).toBe('a\\x5cx41');
    expect(bytesToText(Buffer.from('a\\b', 'latin1'))).toBe('a\\b');
  });
});

describe('"\\xHH" in a filter is the byte HH', () => {
  it('matches the bytes in the kernel; "\\xc3\\xa9" is "é"', () => {
    const c = (f: string) => emitFilter(splitFilter(compileFilter(f).pred!).kernel).expr;
    expect(c('comm == "\\xe9"')).toBe('((e->comm[0] == (char)0xe9 && e->comm[1] == 0))');
    expect(compileFilter('comm == "\\xc3\\xa9"').pred).toEqual(compileFilter('comm == "é"').pred);
    expect(c('comm == "é"')).toContain('(char)0xc3 && e->comm[1] == (char)0xa9');
  });

  it('prints back as it reads', () => {
    for (const f of ['comm == "tl_\\xe9x"', 'comm == "a\\\\b"', 'comm == "a\\x5cx41"']) {
      const r = compileFilter(f);
      expect(r.diagnostics).toEqual([]);
      expect(compileFilter(printExpr(r.ast!)).pred).toEqual(r.pred);
    }
  });

  it('15 bytes is the limit, counted in bytes', () => {
    expect(compileFilter(`comm == "${'\\xe9'.repeat(15)}"`).diagnostics).toEqual([]);
    expect(compileFilter(`comm == "${'\\xe9'.repeat(16)}"`).diagnostics[0]?.message).toMatch(
      /at most 15 bytes/,
    );
  });
});
