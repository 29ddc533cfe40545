/**
 * The idiomatic wrapper over libbpf: open a compiled object from memory,
 * size its maps, load it (capturing libbpf's log), attach it, read its
 * counters, and close it — close() is idempotent and frees everything.
 */

import { closeSync, existsSync, readSync } from 'node:fs';
import { type ProgramSpec, STORE } from '../codegen/program.js';
import {
  decodeSettings,
  encodeSettings,
  SETTINGS_BYTES,
  SETTINGS_SECTION,
  type Settings,
} from '../codegen/settings.js';
import type { Cidr } from '../dsl/addr.js';
import { COUNTER_NAMES, type KernelCounters } from '../model/counters.js';
import { encodeOpenWalk } from '../model/walk.js';
import {
  AttachError,
  BtfMissingError,
  LibbpfMissingError,
  PermissionError,
  TcplifeError,
  VerifierError,
  VerifierLogTruncatedError,
} from './errors.js';
import { errno, koffi, loadNative, type Native, type Ptr } from './libbpf.js';
import type { MapName, ProgramName } from './manifest.js';

const EPERM = 1;
const EINTR = 4;
const EAGAIN = 11;
const EACCES = 13;

/** A load interrupted by a signal (the verifier gives up with EAGAIN when one is pending): worth another try. */
export class InterruptedLoadError extends TcplifeError {}

export interface OpenOptions {
  readonly maxEntries: ProgramSpec['maxEntries'];
  /** The hash's size where it is the only store (raw_tp, or settings.socket_storage 0). */
  readonly startsAlone?: number;
  /** Read-only settings, written before load. */
  readonly settings: Settings;
  /** Which attach point: tp_btf (default), or raw_tp as a fallback. */
  readonly attach: 'tp_btf' | 'raw_tp';
  /** Load the owner probes on sock_recv_length/sock_send_length (Linux ≥ 6.3). */
  readonly ownerProbes?: boolean;
  /** The filter's long address sets, for the tries addr_set_0… (filled after load). */
  readonly addrSets?: readonly (readonly Cidr[])[];
  /** Load the walk over open sessions (tcplife_walk: an iterator over tasks' files, Linux 5.11+). */
  readonly walk?: boolean;
}

/** What one walk over the open sessions does (the template's struct open_walk). */
export interface WalkRequest {
  /** Give a start to TCP sockets open before tracing began (once, at the start). */
  readonly adopt: boolean;
  /** Report sockets without a start as adopted ones would be, keeping no start (a snapshot). */
  readonly unseen?: boolean;
  /** Report open sessions as records of this event code (0: none). */
  readonly event: number;
  /** ... whose last record (or start) is at least this old. */
  readonly minAgeNs: bigint;
}

/** The walk over open sessions: one iterator program over every task's files. */
const WALK: ProgramName = 'tcplife_walk';

/** The template's address tries (bpf/templates/tcplife.bpf.c: ADDR_SET). */
const ADDR_SETS = [
  'addr_set_0',
  'addr_set_1',
  'addr_set_2',
  'addr_set_3',
] as const satisfies readonly MapName[];

/** A trie key: prefix length, then the family byte and the address (struct addr_key). */
function addrKey(c: Cidr): Buffer {
  const k = Buffer.alloc(4 + 17);
  k.writeUInt32LE(8 + c.prefix, 0);
  k[4] = c.addr.family;
  for (let i = 0; i < c.addr.bytes.length; i++) k[5 + i] = c.addr.bytes[i]!;
  return k;
}

/** The programs of the template, by attach point. */
/**
 * With socket storage, `overflowed` only holds sockets whose storage the
 * kernel could not allocate (out of memory, or net.core.optmem_max).
 */
const OVERFLOWED_WITH_STORAGE = 1024;

/** One way to load the object: an attach point and the settings to load it with. */
export interface LoadAttempt {
  readonly attach: 'tp_btf' | 'raw_tp';
  readonly settings: Settings;
  /** With the walk over open sessions (an iterator over tasks' files: Linux 5.11). */
  readonly walk: boolean;
}

/**
 * What to try loading, in order, until the kernel takes one: tp_btf as
 * asked; where socket storage only backs the hash, tp_btf with the hash
 * alone (socket storage in tracing programs needs Linux 5.11; direct reads
 * 5.5); each first with the walk over open sessions, then without it (the
 * task-file iterator's bpf_sock_from_file needs 5.11 too); then the raw_tp
 * fallback, which has the hash alone anyway and no walk.
 */
