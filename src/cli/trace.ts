/**
 * `tcplife [options] [filter]`: options become filter terms that go through
 * the same compiler as the filter text (one path, not two), then the tracer
 * runs and sessions flow through RxJS operators to a formatter and stdout.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { map, type Observable, Subject, Subscription, take, tap } from 'rxjs';
import { generateProgram, type ProgramSpec } from '../codegen/program.js';
import type { Settings } from '../codegen/settings.js';
import { describeSettingsFilter } from '../codegen/settings-filter.js';
import type { Split } from '../codegen/split.js';
import type { Expr } from '../dsl/ast.js';
import { where } from '../dsl/builder.js';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import * as IR from '../dsl/ir.js';
import { printExpr } from '../dsl/print.js';
import { printPred } from '../dsl/print-ir.js';
import { prebuiltObject } from '../kernel/build.js';
import { ClangMissingError, TcplifeError } from '../kernel/errors.js';
import { Tracer } from '../kernel/tracer.js';
import { closeMs, type DecodedSession } from '../model/fields.js';
import { groupValue, HIST_OF, log2Counts } from '../model/groups.js';
import { fastWriter } from '../pipeline/fast.js';
import { OUT_FIELDS, type Row, resolveFields } from '../pipeline/fields.js';
import { createFormatter, type FormatOptions, type OutputFormat } from '../pipeline/formatters.js';
import { formatHistogram, HIST_CSV_HEADER, histogram } from '../pipeline/histogram.js';
import type { Window } from '../pipeline/intervals.js';
import {
  createSummaryFormatter,
  kernelSummaryAccumulator,
  summarize,
} from '../pipeline/summary.js';
import { userspacePart } from '../pipeline/tcplife.js';
import { LineWriter } from '../pipeline/writer.js';
import { makePlan, type Plan } from '../plan/plan.js';
import type { RuleSet } from '../rules/load.js';
import { readTextFile } from '../util/read-text.js';
import type { Io } from './io.js';
import { lossReport } from './report.js';

export class UsageError extends Error {}

export interface TraceCliOptions {
  time?: boolean;
  timestamp?: boolean;
  wide?: boolean;
  extended?: boolean;
  csv?: boolean;
  json?: boolean;
  output?: OutputFormat | 'json' | 'none';
  metrics?: { host: string; port: number };
  labels?: string[];
  maxSeries?: number;
  buckets?: number[];
  pid?: number;
  localport?: number[];
  remoteport?: number[];
  ipv4?: boolean;
  ipv6?: boolean;
  fields?: string[];
  interval?: number;
  count?: number;
  groupBy?: string[];
  hist?: string;
  exitAfter?: number;
  duration?: number;
  rules?: string[];
  rule?: string[];
  tag?: string[];
  filterFile?: string;
  stats?: boolean;
  explain?: boolean;
  ebpf?: boolean;
  verbose?: boolean;
  ringSize?: number;
  mapSize?: number;
  socketStorage?: boolean;
  cache: boolean;
  ownerProbes: boolean;
  attach: 'auto' | 'tp_btf' | 'raw_tp';
}

/** The one format asked for by -s, -j and -o (an error when they disagree). */
export function outputFormat(
  o: { csv?: boolean; json?: boolean; output?: OutputFormat | 'json' | 'none' },
  dflt: OutputFormat = 'table',
): OutputFormat | 'none' {
  const asked = new Set<OutputFormat | 'none'>();
  if (o.csv) asked.add('csv');
  if (o.json) asked.add('jsonl');
  if (o.output) asked.add(o.output === 'json' ? 'jsonl' : o.output);
  if (asked.size > 1)
    throw new UsageError(`choose one output format, not ${[...asked].join(' and ')}`);
  return [...asked][0] ?? dflt;
}

/** The rule files and the selection of their rules, as the planner takes them. */
export function ruleInputs(o: { rules?: string[]; rule?: string[]; tag?: string[] }) {
  return {
    ...(o.rules ? { rules: o.rules } : {}),
    ...(o.rule ? { only: o.rule } : {}),
    ...(o.tag ? { tags: o.tag } : {}),
  };
}

