/**
 * A running tcplife BPF program: generate, build (cached), load, attach, and
 * deliver sessions as an RxJS Observable whose teardown detaches and frees
 * everything.
 *
 * Delivery: the program submits records without waking us (a wake-up per
 * record costs the traced workload dearly), and we drain the ring on a timer
 * (a lone session shows within `pollMs`, 50 ms by default, as the C
 * reference's; fewer drains cost less CPU under a storm). When a burst
 * fills 1/8 of the ring the program forces a wake-up, which we take through a uv_poll handle on
 * the ring's fd — disarmed after each wake-up and re-armed by the timer, so
 * a steady stream cannot turn it into a busy loop.
 */
import { Observable, type Subscriber } from 'rxjs';
import { type ProgramSpec, STORE } from '../codegen/program.js';
import type { Settings } from '../codegen/settings.js';
import { type Decoder, makeDecoder, type Resolvers } from '../model/decode.js';
import { type DecodedSession, enumCode } from '../model/fields.js';
import { GROUP_VALUE_SIZE, METRIC_VALUE_SIZE } from '../model/groups.js';
import { RECORD_SIZE } from '../model/record.js';
import { collectGarbage } from '../util/gc.js';
import {
  BpfObject,
  InterruptedLoadError,
  type KernelCounters,
  kernelHasTracepoints,
  loadAttempts,
  storeOf,
} from './bpf-object.js';
import { type BuildResult, buildObject } from './build.js';
import { CgroupResolver } from './cgroups.js';
import { AttachError, BtfMissingError, PermissionError, TcplifeError } from './errors.js';
import { errno, koffi, loadNative } from './libbpf.js';
import type { MapName } from './manifest.js';
import { readAll, readAndDelete } from './map-batch.js';
import { type RecordHandler, RingReader } from './ringbuf.js';

const BATCH = 8192;
/** membarrier(2): wait until every CPU has passed an RCU grace period. */
const MEMBARRIER_CMD_GLOBAL = 1;

export interface TracerOptions {
  /** Where compiled objects are cached; null disables the cache. */
  readonly cacheDir?: string | null;
  readonly attach?: 'auto' | 'tp_btf' | 'raw_tp';
  /** Drain period in ms (default 25). */
  readonly pollMs?: number;
  /** While this returns true, records wait in the kernel ring (back-pressure). */
  readonly isPaused?: () => boolean;
  /** libbpf's log lines, for --verbose. */
  readonly onLog?: (line: string) => void;
  /**
   * Take a socket's owner at its first receive or send while it is unknown
   * (default: where the kernel has those tracepoints, Linux 6.3+): an
   * accepted session reset by its peer then still has its owner.
   */
  readonly ownerProbes?: boolean;
  /**
   * Find the TCP sessions already open when tracing starts (default true):
   * they are reported at close with start_seen false. Needs the walk over
   * open sessions (an iterator over tasks' files, tp_btf attach, Linux 5.11+).
   */
  readonly adopt?: boolean;
}

/** Takes records as the ring holds them (the fast path's writer), and the end of each drain. */
export interface RecordConsumer {
  record(dv: DataView, off: number, len: number, monoOffsetMs: number): void;
  flush(): void;
}

export interface TracerStats extends KernelCounters {
  /** State changes no program saw: runs the kernel skipped that the stand-in did not take. */
  recursion_misses: number;
  /** records read from the ring */
  delivered: number;
  /** records of sessions still open (interim, exit), from walks */
  open_records: number;
}

/** Where the loaded program keeps sessions' starts (said by -v and the loss report). */
export type SocketState = 'socket storage' | 'hash map' | 'hash map, then socket storage';

export interface StartupTimes {
  readonly buildMs: number;
  readonly loadMs: number;
  readonly attachMs: number;
}