export function loadAttempts(
  attach: 'auto' | 'tp_btf' | 'raw_tp',
  settings: Settings,
): LoadAttempt[] {
  const out: LoadAttempt[] = [];
  if (attach !== 'raw_tp') {
    const stores = [
      settings,
      ...(settings.socket_storage === STORE.hashThenStorage
        ? [{ ...settings, socket_storage: STORE.hash }]
        : []),
    ];
    for (const walk of [true, false])
      for (const s of stores) out.push({ attach: 'tp_btf', settings: s, walk });
  }
  if (attach !== 'tp_btf') out.push({ attach: 'raw_tp', settings, walk: false });
  return out;
}

/** Where the loaded program keeps sockets' starts: settings.socket_storage, as the attach point allows. */
export function storeOf(attach: 'tp_btf' | 'raw_tp', settings: Settings): number {
  return attach === 'tp_btf' ? settings.socket_storage : STORE.hash;
}

const MAIN = { tp_btf: 'tcplife_btf', raw_tp: 'tcplife_raw' } as const satisfies Record<
  string,
  ProgramName
>;
/** The main program's stand-in for state changes nested into its runs (the template says why). */
const NESTED = {
  tp_btf: 'tcplife_btf_nested',
  raw_tp: 'tcplife_raw_nested',
} as const satisfies Record<string, ProgramName>;
const OWNER_PROBES = {
  tp_btf: ['tcplife_recv_btf', 'tcplife_send_btf'],
  raw_tp: ['tcplife_recv_raw', 'tcplife_send_raw'],
} as const satisfies Record<string, readonly ProgramName[]>;

const tracepoints = new Map<string, boolean>();

/** `r0 = 0; exit`: a program that does nothing, attached a moment to ask after a tracepoint. */
const NOOP = Buffer.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;

/**
 * Whether the running kernel has every one of these tracepoints: the kernel
 * is asked, by attaching a program that does nothing to each one not asked
 * before and detaching it at once (no BTF is read here). Only the answers
 * are kept; none when no program can be loaded.
 */
export function kernelHasTracepoints(names: readonly string[]): boolean {
  const unknown = names.filter((n) => !tracepoints.has(n));
  if (unknown.length) {
    const b = native().bpf;
    const prog = b.bpf_prog_load(
      BPF_PROG_TYPE_RAW_TRACEPOINT,
      'tcplife_probe',
      'GPL',
      NOOP,
      2,
      null,
    );
    if (prog < 0) return false;
    try {
      for (const n of unknown) {
        const link = b.bpf_raw_tracepoint_open(n, prog);
        tracepoints.set(n, link >= 0);
        if (link >= 0) closeSync(link);
      }
    } finally {
      closeSync(prog);
    }
  }
  return names.every((n) => tracepoints.get(n));
}

function native(): Native {
  try {
    return loadNative();
  } catch (e) {
    throw new LibbpfMissingError(
      `cannot load libbpf.so.1: ${(e as Error).message}`,
      'install it with: apt-get install -y libbpf1 (or run scripts/setup.sh)',
    );
  }
}

/**
 * Runs fn with libbpf's log captured into an array of messages, each whole:
 * libbpf prints a program's verifier log as one message, often far longer
 * than a fixed buffer (the verdict is at its end).
 */
export function withLog<T>(n: Native, fn: (log: string[]) => T): T {
  const log: string[] = [];
  const cb = koffi.register((_level: number, fmt: string, args: Ptr) => {
    log.push(
      n.c.vformat(fmt, args) ?? `(a libbpf message of format ${fmt} could not be formatted)`,
    );
    return 0;
  }, koffi.pointer(n.printCallback));
  const old = n.bpf.libbpf_set_print(cb);
  try {
    return fn(log);
  } finally {
    n.bpf.libbpf_set_print(old);
    koffi.unregister(cb);
  }
}

/** The verifier's verdict, in a line: the last meaningful line of its log. */
export function summariseVerifierLog(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const verdict = [...lines]
    .reverse()
    .find((l) =>
      /invalid|unbounded|too (large|complex)|out of bounds|not allowed|unreachable|back-edge|exceeds|R\d+ .*(!=|type=)|permission/i.test(
        l,
      ),
    );
  return verdict ?? lines.find((l) => /processed \d+ insns/.test(l)) ?? lines.at(-1) ?? 'no log';
}

/**
 * The error for a program the verifier refused, from libbpf's log: its
 * verdict, and whether the log came whole (libbpf frames each program's
 * log; a frame without its end was cut, and the verdict may be missing).
 */
