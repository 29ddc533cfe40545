/**
 * Whether the kernel has a tracepoint is asked of the kernel (a program
 * that does nothing, attached a moment); the kernel's BTF, which names
 * each tracepoint as a btf_trace_ type, says the same.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { kernelHasTracepoints } from '../../src/kernel/bpf-object.js';
import { describeKernel } from '../helpers/kernel.js';

let btf: Buffer | undefined;
const inBtf = (name: string) => {
  btf ??= readFileSync('/sys/kernel/btf/vmlinux');
  return btf.includes(Buffer.from(`\0btf_trace_${name}\0`));
};

describeKernel('the tracepoints the kernel has', () => {
  it('those it has, as its BTF names them; none for a name it has not', () => {
    const names = ['inet_sock_set_state', 'sock_recv_length', 'sock_send_length', 'tcp_probe'];
    for (const name of names)
      expect([name, kernelHasTracepoints([name])]).toEqual([name, inBtf(name)]);
    expect(kernelHasTracepoints(['inet_sock_set_state'])).toBe(true);
    expect(kernelHasTracepoints(['tcplife_no_such_tracepoint'])).toBe(false);
    expect(kernelHasTracepoints(['inet_sock_set_state', 'tcplife_not_one_either'])).toBe(false);
    expect(kernelHasTracepoints(['inet_sock_set_state', 'sock_recv_length'])).toBe(
      inBtf('sock_recv_length'),
    );
  });
});
