/**
 * The verifier's log reaches us whole: libbpf prints a refused program's log
 * as one message, here over 4 KB (a 4,096-byte buffer cut it before, and the
 * verdict at its end was lost), and the verdict is the line reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { summariseVerifierLog, verifierFailure, withLog } from '../../src/kernel/bpf-object.js';
import { VerifierLogTruncatedError } from '../../src/kernel/errors.js';
import { loadNative } from '../../src/kernel/libbpf.js';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { describeKernel } from '../helpers/kernel.js';

/** 300 additions the verifier walks one by one, then a load through a number. */
const REFUSED = `
#include "tcplife-vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
SEC("socket")
int refused(void *ctx)
{
  volatile int x = 0;
#pragma unroll
  for (int i = 0; i < 300; i++)
    x += i;
  return *(int *)(long)x;
}
`;

describeKernel("the verifier's log", () => {
  it('a refused program with a log over 4 KB: the whole log, its verdict summarised', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-verifier-'));
    writeFileSync(join(dir, 'refused.c'), REFUSED);
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-I',
      join(PACKAGE_ROOT, 'bpf/include'),
      '-c',
      join(dir, 'refused.c'),
      '-o',
      join(dir, 'refused.o'),
    ]);
    const object = readFileSync(join(dir, 'refused.o'));
    const n = loadNative();
    const log = withLog(n, (lines) => {
      const obj = n.bpf.bpf_object__open_mem(object, object.length, null);
      expect(obj).not.toBeNull();
      try {
        expect(n.bpf.bpf_object__load(obj)).not.toBe(0);
      } finally {
        n.bpf.bpf_object__close(obj);
      }
      return lines.join('');
    });
    const frame = log.slice(log.indexOf('-- BEGIN PROG LOAD LOG --'));
    expect(frame.length).toBeGreaterThan(4096);
    expect(frame).toContain('-- END PROG LOAD LOG --');
    expect(summariseVerifierLog(log)).toMatch(/invalid mem access 'scalar'/);
    // Whole, it is a plain VerifierError naming the verdict; cut, a typed error that says so.
    const whole = verifierFailure(log);
    expect(whole).not.toBeInstanceOf(VerifierLogTruncatedError);
    expect(whole.message).toMatch(/rejected the program: .*invalid mem access 'scalar'/);
    const cut = verifierFailure(log.slice(0, log.indexOf('-- END PROG LOAD LOG --')));
    expect(cut).toBeInstanceOf(VerifierLogTruncatedError);
    expect(cut.message).toContain('its log was cut short');
  });
});
