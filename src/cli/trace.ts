/**
 * `tcplife [options] [filter]`: the options are checked (options.ts) and
 * become filter terms that go through the same compiler as the filter text
 * (one path, not two); the run planner (plan/run.ts) chooses the path; the
 * tracer starts; the path's executor (executors.ts) runs until Ctrl-C,
 * SIGTERM, --duration or a closed pipe; then the exit account.
 */
import type { Server } from 'node:http';
import { generateProgram, type ProgramSpec } from '../codegen/program.js';
import type { Settings } from '../codegen/settings.js';
import { describeSettingsFilter } from '../codegen/settings-filter.js';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import * as IR from '../dsl/ir.js';
import { printExpr } from '../dsl/print.js';
import { printPred } from '../dsl/print-ir.js';
import { prebuiltObject } from '../kernel/build.js';
import { ClangMissingError, TcplifeError } from '../kernel/errors.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import type { Row } from '../pipeline/fields.js';
import { LineWriter } from '../pipeline/writer.js';
import { metricsInput } from '../plan/metrics.js';
import { makePlan, type Plan } from '../plan/plan.js';
import { planRun, type RunInput, type RunPlan } from '../plan/run.js';
import { type Execution, execute } from './executors.js';
import type { Io } from './io.js';
import { filterText, optionTerms, ruleInputs, runInput, type TraceCliOptions } from './options.js';
import { DEFAULT_BUFFER_BYTES, formatBytes } from './parse-args.js';
import { lossReport, writeFailure } from './report.js';

export { type TraceCliOptions, UsageError } from './options.js';

/** Said on stderr once the program is attached (unless -q), as BCC's tools say "Tracing...". */
export const TRACING_LINE = 'tcplife: tracing TCP sessions; Ctrl-C to end\n';