export function verifierFailure(text: string): VerifierError {
  if (text.includes('BEGIN PROG LOAD LOG') && !text.includes('END PROG LOAD LOG'))
    return new VerifierLogTruncatedError(
      `the kernel's verifier rejected the program, and its log was cut short (its verdict may be missing): ${summariseVerifierLog(text)}`,
      'run with --verbose for what there is of the verifier log',
      text,
    );
  return new VerifierError(
    `the kernel's verifier rejected the program: ${summariseVerifierLog(text)}`,
    'run with --verbose for the full verifier log',
    text,
  );
}

/** offsetof(struct bpf_prog_info, recursion_misses) in uapi/linux/bpf.h (checked by a test). */
export const RECURSION_MISSES_OFFSET = 208;
const PROG_INFO_SIZE = 256;

export type { KernelCounters };

export class BpfObject {
  private obj: Ptr | null;
  private readonly links: Ptr[] = [];
  private attachPoint: 'tp_btf' | 'raw_tp' = 'tp_btf';
  private ownerProbes = false;
  private progFd = -1;
  readonly log: string[] = [];
  private readonly n: Native;
  private readonly ncpu: number;

  private constructor(n: Native, obj: Ptr) {
    this.n = n;
    this.obj = obj;
    this.ncpu = n.bpf.libbpf_num_possible_cpus();
  }

  static open(object: Buffer, opts: OpenOptions): BpfObject {
    if (!existsSync('/sys/kernel/btf/vmlinux')) {
      throw new BtfMissingError(
        'this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing)',
        'tcplife needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (and Linux 5.8 or later; most distributions since 2020)',
      );
    }
    const n = native();
    const obj = withLog(n, (log) => {
      const o = n.bpf.bpf_object__open_mem(object, object.length, null);
      if (!o)
        throw new TcplifeError(
          `libbpf could not open the BPF object (errno ${errno()})`,
          undefined,
          log.join(''),
        );
      return o;
    });
    const self = new BpfObject(n, obj);
    try {
      self.configure(opts);
    } catch (e) {
      self.close();
      throw e;
    }
    return self;
  }

  private map(name: MapName): Ptr {
    const m = this.n.bpf.bpf_object__find_map_by_name(this.obj, name);
    if (!m) throw new TcplifeError(`BPF map ${name} not found`);
    return m;
  }

  private configure(opts: OpenOptions): void {
    const b = this.n.bpf;
    const wanted = new Set<string>([
      MAIN[opts.attach],
      NESTED[opts.attach],
      ...(opts.ownerProbes ? OWNER_PROBES[opts.attach] : []),
    ]);
    this.attachPoint = opts.attach;
    this.ownerProbes = opts.ownerProbes === true;
    if (opts.walk) wanted.add(WALK);
    this.walkLoaded = opts.walk === true;
    const all = [
      WALK,
      ...Object.values(MAIN),
      ...Object.values(NESTED),
      ...Object.values(OWNER_PROBES).flat(),
    ];
    for (const [name, want] of all.map((n) => [n, wanted.has(n)] as const)) {
      const p = b.bpf_object__find_program_by_name(this.obj, name);
      if (!p) throw new TcplifeError(`BPF program ${name} not found`);
      b.bpf_program__set_autoload(p, want);
    }
    // Only the maps in use take memory: socket storage where tp_btf uses
    // it, the hash `starts` unless socket storage holds every start.
    const store = storeOf(opts.attach, opts.settings);
    if (b.bpf_map__set_autocreate(this.map('sk_starts'), store !== STORE.hash) !== 0)
      throw new TcplifeError('cannot configure BPF map sk_starts');
    const sizes: Partial<Record<MapName, number>> =
      store === STORE.storage
        ? { ...opts.maxEntries, starts: 1, overflowed: OVERFLOWED_WITH_STORAGE }
        : store === STORE.hashThenStorage
          ? { ...opts.maxEntries, overflowed: OVERFLOWED_WITH_STORAGE }
          : { ...opts.maxEntries, starts: opts.startsAlone ?? opts.maxEntries.starts };
    for (const [name, n] of Object.entries(sizes) as [MapName, number][]) {
      if (b.bpf_map__set_max_entries(this.map(name), n) !== 0)
        throw new TcplifeError(`cannot set the size of BPF map ${name} to ${n}`);
    }
    // The address tries the filter uses, each as large as its set; the others are not made.
    this.addrSets = opts.addrSets ?? [];
    if (this.addrSets.length > ADDR_SETS.length)
      throw new TcplifeError(`more than ${ADDR_SETS.length} long address sets`);
    ADDR_SETS.forEach((name, i) => {
      const set = this.addrSets[i];
      if (
        b.bpf_map__set_autocreate(this.map(name), set !== undefined) !== 0 ||
        (set && b.bpf_map__set_max_entries(this.map(name), Math.max(1, set.length)) !== 0)
      )
        throw new TcplifeError(`cannot configure BPF map ${name}`);
    });
    const data = encodeSettings(opts.settings);
    if (b.bpf_map__set_initial_value(this.map(SETTINGS_SECTION), data, data.length) !== 0)
      throw new TcplifeError(`cannot set the program's settings (${SETTINGS_SECTION})`);
  }

