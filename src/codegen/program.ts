/**
 * A program spec: from the split of a checked filter to the C source of the
 * BPF program, plus what is not code (map sizes, read-only settings). A spec
 * is a value; kernel/ builds, loads and runs it. Nothing here touches the
 * kernel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cidr } from '../dsl/addr.js';
import { statsStructC } from '../model/counters.js';
import type { KernelHistField } from '../model/fields.js';
import { groupMask, groupsC, HIST_OF, METRIC_BOUNDS } from '../model/groups.js';
import { eventStructC } from '../model/record.js';
import { startStructC } from '../model/start.js';
import { openWalkStructC } from '../model/walk.js';
import type { GenerateMetrics } from '../plan/run.js';
import type { Split } from '../plan/split.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { emitFilter, enumsC } from './emit-c.js';
import { type Settings, settingsC } from './settings.js';
import { NO_SETTINGS_FILTER, settingsFilter } from './settings-filter.js';
import { fillTemplate } from './template.js';

export const TEMPLATE_PATH = join(PACKAGE_ROOT, 'bpf/templates/tcplife.bpf.c');
export const INCLUDE_DIR = join(PACKAGE_ROOT, 'bpf/include');

export const DEFAULT_RING_BYTES = 4 << 20;
/** Sockets the hash holds when socket storage takes those beyond them (tp_btf). */
export const DEFAULT_MAP_ENTRIES = 16_384;
/** ... and when the hash is the only store (the raw_tp fallback). */
export const DEFAULT_MAP_ENTRIES_ALONE = 131_072;

/** settings.socket_storage: where tp_btf programs keep a socket's start. */
export const STORE = { hash: 0, storage: 1, hashThenStorage: 2 } as const;
/** Groups an in-kernel summary holds per interval (each map; memory only as used). */
export const DEFAULT_MAX_GROUPS = 65_536;

export interface ProgramSpec {
  readonly split: Split;
  /** The generated filter expression alone (for --explain). */
  readonly filterC: string;
  /** The whole BPF C source: depends on the kernel part of the filter only. */
  readonly source: string;
  /** Map sizes, set before load (`starts` where socket storage backs the hash). */
  readonly maxEntries: {
    readonly events: number;
    readonly starts: number;
    readonly groups_a: number;
    readonly groups_b: number;
    readonly metrics: number;
  };
  /** --metrics counted in the kernel: the label fields, the buckets' bounds in µs. */
  readonly metrics?: { readonly labels: readonly string[]; readonly boundsUs: readonly number[] };
  /** Summaries made in the kernel: the fields they group by. */
  readonly summary?: { readonly groupBy: readonly string[] };
  /** The long address sets of the filter, in the tries addr_set_0… (filled at load). */
  readonly addrSets: readonly (readonly Cidr[])[];
  /** Read-only data, set before load. */
  readonly settings: Settings;
  /** The hash's size where it is the only store (raw_tp): --map-size, or a larger default. */
  readonly startsAlone: number;
}

export interface GenerateOptions {
  /** Ring buffer size in bytes (rounded up to a power of two, at least a page). */
  readonly ringBytes?: number;
  /** Sockets tracked at once. */
  readonly mapEntries?: number;
  /**
   * Summarise in the kernel, grouped by these fields, instead of a record
   * per session (the caller checks that the filter is the kernel's alone).
   * Ignored when a field cannot be keyed in the kernel: see summary.
   * `histOf`: what each group's histogram counts (default span_us).
   */
  readonly summarise?: {
    readonly groupBy: readonly string[];
    readonly maxGroups?: number;
    readonly histOf?: KernelHistField;
  };
  /**
   * tp_btf keeps every session's start in socket storage, not only those
   * beyond the hash's room (no hash at all, less memory; more BPF time per
   * session: docs/operating.md, --socket-storage).
   */
  readonly socketStorage?: boolean;
  /**
   * Count --metrics in the kernel: by these label fields (each keyed in the
   * kernel: groupMask), spans in buckets of at most these µs (at most
   * METRIC_BOUNDS), at most maxSeries label sets; `only`: send no records.
   */
  readonly metrics?: GenerateMetrics;
}

