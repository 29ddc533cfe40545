/**
 * The settings section's bytes: every setting's words at its place, in the
 * order the program reads them (little-endian), and read back unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSettings,
  encodeSettings,
  SETTINGS,
  SETTINGS_BYTES,
  type Settings,
} from '../../src/codegen/settings.js';

const word = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const settings: fc.Arbitrary<Settings> = fc.record(
  Object.fromEntries(
    SETTINGS.map((d) => [
      d.name,
      'words' in d
        ? fc.oneof(
            fc.constant(Array.from({ length: d.words }, () => 0n)),
            fc.array(word, { minLength: d.words, maxLength: d.words }),
          )
        : fc.oneof(fc.nat(), fc.maxSafeNat()),
    ]),
  ),
) as unknown as fc.Arbitrary<Settings>;

describe('the settings section', () => {
  it("each word lies at its setting's offset, little-endian, and decodes to the same settings", () => {
    fc.assert(
      fc.property(settings, (s) => {
        const buf = encodeSettings(s);
        expect(buf.length).toBe(SETTINGS_BYTES);
        let off = 0;
        for (const d of SETTINGS) {
          const v = s[d.name];
          for (const w of Array.isArray(v) ? v : [BigInt(v as number)]) {
            const read = buf.readBigUInt64LE(off);
            expect(read === w ? undefined : `${d.name} at ${off}: ${read} != ${w}`).toBeUndefined();
            off += 8;
          }
        }
        expect(off).toBe(SETTINGS_BYTES);
        expect(decodeSettings(buf)).toEqual(s);
        // A copy that does not start 8-byte aligned decodes the same.
        const odd = Buffer.alloc(buf.length + 1).subarray(1);
        buf.copy(odd);
        expect(decodeSettings(odd)).toEqual(s);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a scalar that is not a safe non-negative integer, a word beyond 64 bits, and a bitmap of the wrong length', () => {
    const base = decodeSettings(Buffer.alloc(SETTINGS_BYTES));
    expect(() => encodeSettings({ ...base, filter_pid: -1 })).toThrow(
      /bad value for setting filter_pid/,
    );
    expect(() => encodeSettings({ ...base, filter_pid: 2 ** 53 })).toThrow(/bad value/);
    const words = base.lport_set.length;
    for (const w of [-1n, 1n << 64n]) {
      const set = Array.from({ length: words }, (_, i) => (i === 7 ? w : 0n));
      expect(() => encodeSettings({ ...base, lport_set: set })).toThrow(
        /bad value for setting lport_set/,
      );
    }
    expect(() => encodeSettings({ ...base, lport_set: [1n] })).toThrow(
      /lport_set: 1 words, not 1024/,
    );
  });
});