export class Tracer {
  private delivered = 0;
  private closed = false;
  private reader: RingReader | undefined;
  private finalStats: TracerStats | undefined;
  private readonly monoOffsetMs: number;
  /** cgroup ids → paths and containers, for the decoder. */
  readonly cgroups = new CgroupResolver();
  /** How resolved fields (cgroup, container) are found from a record's ids. */
  readonly resolvers: Resolvers = {
    cgroup: (id) => this.cgroups.cgroup(id),
    container: (id) => this.cgroups.container(id),
    final: (id) => this.cgroups.isFinal(id),
  };
  private readonly decode: Decoder = makeDecoder(this.resolvers);
  private readonly subscribers = new Set<Subscriber<DecodedSession>>();
  private readonly consumers = new Set<RecordConsumer>();
  private stopDraining: (() => void) | undefined;

  private constructor(
    private readonly obj: BpfObject,
    readonly program: ProgramSpec,
    /** How the object was had (not the object: libbpf needs it only to open). */
    readonly build: Omit<BuildResult, 'object'>,
    readonly attachedWith: 'tp_btf' | 'raw_tp',
    /** The settings it was loaded with (the program's, or the fallback's). */
    private readonly loadedSettings: Settings,
    /** Whether the owner probes (sock_recv_length/sock_send_length) run. */
    readonly ownerProbes: boolean,
    readonly times: StartupTimes,
    private readonly opts: TracerOptions,
  ) {
    // bpf_ktime_get_ns and process.hrtime both read CLOCK_MONOTONIC.
    this.monoOffsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
  }

  /**
   * The ring's reader, its memory mapped on first use: when the first
   * subscriber or consumer is set up (a fast-path writer is made, and
   * compiled, before its mapping counts in our memory).
   */
  private ring(): RingReader {
    this.reader ??= new RingReader(this.obj.mapFd('events'), this.program.maxEntries.events);
    return this.reader;
  }

