/**
 * A full garbage collection where node exposes one (bin/tcplife runs it with
 * --expose-gc); nothing where it does not (the library in another program).
 *
 * A run's memory peaks twice at start-up: while libbpf loads the program
 * (two 5 MiB copies of the kernel's BTF) and while V8 compiles the line
 * writer (some 5 MiB of compiler memory). What start-up left behind is
 * garbage V8 would collect only later: collected before each, it is not
 * counted in either peak (0.5-1 MiB of VmHWM, measured side by side).
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