export function roundRingSize(bytes: number): number {
  let n = 4096;
  while (n < bytes) n *= 2;
  return n;
}

let template: string | undefined;

export function generateProgram(split: Split, opts: GenerateOptions = {}): ProgramSpec {
  const events = roundRingSize(opts.ringBytes ?? DEFAULT_RING_BYTES);
  const starts = opts.mapEntries ?? DEFAULT_MAP_ENTRIES;
  if (!Number.isSafeInteger(starts) || starts < 1 || starts > 0xffff_ffff)
    throw new RangeError(`bad map size ${starts}`);
  // A filter of PID, family and port sets is read from the settings: one
  // object for all of them; anything else is generated C.
  const fromSettings = settingsFilter(split.kernel);
  const emitted = fromSettings
    ? { expr: 'settings_filter(e)', data: '', addrSets: [] }
    : emitFilter(split.kernel);
  template ??= readFileSync(TEMPLATE_PATH, 'utf8');
  const mask = opts.summarise ? groupMask(opts.summarise.groupBy) : undefined;
  const groups = mask === undefined ? 1 : (opts.summarise?.maxGroups ?? DEFAULT_MAX_GROUPS);
  const metrics = opts.metrics;
  const metricMask = metrics ? groupMask(metrics.labels) : undefined;
  if (metrics && (metricMask === undefined || metrics.boundsUs.length > METRIC_BOUNDS))
    throw new RangeError('these metrics cannot be counted in the kernel');
  const quiet = mask !== undefined || metrics?.only === true;
  const source = fillTemplate(template, {
    EVENT_STRUCT: eventStructC(),
    ENUMS: enumsC(),
    STATS_STRUCT: statsStructC(),
    START_STRUCT: startStructC(),
    WALK_STRUCT: openWalkStructC(),
    GROUPS: groupsC(),
    SETTINGS: settingsC(),
    FILTER_DATA: emitted.data,
    FILTER_EXPR: emitted.expr,
  });
  return {
    split,
    filterC: emitted.expr,
    source,
    // Summaries and metrics alone in the kernel send no records: the ring is a page.
    maxEntries: {
      events: quiet ? 4096 : events,
      starts,
      groups_a: groups,
      groups_b: groups,
      metrics: metrics ? metrics.maxSeries : 1,
    },
    ...(mask !== undefined ? { summary: { groupBy: opts.summarise!.groupBy } } : {}),
    ...(metrics ? { metrics: { labels: metrics.labels, boundsUs: metrics.boundsUs } } : {}),
    addrSets: emitted.addrSets,
    // Wake the reader once 1/8 of the ring is used: a burst cannot fill it
    // between two timer ticks.
    settings: {
      wakeup_bytes: Math.max(4096, Math.floor(events / 8)),
      ...(fromSettings ?? NO_SETTINGS_FILTER),
      aggregate: mask === undefined ? 0 : 1,
      group_mask: mask ?? 0,
      hist_of: Math.max(0, HIST_OF.indexOf(opts.summarise?.histOf ?? 'span_us')),
      metrics: metrics ? (metrics.only ? 2 : 1) : 0,
      metric_mask: metricMask ?? 0,
      metric_bounds: Array.from({ length: METRIC_BOUNDS }, (_, i) =>
        metrics && i < metrics.boundsUs.length ? BigInt(metrics.boundsUs[i]!) : 2n ** 64n - 1n,
      ),
      socket_storage: opts.socketStorage ? STORE.storage : STORE.hashThenStorage,
    },
    startsAlone: opts.mapEntries ?? DEFAULT_MAP_ENTRIES_ALONE,
  };
}