  private addrSets: readonly (readonly Cidr[])[] = [];

  /** Fills the address tries from the filter's sets (once loaded, before attaching). */
  private fillAddrSets(): void {
    const one = Buffer.from([1]);
    this.addrSets.forEach((set, i) => {
      const fd = this.mapFd(ADDR_SETS[i]!);
      for (const c of set) {
        if (this.n.bpf.bpf_map_update_elem(fd, addrKey(c), one, 0) !== 0)
          throw new TcplifeError(
            `cannot fill the address set ${ADDR_SETS[i]} (${set.length} entries)`,
          );
      }
    });
  }

  load(): void {
    const rc = withLog(this.n, (log) => {
      const r = this.n.bpf.bpf_object__load(this.obj);
      this.log.push(...log);
      return r;
    });
    if (rc === 0) {
      this.fillAddrSets();
      return;
    }
    const err = -rc;
    const text = this.log.join('');
    if (err === EAGAIN || err === EINTR) {
      throw new InterruptedLoadError(
        'loading the BPF program was interrupted by a signal',
        'try again',
        text,
      );
    }
    const btf =
      /loading kernel BTF '([^']+)': -\d+|failed to find valid kernel BTF|Error loading vmlinux BTF/.exec(
        text,
      );
    if (btf) {
      const where = btf[1] ?? '/sys/kernel/btf/vmlinux';
      throw new BtfMissingError(
        `cannot read the kernel's BTF at ${where}: it is damaged or unreadable`,
        "tcplife relocates its program against the running kernel's own BTF; check that this file is the kernel's (CONFIG_DEBUG_INFO_BTF=y) and readable",
        text,
      );
    }
    // The verifier refuses with EACCES too: its log tells the two apart.
    if (/processed \d+ insns|verifier|R\d+/.test(text)) {
      throw verifierFailure(text);
    }
    if (err === EPERM || err === EACCES) {
      throw new PermissionError(
        'not permitted to load BPF programs',
        'run as root, or give this process CAP_BPF and CAP_PERFMON, e.g. a systemd unit with AmbientCapabilities (docs/operating.md: Running without root); never setcap the node binary',
        text,
      );
    }
    throw new TcplifeError(
      `loading the BPF program failed (${this.n.c.strerror(err)})`,
      "run with --verbose for libbpf's log",
      text,
    );
  }

  private attachProgram(name: ProgramName): Ptr | null {
    const prog = this.n.bpf.bpf_object__find_program_by_name(this.obj, name);
    const link = withLog(this.n, (log) => {
      const l = this.n.bpf.bpf_program__attach(prog);
      this.log.push(...log);
      return l;
    });
    if (link) this.links.push(link);
    return link;
  }

  /** Attaches the main program and its stand-in, then the owner probes if they were loaded. */
  attach(): void {
    const which = this.attachPoint;
    const main = MAIN[which];
    for (const name of [main, NESTED[which]]) {
      if (!this.attachProgram(name)) {
        const e = errno();
        throw new AttachError(
          `cannot attach to sock:inet_sock_set_state (${which}): ${this.n.c.strerror(e)}`,
          "run with --verbose for libbpf's log",
          this.log.join(''),
        );
      }
    }
    this.progFd = this.n.bpf.bpf_program__fd(
      this.n.bpf.bpf_object__find_program_by_name(this.obj, main),
    );
    if (this.ownerProbes) {
      for (const name of OWNER_PROBES[which]) {
        if (!this.attachProgram(name)) {
          const e = errno();
          throw new AttachError(
            `cannot attach ${name}: ${this.n.c.strerror(e)}`,
            "run with --verbose for libbpf's log",
            this.log.join(''),
          );
        }
      }
    }
  }

  private walkLoaded = false;
  private walkLink: Ptr | null = null;
  private walkSeq = 0n;

  /** Whether open sessions can be walked (the walk program was loaded). */
  get canWalk(): boolean {
    return this.walkLoaded;
  }

  /**
   * One walk over the open sessions: sets what it does, reads the
   * iterator to its end, and returns the records it wrote (the ring's
   * layout, one after another).
   */
  walk(req: WalkRequest): Buffer {
    const b = this.n.bpf;
    if (!this.walkLoaded) throw new TcplifeError('the walk over open sessions is not loaded');
    if (!this.walkLink) {
      const prog = b.bpf_object__find_program_by_name(this.obj, WALK);
      const link = withLog(this.n, (log) => {
        const l = b.bpf_program__attach_iter(prog, null);
        this.log.push(...log);
        return l;
      });
      if (!link)
        throw new AttachError(
          `cannot attach the walk over open sessions (iter/task_file): ${this.n.c.strerror(errno())}`,
          "run with --verbose for libbpf's log",
          this.log.join(''),
        );
      this.walkLink = link;
      this.links.push(link);
    }
    this.walkSeq++;
    const w = encodeOpenWalk({
      minAgeNs: req.minAgeNs,
      seq: this.walkSeq,
      event: req.event,
      adopt: req.adopt,
      unseen: req.unseen === true,
    });
    if (b.bpf_map_update_elem(this.mapFd('walk'), Buffer.alloc(4), w, 0) !== 0)
      throw new TcplifeError(`cannot set the walk (${this.n.c.strerror(errno())})`);
    const fd = b.bpf_iter_create(b.bpf_link__fd(this.walkLink));
    if (fd < 0) throw new TcplifeError(`cannot start the walk (${this.n.c.strerror(-fd)})`);
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const chunk = Buffer.allocUnsafe(1 << 16);
        let n: number;
        try {
          n = readSync(fd, chunk, 0, chunk.length, null);
        } catch (e) {
          // A walk cut short by a signal is read on; other errors end it.
          if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
          throw new TcplifeError(`reading the walk failed: ${(e as Error).message}`);
        }
        if (n === 0) break;
        chunks.push(chunk.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    return Buffer.concat(chunks);
  }

  mapFd(name: MapName): number {
    return this.n.bpf.bpf_map__fd(this.map(name));
  }

  /** Kernel counters summed over CPUs and over the two programs' entries (main, stand-in). */
  counters(): KernelCounters {
    const fd = this.mapFd('counters');
    const stride = COUNTER_NAMES.length * 8;
    const value = Buffer.alloc(stride * this.ncpu);
    const key = Buffer.alloc(4);
    const out = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as KernelCounters;
    for (const which of [0, 1]) {
      key.writeUInt32LE(which);
      if (this.n.bpf.bpf_map_lookup_elem(fd, key, value) !== 0) continue;
      for (let cpu = 0; cpu < this.ncpu; cpu++) {
        COUNTER_NAMES.forEach((name, i) => {
          out[name] += Number(value.readBigUInt64LE(cpu * stride + i * 8));
        });
      }
    }
    return out;
  }

  /** The read-only settings as the loaded program sees them (for --verbose and tests). */
  settings(): Settings {
    // The whole section: the kernel writes value_size bytes.
    const value = Buffer.alloc(SETTINGS_BYTES);
    if (this.n.bpf.bpf_map_lookup_elem(this.mapFd(SETTINGS_SECTION), Buffer.alloc(4), value) !== 0)
      throw new TcplifeError(`cannot read the program's settings (${SETTINGS_SECTION})`);
    return decodeSettings(value);
  }

  /**
   * Runs of the main program the kernel skipped (recursion). The stand-in
   * took those it counts as `nested`; the rest are state changes not seen.
   */
  recursionMisses(): number {
    if (this.progFd < 0) return 0;
    const info = Buffer.alloc(PROG_INFO_SIZE);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(PROG_INFO_SIZE);
    if (this.n.bpf.bpf_obj_get_info_by_fd(this.progFd, info, len) !== 0) return 0;
    if (len.readUInt32LE() < RECURSION_MISSES_OFFSET + 8) return 0;
    return Number(info.readBigUInt64LE(RECURSION_MISSES_OFFSET));
  }

  close(): void {
    this.walkLink = null;
    for (const l of this.links.splice(0)) this.n.bpf.bpf_link__destroy(l);
    if (this.obj) {
      this.n.bpf.bpf_object__close(this.obj);
      this.obj = null;
    }
    this.progFd = -1;
  }
}
