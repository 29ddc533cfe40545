/**
 * Rule files that are not rule files: a FIFO, /dev/zero, a directory, an
 * unreadable file, /proc/self/mem, bytes that are not UTF-8. Each is a clear
 * diagnostic and exit 2 from `tcplife check` and `--rules`, promptly, with no
 * stack trace — never a hang or a memory blow-up.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-hostile-'));
const fifo = join(dir, 'fifo.rules');
execFileSync('mkfifo', [fifo]);
const binary = join(dir, 'latin1.rules');
writeFileSync(binary, Buffer.from([0x72, 0x75, 0x6c, 0x65, 0x20, 0xe9, 0x0a]));
const includes = (target: string) => {
  const p = join(dir, `inc-${Math.random().toString(36).slice(2)}.rules`);
  writeFileSync(p, `include "${target}"\nrule r: lport == 1\n`);
  return p;
};

async function expectRefused(args: string[], message: RegExp) {
  const t0 = Date.now();
  const r = await runCli(args);
  expect(Date.now() - t0, args.join(' ')).toBeLessThan(10_000);
  expect(r.code, args.join(' ')).toBe(2);
  expect(r.stderr, args.join(' ')).toMatch(message);
  expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
}

describe('hostile rule files', () => {
  const cases: [string, string, RegExp][] = [
    ['a FIFO', fifo, /not a regular file \(a FIFO, device or socket\)/],
    ['/dev/zero', '/dev/zero', /not a regular file/],
    ['a directory', dir, /it is a directory/],
    ['/proc/self/mem', '/proc/self/mem', /input\/output error/],
    ['bytes that are not UTF-8', binary, /not valid UTF-8 text/],
  ];
  for (const [what, path, message] of cases) {
    it(`${what}: check, --rules and include each give a diagnostic`, async () => {
      await expectRefused(['check', path], message);
      await expectRefused(['--explain', '--rules', path], message);
      await expectRefused(['check', includes(path)], message);
    });
  }
});

describeAsRoot('an unreadable rule file', () => {
  it('as nobody: permission denied, exit 2', async () => {
    const secret = join(dir, 'secret.rules');
    writeFileSync(secret, 'rule r: lport == 1\n');
    chmodSync(secret, 0o600);
    chmodSync(dir, 0o755);
    const r = await runCli(['check', secret], { asUser: 'nobody' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read rule file ${secret}: permission denied`);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  });
});

describe('a deep include chain', () => {
  /** A chain of `n` files, each including the next; the first's path. */
  function chain(n: number): string {
    const d = mkdtempSync(join(tmpdir(), 'tl-chain-'));
    for (let i = 0; i < n; i++) {
      const next = i + 1 < n ? `include "c${i + 1}.rules"\n` : '';
      writeFileSync(join(d, `c${i}.rules`), `${next}rule r${i}: lport == ${i % 60000}\n`);
    }
    return join(d, 'c0.rules');
  }

  it('5,000 files: a diagnostic at the include too deep, not a stack overflow', async () => {
    await expectRefused(['check', chain(5000)], /includes nest deeper than 64 files/);
  }, 60_000);

  it('64 files deep is read whole', async () => {
    const r = await runCli(['check', chain(64)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok (64 rules');
  });
});

describe('macros that double at each step', () => {
  it('a 1,305-byte file whose m24 would be 2^25 terms: a diagnostic at the macro past a million, promptly', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tl-macros-'));
    const lines = ['macro m0 = lport == 1'];
    for (let k = 0; k < 24; k++)
      lines.push(`macro m${k + 1} = (m${k} and tx_b > ${k}) or (m${k} and rx_b > ${k})`);
    const f = join(d, 'double.rules');
    writeFileSync(f, `${lines.join('\n')}\nrule r: m24\n`);
    // It took 75 s and 4.3 GB, then the V8 heap gave out.
    await expectRefused(
      ['check', f],
      /double\.rules:19:7: error: 'm18' expands to more than 1,000,000 terms/,
    );
  }, 30_000);
});
