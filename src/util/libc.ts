/**
 * Raw FFI: the libc functions tcplife calls, by their C names, through
 * koffi. Apart from libbpf (kernel/libbpf.ts), so that writing to stdout
 * does not load libbpf.
 */
import koffi from 'koffi';

export type Ptr = unknown;

export interface LibC {
  mmap(addr: Ptr | null, len: number, prot: number, flags: number, fd: number, off: number): Ptr;
  munmap(addr: Ptr, len: number): number;
  /** A message formatted whole, however long (vasprintf, then free): null when out of memory. */
  vformat(fmt: string, ap: Ptr): string | null;
  strerror(errnum: number): string;
  open_by_handle_at(mountFd: number, handle: Buffer, flags: number): number;
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  /** fcntl(2) with an int argument (F_GETFL, F_SETFL). */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** membarrier(2), through syscall(2): glibc has no wrapper. */
  membarrier(cmd: number, flags: number): number;
  /** glibc's malloc_trim(3): the heap's free memory back to the system (0 where there is none). */
  malloc_trim(pad: number): number;
}

/** membarrier's syscall number, where we know it. */
const SYS_MEMBARRIER: Readonly<Record<string, number>> = { x64: 324, arm64: 283 };

let libc: LibC | undefined;

export function loadLibc(): LibC {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)'),
    munmap: lib.func('int munmap(void *addr, size_t len)'),
    vformat: (() => {
      const vasprintf = lib.func('int vasprintf(_Out_ void **strp, const char *fmt, void *ap)');
      const free = lib.func('void free(void *p)');
      return (fmt: string, ap: Ptr) => {
        const out: Ptr[] = [null];
        if (vasprintf(out, fmt, ap) < 0 || !out[0]) return null;
        try {
          return koffi.decode(out[0], 'char', -1) as string;
        } finally {
          free(out[0]);
        }
      };
    })(),
    strerror: lib.func('const char *strerror(int errnum)'),
    open_by_handle_at: lib.func('int open_by_handle_at(int mount_fd, void *handle, int flags)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    fcntl: (() => {
      const f = lib.func('int fcntl(int fd, int cmd, ...)');
      return (fd: number, cmd: number, arg: number) => Number(f(fd, cmd, 'int', arg));
    })(),
    malloc_trim: (() => {
      try {
        const f = lib.func('int malloc_trim(size_t pad)');
        return (pad: number) => Number(f(pad));
      } catch {
        return () => 0; // a libc without it (not glibc)
      }
    })(),
    membarrier: (() => {
      const syscall = lib.func('long syscall(long number, ...)');
      const nr = SYS_MEMBARRIER[process.arch];
      return (cmd: number, flags: number) =>
        nr === undefined ? -1 : Number(syscall(nr, 'int', cmd, 'unsigned int', flags));
    })(),
  } as LibC;
  return libc;
}