/** The settings that are numbers (the bitmaps aside), for --verbose. */
function scalarSettings(s: Settings): Record<string, number> {
  return Object.fromEntries(
    Object.entries(s).filter((e): e is [string, number] => typeof e[1] === 'number'),
  );
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
 * The tracer for the plan. Without clang, the shipped object (no kernel
 * filter) serves: the whole filter then runs in userspace over it, on the
 * plan made for that program.
 */
async function startTracer(
  filter: Plan,
  input: RunInput,
  plan: RunPlan,
  options: TracerOptions,
  io: Io,
): Promise<{ tracer: Tracer; plan: RunPlan }> {
  try {
    return {
      tracer: await Tracer.start(generateProgram(filter.split, plan.program), options),
      plan,
    };
  } catch (e) {
    const shippedSplit = { kernel: IR.TRUE, user: filter.pred };
    const shippedPlan = planRun(input, shippedSplit, 'shipped');
    const plain = generateProgram(shippedSplit, shippedPlan.program);
    if (!(e instanceof ClangMissingError) || !prebuiltObject(plain.source)) throw e;
    io.stderr(
      'tcplife: clang is not installed: the filter runs in userspace over the shipped program, so every session leaves the kernel (apt-get install -y clang libbpf-dev for in-kernel filtering)\n',
    );
    return { tracer: await Tracer.start(plain, options), plan: shippedPlan };
  }
}

/** What -v says of the sessions already open when tracing began (a snapshot adopts none). */
function adoptionLine(tracer: Tracer, plan: RunPlan): string {
  if (plan.snapshot) return '';
  if (tracer.socketState === 'socket storage')
    return 'tcplife: sessions already open are not looked for with --socket-storage (the walk keeps their starts in the socket map, which it does not have)\n';
  if (!tracer.canWalk)
    return 'tcplife: no walk over open sessions here (it needs the tp_btf program and Linux 5.11): sessions already open are not found\n';
  return `tcplife: ${tracer.stats().adopted} session(s) already open found at the start (reported at close with start_seen false)\n`;
}

/**
 * What the plan asks of open sessions that this tracer cannot give: a
 * snapshot without the walk is an error; --interim or the metrics' walk
 * without it, or over socket storage, is said on stderr.
 */
function checkOpenSessions(tracer: Tracer, plan: RunPlan, io: Io): void {
  if ((plan.snapshot || plan.open) && !tracer.canWalk) {
    const what = plan.snapshot
      ? 'tcplife snapshot'
      : plan.open?.print
        ? '--interim'
        : 'metrics of open sessions';
    const message = `${what} needs the walk over open sessions (an iterator over tasks' files: the tp_btf attach point and Linux 5.11 or later), which did not load here`;
    if (plan.snapshot) {
      tracer.close();
      throw new TcplifeError(message);
    }
    io.stderr(`tcplife: ${message}: sessions are reported at close only\n`);
  }
  if (plan.open && tracer.canWalk && tracer.socketState === 'socket storage')
    io.stderr(
      `tcplife: with --socket-storage every session's start is in its socket's storage, which the walk over open sessions cannot read: ${plan.open.print ? '--interim makes no interim or exit records' : "metrics count open sessions' bytes at close only"}\n`,
    );
}

function describeTracer(tracer: Tracer, plan: RunPlan): string {
  const b = tracer.build;
  const spec = tracer.program;
  const path = plan.path;
  return (
    `tcplife: attached with ${tracer.attachedWith}, sessions' starts in ${tracer.socketState === 'socket storage' ? 'socket storage' : `a hash map of ${tracer.hashSize} sockets${tracer.socketState === 'hash map' ? '' : ', then socket storage'}`}${tracer.ownerProbes ? ' (and the owner probes on sock_recv_length, sock_send_length)' : ''}: object ${b.prebuilt ? 'shipped with the package' : b.cached ? 'from cache' : 'compiled'} (${tracer.times.buildMs.toFixed(0)} ms${b.cacheNote ? `; ${b.cacheNote}` : ''}), load ${tracer.times.loadMs.toFixed(0)} ms, attach ${tracer.times.attachMs.toFixed(1)} ms\n` +
    (path.kind === 'kernel-hist'
      ? `tcplife: the ${path.field} histogram made in the kernel\n`
      : path.kind === 'kernel-summary'
        ? `tcplife: summaries made in the kernel, by ${path.groupBy.length ? path.groupBy.join(', ') : 'interval'} (at most ${spec.maxEntries.groups_a} groups an interval)\n`
        : path.kind === 'kernel-metrics'
          ? `tcplife: metrics counted in the kernel, by ${spec.metrics?.labels.join(', ') || 'nothing'} (at most ${spec.maxEntries.metrics} label sets)\n`
          : '') +
    adoptionLine(tracer, plan) +
    `tcplife: ring ${spec.maxEntries.events} bytes, ${tracer.socketState === 'socket storage' ? 'no socket map (socket storage)' : `socket map ${tracer.hashSize} entries`}, settings ${JSON.stringify(scalarSettings(tracer.settings()))}\n` +
    (tracer.cgroups.available
      ? `tcplife: cgroup paths relative to the cgroup2 mount ${tracer.cgroups.mount}\n`
      : 'tcplife: no cgroup2 mount in /proc/mounts: cgroup and container are empty\n')
  );
}

/** Metrics count what would be printed: the same filter, split and rules. */
async function serveMetrics(
  o: TraceCliOptions,
  tracer: Tracer,
  plan: RunPlan,
  io: Io,
): Promise<{ server: Server; add: (r: Row) => void }> {
  // Loaded when used: prom-client and an HTTP server cost memory.
  const { SessionMetrics } = await import('../pipeline/metrics.js');
  const metrics = new SessionMetrics({
    ...metricsInput({ labels: o.labels, buckets: o.buckets, maxSeries: o.maxSeries }),
    // Counted in the kernel: read at each scrape.
    ...(plan.path.kind === 'kernel-metrics'
      ? { kernel: (visit) => tracer.readMetrics(visit) }
      : {}),
    stats: () => tracer.stats(),
    beforeRender: () => tracer.drainNow(),
    onOverflow: (cap) =>
      io.stderr(
        `tcplife: more than ${cap} label sets: further sessions go to the __other__ series (--max-series)\n`,
      ),
  });
  const { host, port } = o.metrics!;
  try {
    const server = await metrics.listen(host, port, o.metricsMaxConnections);
    if (o.verbose) io.stderr(`tcplife: metrics at http://${host}:${port}/metrics\n`);
    return { server, add: (r) => metrics.add(r) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TcplifeError(
      `cannot serve metrics on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'no such local address' : (e as Error).message}`,
      'choose another --metrics [HOST:]PORT',
    );
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface EarlySignals {
  /** Stops listening; whether a signal came. */
  release(): boolean;
}

/**
 * From the line that says tracing has begun, Ctrl-C, SIGTERM and a hang-up
 * end tracing cleanly, also while the output is still being set up (the
 * fast path compiles its writer then): such a signal is kept until the
 * execution can be stopped, instead of killing the process.
 */
function catchEarlySignals(): EarlySignals {
  let caught = false;
  const on = () => {
    caught = true;
  };
  for (const sig of SIGNALS) process.on(sig, on);
  return {
    release: () => {
      for (const sig of SIGNALS) process.off(sig, on);
      return caught;
    },
  };
}

/**
 * Runs an execution until it ends by itself or is stopped: Ctrl-C, SIGTERM
 * and a hang-up, the end of --duration, or a reader that went away
 * (| head -3) end it the same way — drain, then the exit account.
 */
async function runUntilStopped(
  exec: (requestStop: () => void) => Execution,
  writer: LineWriter,
  duration: number | undefined,
  onPipeClosed: (f: () => void) => void,
  early: EarlySignals,
): Promise<Execution> {
  let stopping = false;
  let execution: Execution | undefined;
  const stop = () => {
    if (stopping || !execution) return;
    stopping = true;
    execution.stop();
  };
  execution = exec(stop);
  onPipeClosed(stop);
  for (const sig of SIGNALS) process.on(sig, stop);
  // A signal that came while the execution was set up ends it now.
  if (early.release()) stop();
  const timer = duration ? setTimeout(stop, duration * 1000) : undefined;
  // A reader that went away ends tracing now, not at the next write (a
  // file has none to lose: no wake-up is spent on it).
  const watch = writer.canLoseReader()
    ? setInterval(() => {
        if (writer.readerGone()) stop();
      }, 200)
    : undefined;
  try {
    await execution.done;
  } finally {
    if (timer) clearTimeout(timer);
    if (watch) clearInterval(watch);
    for (const sig of SIGNALS) process.off(sig, stop);
  }
  return execution;
}

export async function runTrace(args: string, o: TraceCliOptions, io: Io): Promise<number> {
  const input = runInput(o);
  const { text, name } = filterText(args, o);
  const planned = makePlan({
    filter: text,
    ...(name ? { filterName: name } : {}),
    terms: optionTerms(o),
    ...ruleInputs(o),
  });
  const filter = planned.plan;
  if (!filter) {
    io.stderr(`${renderDiagnostics(planned.diagnostics)}\n`);
    return 2;
  }
  const wanted = planRun(input, filter.split);

  let onPipeClosed = () => {};
  if (wanted.path.kind === 'explain') {
    const writer = new LineWriter(io.stdoutFd, () => {});
    const spec = generateProgram(filter.split, wanted.program);
    explain(filter, spec, wanted.path.ebpfOnly, writer);
    writer.flush();
    return 0;
  }

  const { tracer, plan } = await startTracer(
    filter,
    input,
    wanted,
    {
      cacheDir: o.cache ? undefined : null,
      ownerProbes: o.ownerProbes,
      attach: o.attach,
      // A snapshot reports the sockets it finds without keeping their starts.
      ...(o.snapshot ? { adopt: false } : {}),
      // libbpf's lines say 'libbpf:' themselves.
      ...((o.verbose ?? 0) >= 2 ? { onLog: (l: string) => io.stderr(`${l}\n`) } : {}),
    },
    io,
  );
  checkOpenSessions(tracer, plan, io);
  if (o.verbose) io.stderr(describeTracer(tracer, plan));
  const early = catchEarlySignals();
  // Scripts wait for this line to know that tracing has begun.
  if (!o.quiet) io.stderr(TRACING_LINE);
  // What the reader has not taken yet waits here, so the ring keeps draining.
  const bufferBytes = o.bufferSize ?? DEFAULT_BUFFER_BYTES;
  const writer = new LineWriter(
    io.stdoutFd,
    () => onPipeClosed(),
    () => onPipeClosed(),
    {
      maxQueued: bufferBytes,
      onQueueFull: (cap) =>
        io.stderr(
          `tcplife: ${formatBytes(cap)} of output wait for a slow reader: further sessions are dropped and counted until it catches up (a larger --buffer-size holds a longer stall)\n`,
        ),
    },
  );

  let metricsServer: Server | undefined;
  let tracked: number | undefined;
  let unwritten = 0;
  let execution: Execution;
  try {
    const metrics = plan.sinks.metrics ? await serveMetrics(o, tracer, plan, io) : undefined;
    metricsServer = metrics?.server;
    execution = await runUntilStopped(
      (requestStop) =>
        execute({
          tracer,
          plan,
          format: input.format,
          rules: filter.rules,
          writer,
          ...(metrics ? { tap: metrics.add } : {}),
          requestStop,
          stderr: io.stderr,
        }),
      writer,
      o.duration,
      (f) => {
        onPipeClosed = f;
      },
      early,
    );
    // Sockets whose start is remembered and whose close was not seen yet
    // (asked before the last subscriber leaves, which closes the tracer).
    tracked = tracer.socketsTracked();
    execution.subscription.unsubscribe();
  } finally {
    early.release();
    metricsServer?.close();
    tracer.close();
    // What waits for the reader goes out while the reader takes it.
    unwritten = writer.finish();
  }
  return exitAccount(o, io, tracer, writer, execution.printed(), tracked, unwritten);
}

/** What went wrong at the end, and the account (--stats, or always after a write error). */
function exitAccount(
  o: TraceCliOptions,
  io: Io,
  tracer: Tracer,
  writer: LineWriter,
  printed: number,
  tracked: number | undefined,
  unwritten: number,
): number {
  const cg = tracer.cgroups;
  if (o.verbose && cg.failed > 0)
    io.stderr(
      `tcplife: ${cg.failed} cgroup lookup(s) failed (${cg.failedWith === 24 ? 'no file descriptor left: EMFILE' : cg.failedWith === 23 ? 'no file descriptor left in the system: ENFILE' : `errno ${cg.failedWith}`}): those sessions' cgroup and container are empty; later sessions of the same cgroups were looked up again\n`,
    );
  if (o.verbose && tracer.cgroups.denied > 0)
    io.stderr(
      'tcplife: cgroup ids could not be resolved to paths (open_by_handle_at needs CAP_DAC_READ_SEARCH): cgroup and container are empty\n',
    );
  const failed = writer.error;
  if (failed) {
    io.stderr(`tcplife: ${writeFailure(failed)}; tracing stopped\n`);
  }
  // After a write error, the whole account: what was read, and how much of it was printed.
  const account = lossReport(
    tracer.stats(),
    o.stats === true || failed !== undefined,
    printed,
    tracked,
    tracer.socketState,
    { dropped: writer.dropped, unwritten },
  );
  for (const l of account) io.stderr(`${l}\n`);
  return failed ? 1 : 0;
}
