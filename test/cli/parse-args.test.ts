/** Option values as users type them: sizes with the suffixes of ss, dd and bpftrace. */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseSize, sizeOf } from '../../src/cli/parse-args.js';
import { runCli } from '../helpers/cli.js';

describe('sizes', () => {
  it('K, M and G are binary, as KiB, MiB and GiB; bytes need no unit', () => {
    expect(sizeOf('32M')).toBe(32 << 20);
    expect(sizeOf('32m')).toBe(32 << 20);
    expect(sizeOf('64K')).toBe(64 << 10);
    expect(sizeOf('1G')).toBe(1 << 30);
    expect(sizeOf('16MiB')).toBe(16 << 20);
    expect(sizeOf('16MB')).toBe(16 << 20);
    expect(sizeOf('1048576')).toBe(1 << 20);
    for (const bad of ['', 'M', '1.5M', '1T', '-4K', '4 KB B', '0x10'])
      expect(sizeOf(bad)).toBe(undefined);
  });

  it('--ring-size takes 32M, and says its bounds', async () => {
    expect(parseSize('32M')).toBe(32 << 20);
    expect(() => parseSize('2G')).toThrow(InvalidArgumentError);
    expect(() => parseSize('2G')).toThrow('between 4KiB and 1GiB');
    const ok = await runCli(['--ring-size', '32M', '--explain', 'dport == 1']);
    expect(ok.code).toBe(0);
    const bad = await runCli(['--ring-size', 'lots', '--explain']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a size such as 16M');
  });
});