/** The settings that are numbers (the bitmaps aside), for --verbose. */
function scalarSettings(s: Settings): Record<string, number> {
  return Object.fromEntries(
    Object.entries(s).filter((e): e is [string, number] => typeof e[1] === 'number'),
  );
}

/** Short names for --hist, as BCC's tools have them. */
const HIST_SHORT: Readonly<Record<string, string>> = {
  span: 'span_us',
  tx: 'tx_b',
  rx: 'rx_b',
  rtt: 'rtt_us',
};

/** The field --hist draws: a numeric output field (span, tx, rx, rtt, or any other by name). */
function histField(name: string): string {
  const f = HIST_SHORT[name] ?? resolveFields([name]).fields[0];
  if (!f || OUT_FIELDS[f]?.json !== 'num' || f === 'ts')
    throw new UsageError(
      `--hist takes a numeric field: span, tx, rx, rtt, or one such as retrans or tx_kb; not '${name}'`,
    );
  return f;
}

/** The options' filter terms (-p, -L, -D, -4, -6), built with the typed builder. */
function optionTerms(o: TraceCliOptions): Expr[] {
  if (o.ipv4 && o.ipv6)
    throw new UsageError('-4 and -6 exclude each other; give neither to trace both');
  const terms: Expr[] = [];
  if (o.pid !== undefined) terms.push(where((f) => f.pid.eq(o.pid!)));
  if (o.localport) terms.push(where((f) => f.lport.in(...o.localport!)));
  if (o.remoteport) terms.push(where((f) => f.rport.in(...o.remoteport!)));
  if (o.ipv4) terms.push(where((f) => f.family.eq(4)));
  if (o.ipv6) terms.push(where((f) => f.family.eq(6)));
  return terms;
}

export function fieldsOption(names: string[] | undefined, what: string): string[] | undefined {
  if (!names) return undefined;
  const r = resolveFields(names);
  if (r.unknown.length) {
    throw new UsageError(
      `unknown field${r.unknown.length > 1 ? 's' : ''} for ${what}: ${r.unknown.join(', ')}; fields are ${Object.keys(OUT_FIELDS).join(', ')}`,
    );
  }
  if (r.fields.length === 0) throw new UsageError(`${what} needs at least one field name`);
  return r.fields;
}

function explain(p: Plan, prog: ProgramSpec, ebpfOnly: boolean, out: LineWriter): void {
  if (ebpfOnly) {
    out.line(prog.source);
    return;
  }
  const user = prog.split.user;
  const lines = [
    `filter:     ${p.ast ? printExpr(p.ast) : '(none: every session)'}`,
    ...(p.rules ? [`rules:      ${p.rules.selected.map((r) => r.name).join(', ')}`] : []),
    `checked:    ${printPred(p.pred)}`,
    `kernel:     ${printPred(prog.split.kernel)}`,
    `userspace:  ${user.k === 'const' && user.value ? 'nothing more: the kernel decides exactly' : printPred(user)}`,
    'kernel C:',
    ...prog.filterC.split('\n').map((l) => `  ${l}`),
    ...(prog.filterC === 'settings_filter(e)'
      ? [`  with read-only settings: ${describeSettingsFilter(prog.settings)}`]
      : []),
  ];
  out.line(lines.join('\n'));
}

/**
 * Node reads the command line as UTF-8 and turns what is not into U+FFFD;
 * the raw bytes in /proc/self/cmdline tell whether that is what was typed.
 */
function argvIsUtf8(): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(readFileSync('/proc/self/cmdline'));
    return true;
  } catch {
    return false;
  }
}

/** The rules a session matched, and their tags. */
/**
 * Windows of what the kernel summarised: every interval (or once, at the
 * end, without one), `take` reads and prints a window; the last is marked
 * partial when tracing stops before its end. Returns what ends it (on
 * Ctrl-C, the end of --duration, or after --count windows).
 */
