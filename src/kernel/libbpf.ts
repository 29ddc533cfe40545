/**
 * Raw FFI: the libbpf.so.1 functions tcplife calls (and the libc ones, from
 * util/libc.ts), by their C names, through koffi. No logic lives here; see bpf-object.ts for the
 * wrapper. Pointers are opaque koffi values (BigInt-backed), NULL is null.
 */
import koffi, { type TypeObject } from 'koffi';
import { type LibC, loadLibc } from '../util/libc.js';

export type Ptr = unknown;

/** bpf_map_lookup_batch and bpf_map_lookup_and_delete_batch: entries a batch at a time. */
export type BatchFn = (
  fd: number,
  inBatch: Buffer | null,
  outBatch: Buffer,
  keys: Buffer,
  values: Buffer,
  count: Buffer,
  opts: Ptr | null,
) => number;

export interface LibBpf {
  bpf_object__open_mem(buf: Buffer, size: number, opts: Ptr | null): Ptr | null;
  bpf_object__load(obj: Ptr): number;
  bpf_object__close(obj: Ptr): void;
  bpf_object__find_program_by_name(obj: Ptr, name: string): Ptr | null;
  bpf_object__find_map_by_name(obj: Ptr, name: string): Ptr | null;
  bpf_program__set_autoload(prog: Ptr, autoload: boolean): number;
  bpf_program__attach(prog: Ptr): Ptr | null;
  bpf_program__fd(prog: Ptr): number;
  bpf_map__set_max_entries(map: Ptr, n: number): number;
  bpf_map__set_autocreate(map: Ptr, create: boolean): number;
  bpf_map__max_entries(map: Ptr): number;
  bpf_map__fd(map: Ptr): number;
  bpf_map__set_initial_value(map: Ptr, data: Buffer, size: number): number;
  bpf_link__destroy(link: Ptr): number;
  bpf_program__attach_iter(prog: Ptr, opts: Ptr | null): Ptr | null;
  bpf_link__fd(link: Ptr): number;
  bpf_iter_create(linkFd: number): number;
  bpf_map_lookup_elem(fd: number, key: Buffer, value: Buffer): number;
  bpf_map_get_next_key(fd: number, key: Buffer | null, next: Buffer): number;
  bpf_map_update_elem(fd: number, key: Buffer, value: Buffer, flags: number): number;
  bpf_map_lookup_and_delete_batch: BatchFn;
  bpf_map_lookup_batch: BatchFn;
  bpf_obj_get_info_by_fd(fd: number, info: Buffer, len: Buffer): number;
  bpf_prog_load(
    type: number,
    name: string,
    license: string,
    insns: Buffer,
    count: number,
    opts: Ptr | null,
  ): number;
  bpf_raw_tracepoint_open(name: string, progFd: number): number;
  libbpf_num_possible_cpus(): number;
  libbpf_set_print(fn: Ptr | null): Ptr | null;
}

export interface Native {
  readonly bpf: LibBpf;
  readonly c: LibC;
  readonly printCallback: TypeObject;
}

let native: Native | undefined;

/** Loads libbpf.so.1 once; throws (with the dlopen message) when it is missing. */
export function loadNative(): Native {
  if (native) return native;
  const lib = koffi.load('libbpf.so.1');
  const printCallback = koffi.proto(
    'int libbpf_print_fn_t(int level, const char *fmt, void *args)',
  );
  const bpf: LibBpf = {
    bpf_object__open_mem: lib.func(
      'void *bpf_object__open_mem(const void *buf, size_t sz, const void *opts)',
    ),
    bpf_object__load: lib.func('int bpf_object__load(void *obj)'),
    bpf_object__close: lib.func('void bpf_object__close(void *obj)'),
    bpf_object__find_program_by_name: lib.func(
      'void *bpf_object__find_program_by_name(void *obj, const char *name)',
    ),
    bpf_object__find_map_by_name: lib.func(
      'void *bpf_object__find_map_by_name(void *obj, const char *name)',
    ),
    bpf_program__set_autoload: lib.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
    bpf_program__attach: lib.func('void *bpf_program__attach(void *prog)'),
    bpf_program__fd: lib.func('int bpf_program__fd(void *prog)'),
    bpf_map__set_max_entries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t n)'),
    bpf_map__max_entries: lib.func('uint32_t bpf_map__max_entries(void *map)'),
    bpf_map__set_autocreate: lib.func('int bpf_map__set_autocreate(void *map, bool create)'),
    bpf_map__fd: lib.func('int bpf_map__fd(void *map)'),
    bpf_map__set_initial_value: lib.func(
      'int bpf_map__set_initial_value(void *map, const void *data, size_t size)',
    ),
    bpf_link__destroy: lib.func('int bpf_link__destroy(void *link)'),
    bpf_program__attach_iter: lib.func(
      'void *bpf_program__attach_iter(void *prog, const void *opts)',
    ),
    bpf_link__fd: lib.func('int bpf_link__fd(void *link)'),
    bpf_iter_create: lib.func('int bpf_iter_create(int link_fd)'),
    bpf_map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
    bpf_map_get_next_key: lib.func(
      'int bpf_map_get_next_key(int fd, const void *key, void *next_key)',
    ),
    bpf_map_update_elem: lib.func(
      'int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)',
    ),
    bpf_map_lookup_and_delete_batch: lib.func(
      'int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, uint32_t *count, const void *opts)',
    ),
    bpf_map_lookup_batch: lib.func(
      'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, uint32_t *count, const void *opts)',
    ),
    bpf_obj_get_info_by_fd: lib.func(
      'int bpf_obj_get_info_by_fd(int fd, void *info, uint32_t *len)',
    ),
    bpf_prog_load: lib.func(
      'int bpf_prog_load(int type, const char *name, const char *license, const void *insns, size_t count, const void *opts)',
    ),
    bpf_raw_tracepoint_open: lib.func('int bpf_raw_tracepoint_open(const char *name, int prog_fd)'),
    libbpf_num_possible_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
    libbpf_set_print: lib.func(`void *libbpf_set_print(${koffi.pointer(printCallback).name} fn)`),
  } as LibBpf;
  const c = loadLibc();
  native = { bpf, c, printCallback };
  return native;
}

export function errno(): number {
  return koffi.errno();
}

export { koffi };