  /** Builds (or takes from the cache), loads and attaches a program spec. */
  static async start(program: ProgramSpec, options: TracerOptions = {}): Promise<Tracer> {
    const t0 = performance.now();
    const { object, ...build } = await buildObject(
      program.source,
      options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir },
    );
    const t1 = performance.now();
    const ownerProbes =
      options.ownerProbes !== false &&
      kernelHasTracepoints(['sock_recv_length', 'sock_send_length']);
    let lastError: unknown;
    // The load is a peak of the run's memory (util/gc.ts).
    collectGarbage();
    const attempts = loadAttempts(options.attach ?? 'auto', program.settings).flatMap((a) => [
      a,
      a,
      a,
    ]);
    for (let i = 0; i < attempts.length; i++) {
      const { attach: which, settings, walk } = attempts[i]!;
      if (i > 0 && attempts[i - 1] === attempts[i] && !(lastError instanceof InterruptedLoadError))
        continue;
      const obj = BpfObject.open(object, {
        maxEntries: program.maxEntries,
        startsAlone: program.startsAlone,
        settings,
        attach: which,
        ownerProbes,
        addrSets: program.addrSets,
        walk,
      });
      try {
        obj.load();
        const t2 = performance.now();
        obj.attach();
        // After attaching: a session that starts from now on is seen
        // starting; one already open is found by the walk.
        // (Not where socket storage holds every start: the walk's starts go to the hash.)
        if (options.adopt !== false && obj.canWalk && storeOf(which, settings) !== STORE.storage)
          obj.walk({ adopt: true, event: 0, minAgeNs: 0n });
        const t3 = performance.now();
        for (const l of obj.log) options.onLog?.(l.trimEnd());
        return new Tracer(
          obj,
          program,
          build,
          which,
          settings,
          ownerProbes,
          { buildMs: t1 - t0, loadMs: t2 - t1, attachMs: t3 - t2 },
          options,
        );
      } catch (e) {
        obj.close();
        lastError = e;
        // A load interrupted by a signal is tried again. An attach failure,
        // or a tp_btf program the kernel refuses (socket storage, direct
        // reads), is worth the next attempt (loadAttempts); missing
        // permission or BTF would be the same with raw_tp. The error that
        // ends the start carries its log as its detail; only a retried
        // attempt's log is passed on here.
        const fallback =
          e instanceof AttachError ||
          e instanceof InterruptedLoadError ||
          (which === 'tp_btf' &&
            !(e instanceof PermissionError) &&
            !(e instanceof BtfMissingError));
        if (!fallback) throw e;
        for (const l of obj.log) options.onLog?.(l.trimEnd());
      }
    }
    throw lastError;
  }

  /**
   * Sessions as they close. Every subscriber gets every session (the same
   * readonly object); the ring is drained while at least one is
   * subscribed, and the tracer closes when the last one unsubscribes.
   */
  sessions(): Observable<DecodedSession> {
    return new Observable<DecodedSession>((subscriber) => {
      if (this.closed) {
        subscriber.error(new TcplifeError('tracer is closed'));
        return;
      }
      this.subscribers.add(subscriber);
      this.handle = undefined;
      if (this.subscribers.size + this.consumers.size === 1) this.startDraining();
      return () => {
        this.subscribers.delete(subscriber);
        this.handle = undefined;
        if (this.subscribers.size + this.consumers.size === 0) this.close();
      };
    });
  }

  /**
   * Records as the ring holds them, undecoded, to `consumer` (beside any
   * session subscribers): the fast path, which writes output without a
   * Session per record. Like sessions(), the tracer drains while this is
   * subscribed; the Observable completes when the tracer closes.
   */
  records(consumer: RecordConsumer): Observable<never> {
    return new Observable<never>((subscriber) => {
      if (this.closed) {
        subscriber.error(new TcplifeError('tracer is closed'));
        return;
      }
      this.consumers.add(consumer);
      this.handle = undefined;
      this.onClose.add(subscriber);
      if (this.subscribers.size + this.consumers.size === 1) this.startDraining();
      return () => {
        this.consumers.delete(consumer);
        this.handle = undefined;
        this.onClose.delete(subscriber);
        if (this.subscribers.size + this.consumers.size === 0) this.close();
      };
    });
  }

  private readonly onClose = new Set<Subscriber<never>>();

  /** The handler while the subscribers and consumers stay the same. */
  private handle: RecordHandler | undefined;

  /**
   * What a drain does with each record: decode for subscribers, hand to
   * consumers. One function while they stay the same: a new one each drain
   * made V8 throw away the drain's optimized code ("wrong call target").
   */
  private handler(): RecordHandler {
    this.handle ??= this.makeHandler();
    return this.handle;
  }

  private makeHandler(): RecordHandler {
    const mono = this.monoOffsetMs;
    const one = this.consumers.size === 1 ? [...this.consumers][0]! : undefined;
    if (one && this.subscribers.size === 0) return (dv, off, len) => one.record(dv, off, len, mono);
    return (dv, off, len) => {
      for (const c of this.consumers) c.record(dv, off, len, mono);
      if (this.subscribers.size > 0) this.emit(this.decode(dv, off, len, mono));
    };
  }

  private flushConsumers(): void {
    for (const c of this.consumers) c.flush();
  }

  private emit(s: DecodedSession): void {
    // A subscriber may unsubscribe (or subscribe another) from inside next().
    for (const sub of this.subscribers.size === 1 ? this.subscribers : [...this.subscribers])
      sub.next(s);
  }

  private startDraining(): void {
    const reader = this.ring();
    let immediate: NodeJS.Immediate | undefined;
    let armed = true;

    const drain = () => {
      immediate = undefined;
      if (this.closed || this.subscribers.size + this.consumers.size === 0) return;
      if (this.opts.isPaused?.()) return; // the timer looks again
      const n = reader.drain(BATCH, this.handler());
      this.flushConsumers();
      this.delivered += n;
      if (n === BATCH) immediate = setImmediate(drain);
    };
    const woken = () => {
      poll.stop();
      armed = false;
      drain();
    };
    const poll = koffi.node.poll(this.obj.mapFd('events'), { readable: true }, woken);
    const timer = setInterval(() => {
      if (!armed && !this.closed) {
        poll.start({ readable: true }, woken);
        armed = true;
      }
      if (!immediate) drain();
    }, this.opts.pollMs ?? 50);
    this.stopDraining = () => {
      clearInterval(timer);
      if (immediate) clearImmediate(immediate);
      poll.close();
    };
  }

  /**
   * Drain what is left in the ring right now to the subscribers and
   * consumers: at exit, before a scrape, before the test helpers' counts.
   */
  drainNow(): number {
    if (this.closed) return 0;
    const reader = this.ring();
    const handle = this.handler();
    let total = 0;
    for (;;) {
      const n = reader.drain(BATCH, handle);
      total += n;
      if (n < BATCH) break;
    }
    this.flushConsumers();
    this.delivered += total;
    return total;
  }

  /** Whether open sessions can be reported (interim and exit records, snapshots). */
  get canWalk(): boolean {
    return !this.closed && this.obj.canWalk;
  }

  /**
   * Records of the sessions open now, to the subscribers and consumers as
   * the ring's are: each session whose last record (or start) is at least
   * `minAgeMs` old, as an `event` record with its totals so far, through the
   * kernel's filter. The ring is drained first, so a session's records stay
   * in order. `unseen`: sockets with no start are reported too, as adopted
   * ones would be, without keeping a start (a snapshot). Returns the number
   * of records.
   */
  reportOpen(event: 'interim' | 'exit', minAgeMs: number, unseen = false): number {
    if (!this.canWalk) return 0;
    this.drainNow();
    const out = this.obj.walk({
      adopt: false,
      unseen,
      event: enumCode('event', event),
      minAgeNs: BigInt(Math.round(minAgeMs * 1e6)),
    });
    const dv = new DataView(out.buffer, out.byteOffset, out.length);
    const handle = this.handler();
    const n = Math.floor(out.length / RECORD_SIZE);
    for (let i = 0; i < n; i++) handle(dv, i * RECORD_SIZE, RECORD_SIZE);
    this.flushConsumers();
    this.reportedOpen += n;
    return n;
  }

  /** Records of open sessions delivered (interim and exit). */
  private reportedOpen = 0;

  /**
   * Interim records every `periodSecs`: each walk reports the sessions
   * whose last record is at least a period old, a tenth of it being slack
   * for the timer's jitter (so that a session reported at one walk is
   * reported at the next). Returns what stops it; closing the tracer does too.
   */
  reportOpenEvery(periodSecs: number): () => void {
    const periodMs = periodSecs * 1000;
    const timer = setInterval(() => this.reportOpen('interim', periodMs * 0.9), periodMs);
    const stop = () => {
      clearInterval(timer);
      this.onClosing.delete(stop);
    };
    this.onClosing.add(stop);
    return stop;
  }

  /** What closing the tracer stops (interim timers). */
  private readonly onClosing = new Set<() => void>();

  private summaryIndex = 0;

  /**
   * In-kernel summaries: switches the program to the other groups map,
   * waits until no run can still be adding to this one (membarrier's global
   * command waits for an RCU grace period, and BPF programs run inside RCU
   * read sections), then reads and empties it, handing each group to visit.
   * Returns the number of groups.
   */
  takeGroups(
    visit: (key: DataView, keyOff: number, value: DataView, valueOff: number) => void,
  ): number {
    if (!this.program.summary || this.closed) return 0;
    const n = loadNative();
    const retired = this.summaryIndex === 0 ? 'groups_a' : 'groups_b';
    this.summaryIndex ^= 1;
    const zero = Buffer.alloc(4);
    const index = Buffer.alloc(4);
    index.writeUInt32LE(this.summaryIndex);
    if (n.bpf.bpf_map_update_elem(this.obj.mapFd('summary_map'), zero, index, 0) !== 0)
      throw new TcplifeError(`cannot switch the summary map (${n.c.strerror(errno())})`);
    if (n.c.membarrier(MEMBARRIER_CMD_GLOBAL, 0) !== 0) {
      // No membarrier: a program run lasts microseconds; wait far longer.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    return readAndDelete(this.obj.mapFd(retired), RECORD_SIZE, GROUP_VALUE_SIZE, visit);
  }

  /**
   * --metrics counted in the kernel (program.metrics): each label set's
   * counters as they are now, with its key read as a session (its labels
   * are that session's fields), then those of the label sets past the map's
   * room (`other`, no session). Nothing is emptied: the counters only grow.
   */
  readMetrics(
    visit: (labels: DecodedSession | undefined, value: DataView, valueOff: number) => void,
  ): void {
    if (!this.program.metrics || this.closed) return;
    readAll(this.obj.mapFd('metrics'), RECORD_SIZE, METRIC_VALUE_SIZE, (k, ko, v, vo) =>
      visit(this.decode(k, ko, RECORD_SIZE, 0), v, vo),
    );
    const n = loadNative();
    const value = Buffer.alloc(METRIC_VALUE_SIZE);
    if (n.bpf.bpf_map_lookup_elem(this.obj.mapFd('metrics_other'), Buffer.alloc(4), value) !== 0)
      throw new TcplifeError(`cannot read the kernel's metrics (${n.c.strerror(errno())})`);
    visit(undefined, new DataView(value.buffer, value.byteOffset, value.length), 0);
  }

  /** A map of the running program, by its name in the template (for tools and tests). */
  mapFd(name: MapName): number {
    return this.obj.mapFd(name);
  }

  /** The read-only settings the running program was given. */
  settings(): Settings {
    return this.obj.settings();
  }

  /**
   * Sessions whose start is remembered and whose close has not been seen
   * yet (the kernel's counters: socket storage cannot be counted by walking
   * it, and it needs no walking — the kernel frees it with the socket).
   */
  socketsTracked(): number {
    if (this.closed) return 0;
    const c = this.obj.counters();
    return Math.max(0, c.started + c.adopted - c.closed - c.stale);
  }

  /** Where the program keeps a socket's start. */
  get socketState(): SocketState {
    const store = storeOf(this.attachedWith, this.loadedSettings);
    return store === STORE.storage
      ? 'socket storage'
      : store === STORE.hashThenStorage
        ? 'hash map, then socket storage'
        : 'hash map';
  }

  /** Sockets the hash holds at once (0 when socket storage holds every start). */
  get hashSize(): number {
    const store = storeOf(this.attachedWith, this.loadedSettings);
    return store === STORE.storage
      ? 0
      : store === STORE.hash
        ? this.program.startsAlone
        : this.program.maxEntries.starts;
  }

  stats(): TracerStats {
    if (this.finalStats) return this.finalStats;
    // The kernel's skips first: a state change skipped after this read and
    // taken by the stand-in before the next adds to `nested` alone (never
    // below zero), where the other order would call it one no program saw.
    const misses = this.obj.recursionMisses();
    const counters = this.obj.counters();
    return {
      ...counters,
      recursion_misses: Math.max(0, misses - counters.nested),
      delivered: this.delivered,
      open_records: this.reportedOpen,
    };
  }

  close(): void {
    if (this.closed) return;
    this.finalStats = this.stats();
    this.closed = true;
    for (const stop of [...this.onClosing]) stop();
    this.stopDraining?.();
    this.stopDraining = undefined;
    for (const sub of [...this.subscribers]) sub.complete();
    this.subscribers.clear();
    for (const sub of [...this.onClose]) sub.complete();
    this.onClose.clear();
    this.consumers.clear();
    this.reader?.close();
    this.reader = undefined;
    this.cgroups.close();
    this.obj.close();
  }
}