function kernelWindows(
  intervalSecs: number | undefined,
  count: number | undefined,
  take: (w: Window) => void,
  done: () => void,
  stop: () => void,
): () => void {
  let start = Date.now();
  let emitted = 0;
  const window = (partial: boolean) => {
    const end = Date.now();
    const w = { start_ms: start, end_ms: end, partial };
    start = end;
    emitted++;
    take(w);
  };
  const timer =
    intervalSecs === undefined
      ? undefined
      : setInterval(() => {
          window(false);
          if (count && emitted >= count) stop();
        }, intervalSecs * 1000);
  return () => {
    if (timer) clearInterval(timer);
    // Without an interval the one window is whole.
    if (!(count && emitted >= count)) window(intervalSecs !== undefined);
    done();
  };
}

function matchedRules(rules: RuleSet, s: DecodedSession): { rules: string[]; tags: string[] } {
  const names = rules.tag(s);
  return { rules: names, tags: rules.tagsOf(names) };
}

export async function runTrace(args: string, o: TraceCliOptions, io: Io): Promise<number> {
  let text = args;
  const format = outputFormat(o);
  const fields = fieldsOption(o.fields, '--fields');
  const groupBy = fieldsOption(o.groupBy, '--group-by') ?? [];
  if ((o.count !== undefined || o.groupBy) && o.interval === undefined)
    throw new UsageError('--count and --group-by go with --interval');
  const hist = o.hist === undefined ? undefined : histField(o.hist);
  if ((o.labels || o.maxSeries || o.buckets) && !o.metrics)
    throw new UsageError('--labels, --max-series and --buckets go with --metrics');
  for (const l of o.labels ?? []) {
    if (l === 'rule') {
      if (!o.rules?.length) throw new UsageError('the rule label needs --rules FILE');
      continue;
    }
    const f = OUT_FIELDS[l];
    if (!f || f.json === 'list' || l === 'time' || l === 'ts')
      throw new UsageError(
        `--labels takes field names or rule, not '${l}' (tcplife fields lists them)`,
      );
  }
  if (hist && (o.groupBy || o.fields))
    throw new UsageError('--hist draws one field: it does not go with --group-by or --fields');
  if ((o.rule?.length || o.tag?.length) && !o.rules?.length)
    throw new UsageError(`${o.rule?.length ? '--rule' : '--tag'} needs --rules FILE`);

  if (text.includes('\uFFFD') && !argvIsUtf8())
    throw new UsageError(
      'the filter is not valid UTF-8 text; write a byte that is not part of a character as \\xHH inside a string ("\\xe9")',
    );
  let filterName: string | undefined;
  if (o.filterFile !== undefined) {
    if (text.trim() !== '')
      throw new UsageError('give the filter either as arguments or with -F FILE, not both');
    const read = readTextFile(o.filterFile);
    if (typeof read !== 'string')
      throw new UsageError(`cannot read filter file ${o.filterFile}: ${read.error}`);
    text = read;
    filterName = o.filterFile;
  }
  const planned = makePlan({
    filter: text,
    ...(filterName ? { filterName } : {}),
    terms: optionTerms(o),
    ...ruleInputs(o),
  });
  const p = planned.plan;
  if (!p) {
    io.stderr(`${renderDiagnostics(planned.diagnostics)}\n`);
    return 2;
  }
  // Summaries of a filter the kernel decides alone are made in the kernel:
  // counts, bytes and a span histogram per group, read once per interval
  // (TCPLIFE_SESSION_PATH=1 keeps them in userspace, to compare).
  // --hist of a record member a group's histogram can count (HIST_OF).
  const histOf = HIST_OF.find((m) => m === hist);
  const histInKernel = histOf !== undefined;
  // The paths without a Session per record (summaries in the kernel, the
  // fast writer) serve runs with nothing else to do per session, over a
  // program whose kernel part decides the whole filter.
  const noPerSessionWork =
    !o.metrics && !o.exitAfter && !p.rules && process.env.TCPLIFE_SESSION_PATH !== '1';
  const decidedInKernel = (split: Split) => split.user.k === 'const' && split.user.value;
  const summariseInKernel =
    (o.interval !== undefined || histInKernel) &&
    (!hist || histInKernel) &&
    noPerSessionWork &&
    decidedInKernel(p.split);
  const programOptions = {
    ...(o.ringSize ? { ringBytes: o.ringSize } : {}),
    ...(o.mapSize ? { mapEntries: o.mapSize } : {}),
    ...(o.socketStorage ? { socketStorage: true } : {}),
  };
  const spec = generateProgram(p.split, {
    ...programOptions,
    ...(summariseInKernel ? { summarise: { groupBy, ...(histOf ? { histOf } : {}) } } : {}),
  });

  let onPipeClosed = () => {};
  const writer = new LineWriter(
    io.stdoutFd,
    () => onPipeClosed(),
    () => onPipeClosed(),
  );
  if (o.explain || o.ebpf) {
    explain(p, spec, o.ebpf === true && !o.explain, writer);
    writer.flush();
    return 0;
  }

  const tracerOptions = {
    cacheDir: o.cache ? undefined : null,
    ownerProbes: o.ownerProbes,
    attach: o.attach,
    // libbpf's lines say 'libbpf:' themselves.
    ...(o.verbose ? { onLog: (l: string) => io.stderr(`${l}\n`) } : {}),
  };
  let tracer: Tracer;
  try {
    tracer = await Tracer.start(spec, tracerOptions);
  } catch (e) {
    // No clang: the shipped object has no kernel filter; the whole filter then
    // runs in userspace over it (every session leaves the kernel).
    const plain = generateProgram({ kernel: IR.TRUE, user: p.pred }, programOptions);
    if (!(e instanceof ClangMissingError) || !prebuiltObject(plain.source)) throw e;
    io.stderr(
      'tcplife: clang is not installed: the filter runs in userspace over the shipped program, so every session leaves the kernel (apt-get install -y clang libbpf-dev for in-kernel filtering)\n',
    );
    tracer = await Tracer.start(plain, tracerOptions);
  }
  if (o.verbose) {
    const b = tracer.build;
    io.stderr(
      `tcplife: attached with ${tracer.attachedWith}, sessions' starts in ${tracer.socketState === 'socket storage' ? 'socket storage' : `a hash map of ${tracer.hashSize} sockets${tracer.socketState === 'hash map' ? '' : ', then socket storage'}`}${tracer.ownerProbes ? ' (and the owner probes on sock_recv_length, sock_send_length)' : ''}: object ${b.prebuilt ? 'shipped with the package' : b.cached ? 'from cache' : 'compiled'} (${tracer.times.buildMs.toFixed(0)} ms${b.cacheNote ? `; ${b.cacheNote}` : ''}), load ${tracer.times.loadMs.toFixed(0)} ms, attach ${tracer.times.attachMs.toFixed(1)} ms\n` +
        (tracer.program.summary
          ? hist
            ? `tcplife: the ${hist} histogram made in the kernel\n`
            : `tcplife: summaries made in the kernel, by ${groupBy.length ? groupBy.join(', ') : 'interval'} (at most ${spec.maxEntries.groups_a} groups an interval)\n`
          : '') +
        `tcplife: ring ${spec.maxEntries.events} bytes, ${tracer.socketState === 'socket storage' ? 'no socket map (socket storage)' : `socket map ${tracer.hashSize} entries`}, settings ${JSON.stringify(scalarSettings(tracer.settings()))}\n`,
    );
    io.stderr(
      tracer.cgroups.available
        ? `tcplife: cgroup paths relative to the cgroup2 mount ${tracer.cgroups.mount}\n`
        : 'tcplife: no cgroup2 mount in /proc/mounts: cgroup and container are empty\n',
    );
  }

  const rules = p.rules;
  let first: number | undefined;
  const src = new Subject<DecodedSession>();
  // The tracer's own split: the whole filter when it had to run without clang.
  const matched = src.pipe(userspacePart(tracer.program.split.user));
  // A session is shared with every subscriber: extras go on a copy.
  let rows: Observable<Row> =
    o.timestamp || rules
      ? matched.pipe(
          map((s): Row => {
            const at = closeMs(s);
            first ??= at;
            return {
              ...s,
              ...(o.timestamp ? { ts: (at - first) / 1000 } : {}),
              ...(rules ? matchedRules(rules, s) : {}),
            };
          }),
        )
      : matched;
  if (o.exitAfter) rows = rows.pipe(take(o.exitAfter));

  // Metrics count what would be printed: the same filter, split and rules.
  let metricsServer: Server | undefined;
  if (o.metrics) {
    // Loaded when used: prom-client and an HTTP server cost memory.
    const { DEFAULT_LABELS, SessionMetrics } = await import('../pipeline/metrics.js');
    const labels = o.labels ?? DEFAULT_LABELS;
    const metrics = new SessionMetrics({
      labels,
      ...(o.buckets ? { buckets: o.buckets } : {}),
      ...(o.maxSeries ? { maxSeries: o.maxSeries } : {}),
      stats: () => tracer.stats(),
      onOverflow: (cap) =>
        io.stderr(
          `tcplife: more than ${cap} label sets: further sessions go to the __other__ series (--max-series)\n`,
        ),
    });
    const { host, port } = o.metrics;
    try {
      metricsServer = await metrics.listen(host, port);
    } catch (e) {
      tracer.close();
      const code = (e as NodeJS.ErrnoException).code;
      throw new TcplifeError(
        `cannot serve metrics on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : (e as Error).message}`,
        'choose another --metrics [HOST:]PORT',
      );
    }
    if (o.verbose) io.stderr(`tcplife: metrics at http://${host}:${port}/metrics\n`);
    rows = rows.pipe(tap((r) => metrics.add(r)));
  }

  let printed = 0;
  let tracked: number | undefined;
  let countPrinted = () => printed;
  let stopping = false;

  // Every session the kernel sends, printed as it is: the fast path writes
  // records straight to bytes, without a Session each (fast.ts). It makes
  // the same bytes (tested); TCPLIFE_SESSION_PATH=1 turns it off, to compare.
  const formatOptions: FormatOptions | undefined =
    format === 'none' || hist || o.interval !== undefined
      ? undefined
      : {
          format,
          ...(fields ? { fields } : {}),
          time: o.time === true,
          timestamp: o.timestamp === true,
          wide: o.wide === true,
          extended: o.extended === true,
          // -s keeps the original's CSV; -o csv is data CSV.
          classic: o.csv === true,
          rules: rules !== undefined,
        };
  const fast =
    formatOptions && noPerSessionWork && decidedInKernel(tracer.program.split)
      ? fastWriter(formatOptions, tracer.resolvers, (bytes, lines) => writer.bytes(bytes, lines))
      : undefined;
  let fastDone = () => {};
  let summaryDone: (() => void) | undefined;

  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (summaryDone) {
      summaryDone();
      return;
    }
    // Sessions already in the ring are printed before exit.
    if (fast) {
      if (!writer.closed) tracer.drainNow();
      fastDone();
      return;
    }
    if (!writer.closed) tracer.flush((s) => src.next(s));
    src.complete();
  };
  onPipeClosed = stop;

  const done = new Promise<void>((resolve, reject) => {
    const complete = { error: reject, complete: () => resolve() };
    if (format === 'none') {
      rows.subscribe({ next: () => {}, ...complete });
    } else if (hist && tracer.program.summary) {
      // The histogram made in the kernel: its log2 buckets, exactly.
      if (format === 'csv') writer.line(HIST_CSV_HEADER);
      summaryDone = kernelWindows(
        o.interval,
        o.count,
        (w) => {
          const hists: Uint32Array[] = [];
          // Copies: the batch buffer is reused once takeGroups returns.
          tracer.takeGroups((_k, _ko, v, vo) => {
            hists.push(groupValue(v, vo).hist.slice());
          });
          // As histogram() does: every window, but a cut-short last one only with sessions.
          if (w.partial && hists.length === 0) return;
          const counts = log2Counts(hists);
          for (const l of formatHistogram({ ...w, field: hist, counts }, format)) writer.line(l);
        },
        resolve,
        stop,
      );
    } else if (hist) {
      if (format === 'csv') writer.line(HIST_CSV_HEADER);
      rows
        .pipe(
          histogram(hist, {
            ...(o.interval !== undefined ? { intervalMs: o.interval * 1000 } : {}),
            ...(o.count ? { count: o.count } : {}),
          }),
        )
        .subscribe({
          next: (h) => {
            for (const l of formatHistogram(h, format)) writer.line(l);
          },
          ...complete,
        });
    } else if (o.interval !== undefined && tracer.program.summary) {
      const f = createSummaryFormatter(format, groupBy);
      const h = f.header();
      if (h) writer.line(h);
      // As summarize() does: an interval without groups prints nothing
      // when grouping; the last, cut short, only when it has sessions.
      summaryDone = kernelWindows(
        o.interval,
        o.count,
        (w) => {
          const acc = kernelSummaryAccumulator(groupBy, tracer.resolvers);
          tracer.takeGroups((k, ko, v, vo) => acc.add(k, ko, v, vo));
          if (acc.size > 0 || (groupBy.length === 0 && !w.partial))
            printed += acc.finish(w, (r) => writer.line(f.row(r)));
        },
        resolve,
        stop,
      );
    } else if (o.interval !== undefined) {
      const f = createSummaryFormatter(format, groupBy);
      const h = f.header();
      if (h) writer.line(h);
      rows
        .pipe(
          summarize({
            intervalMs: o.interval * 1000,
            groupBy,
            ...(o.count ? { count: o.count } : {}),
          }),
        )
        .subscribe({
          next: (rs) => {
            for (const r of rs) writer.line(f.row(r));
            printed += rs.length;
          },
          ...complete,
        });
    } else if (formatOptions) {
      const f = createFormatter(formatOptions);
      const h = f.header();
      if (h) writer.line(h);
      const headerLines = h ? 1 : 0;
      if (fast) fastDone = resolve;
      else
        rows.subscribe({
          next: (r) => writer.line(f.row(r)),
          ...complete,
        });
      // Printed: what stdout took, without the header.
      countPrinted = () => Math.max(0, writer.written - headerLines);
    }
  });

  // Summaries made in the kernel send no records: nothing to drain.
  const kernelSub = tracer.program.summary
    ? Subscription.EMPTY
    : fast
      ? tracer.records(fast).subscribe({ error: (e) => io.stderr(`tcplife: ${e}\n`) })
      : tracer.sessions().subscribe(src);
  // Ctrl-C, SIGTERM and a hang-up end tracing the same way: drain, report, exit.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, stop);
  const timer = o.duration ? setTimeout(stop, o.duration * 1000) : undefined;
  // A reader that went away (| head -3) ends tracing now, not at the next write.
  const watch = setInterval(() => {
    if (writer.readerGone()) stop();
  }, 200);
  try {
    await done;
  } finally {
    if (timer) clearTimeout(timer);
    clearInterval(watch);
    for (const sig of signals) process.off(sig, stop);
    metricsServer?.close();
    // Sockets whose start is remembered and whose close was not seen yet
    // (asked before the last subscriber leaves, which closes the tracer).
    tracked = tracer.socketsTracked();
    kernelSub.unsubscribe();
    tracer.close();
    writer.flush();
  }
  if (o.verbose && tracer.cgroups.denied > 0)
    io.stderr(
      'tcplife: cgroup ids could not be resolved to paths (open_by_handle_at needs CAP_DAC_READ_SEARCH): cgroup and container are empty\n',
    );
  const failed = writer.error;
  if (failed) {
    io.stderr(
      `tcplife: cannot write to stdout: ${failed.code === 'ENOSPC' ? 'no space left on device' : failed.message} (${failed.code ?? 'error'}); tracing stopped\n`,
    );
  }
  // After a write error, the whole account: what was read, and how much of it was printed.
  const account = lossReport(
    tracer.stats(),
    o.stats === true || failed !== undefined,
    countPrinted(),
    tracked,
    tracer.socketState,
  );
  for (const l of account) io.stderr(`${l}\n`);
  return failed ? 1 : 0;
}
