/**
 * Kernel tests need root, BTF and clang. Where those are missing they skip
 * and say why — except when TCPLIFE_REQUIRE_KERNEL=1 (CI), where a missing
 * precondition fails the run instead, so CI cannot pass with them skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from 'vitest';

function missing(): string | undefined {
  if (process.geteuid?.() !== 0) return 'not root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'no BTF at /sys/kernel/btf/vmlinux';
  try {
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'clang is not installed (scripts/setup.sh installs it)';
  }
  if (!existsSync('/usr/include/bpf/bpf_helpers.h')) return 'libbpf-dev is not installed';
  return undefined;
}

export const kernelMissing = missing();

export function describeKernel(name: string, fn: () => void): void {
  if (kernelMissing && process.env.TCPLIFE_REQUIRE_KERNEL === '1') {
    throw new Error(`kernel tests required but cannot run: ${kernelMissing}`);
  }
  if (kernelMissing) describe.skip(`${name} (skipped: ${kernelMissing})`, fn);
  else describe(name, fn);
}

/** Tests that switch users with setpriv need root, not the kernel: they skip (saying why) elsewhere. */
export function describeAsRoot(name: string, fn: () => void): void {
  const why = process.geteuid?.() === 0 ? undefined : 'not root (setpriv needs it)';
  if (why && process.env.TCPLIFE_REQUIRE_KERNEL === '1') {
    throw new Error(`root tests required but cannot run: ${why}`);
  }
  if (why) describe.skip(`${name} (skipped: ${why})`, fn);
  else describe(name, fn);
}
