/**
 * The run planner as the pure function it is: option sets in, the plan each
 * gives out. The filter matters only through what the kernel decides of it
 * (its split), so each row names one of three splits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/dsl/index.js';
import * as IR from '../../src/dsl/ir.js';
import {
  boundUs,
  DEFAULT_BUCKETS,
  DEFAULT_MAX_SERIES,
  type MetricsInput,
} from '../../src/plan/metrics.js';
import {
  METRICS_OPEN_PERIOD,
  type ProgramChoice,
  planRun,
  type RunInput,
} from '../../src/plan/run.js';
import { type Split, splitFilter } from '../../src/plan/split.js';

const split = (filter: string): Split => splitFilter(compileFilter(filter).pred!);
/** The kernel decides it exactly. */
const KERNEL = split('dport == 443');
/** Userspace must check part of it (a regular expression on comm). */
const USER = split('comm =~ /^cur/ and dport == 443');
/** The shipped program without clang: the whole filter in userspace. */
const SHIPPED: Split = { kernel: IR.TRUE, user: compileFilter('dport == 443').pred! };

type Row = [string, RunInput, Split, string, ProgramChoice?];

const metricsBy = (labels: string[]): MetricsInput => ({
  labels,
  buckets: DEFAULT_BUCKETS,
  maxSeries: DEFAULT_MAX_SERIES,
});

const rows: Row[] = [
  ['the default table', { format: 'table' }, KERNEL, 'fast'],
  ['JSON lines', { format: 'jsonl' }, KERNEL, 'fast'],
  ['data CSV with --fields', { format: 'csv', fields: ['comm', 'tx_b'] }, KERNEL, 'fast'],
  ['a filter userspace must finish', { format: 'jsonl' }, USER, 'print'],
  ['-t (a per-session timestamp)', { format: 'table', timestamp: true }, KERNEL, 'print'],
  ['--fields ts', { format: 'jsonl', fields: ['ts', 'comm'] }, KERNEL, 'print'],
  ['rule files', { format: 'jsonl', rules: true }, KERNEL, 'print'],
  ['-c (stop after N sessions)', { format: 'jsonl', exitAfter: 5 }, KERNEL, 'print'],
  ['metrics beside the output', { format: 'jsonl', metrics: true }, KERNEL, 'print'],
  ['--exact', { format: 'jsonl', sessionPathOnly: true }, KERNEL, 'print'],
  [
    '--exact --interval 1',
    { format: 'jsonl', interval: 1, sessionPathOnly: true },
    KERNEL,
    'summary',
  ],
  ['-o none with metrics', { format: 'none', metrics: true }, KERNEL, 'kernel-metrics'],
  [
    '-o none with metrics by comm and rport',
    { format: 'none', metrics: true, metricsOf: metricsBy(['comm', 'rport']) },
    KERNEL,
    'kernel-metrics',
  ],
  [
    '-o none with metrics by rule',
    { format: 'none', metrics: true, rules: true, metricsOf: metricsBy(['rule']) },
    KERNEL,
    'none',
  ],
  [
    '-o none with metrics by a field the kernel cannot key (span_ms)',
    { format: 'none', metrics: true, metricsOf: metricsBy(['span_ms']) },
    KERNEL,
    'none',
  ],
  [
    '-o none with metrics of more buckets than the kernel counts',
    {
      format: 'none',
      metrics: true,
      metricsOf: { ...metricsBy(['role']), buckets: Array.from({ length: 33 }, (_, i) => i + 1) },
    },
    KERNEL,
    'none',
  ],
  [
    '-o none with metrics, a filter userspace must finish',
    { format: 'none', metrics: true },
    USER,
    'none',
  ],
  [
    'without clang: -o none with metrics',
    { format: 'none', metrics: true },
    SHIPPED,
    'none',
    'shipped',
  ],
  ['-o none alone', { format: 'none' }, KERNEL, 'none'],
  ['--interval', { format: 'table', interval: 1 }, KERNEL, 'kernel-summary'],
  [
    '--interval --group-by comm,rport',
    { format: 'jsonl', interval: 1, groupBy: ['comm', 'rport'] },
    KERNEL,
    'kernel-summary',
  ],
  [
    '--group-by a field the kernel cannot key (span_ms)',
    { format: 'jsonl', interval: 1, groupBy: ['span_ms'] },
    KERNEL,
    'summary',
  ],
  ['--interval, a filter userspace must finish', { format: 'table', interval: 1 }, USER, 'summary'],
  ['--interval with metrics', { format: 'table', interval: 1, metrics: true }, KERNEL, 'summary'],
  ['--interval with rules', { format: 'table', interval: 1, rules: true }, KERNEL, 'summary'],
  ['--hist span', { format: 'table', hist: 'span_us' }, KERNEL, 'kernel-hist'],
  ['--hist tx --interval 1', { format: 'csv', hist: 'tx_b', interval: 1 }, KERNEL, 'kernel-hist'],
  ['--hist of a derived field (tx_kb)', { format: 'table', hist: 'tx_kb' }, KERNEL, 'hist'],
  ['--hist, a filter userspace must finish', { format: 'table', hist: 'span_us' }, USER, 'hist'],
  ['without clang: the table', { format: 'table' }, SHIPPED, 'print', 'shipped'],
  ['without clang: --interval', { format: 'table', interval: 1 }, SHIPPED, 'summary', 'shipped'],
  ['without clang: --hist span', { format: 'table', hist: 'span_us' }, SHIPPED, 'hist', 'shipped'],
  [
    'without clang, no filter: the fast path still serves',
    { format: 'jsonl' },
    { kernel: IR.TRUE, user: IR.TRUE },
    'fast',
    'shipped',
  ],
  ['--explain', { format: 'table', explain: 'explain', interval: 1 }, KERNEL, 'explain'],
  ['--ebpf', { format: 'jsonl', explain: 'ebpf' }, USER, 'explain'],
];

describe('the run planner', () => {
  for (const [what, input, s, kind, choice] of rows) {
    it(`${what} → ${kind}`, () => {
      expect(planRun(input, s, choice).path.kind).toBe(kind);
    });
  }

  it('the program summarises in the kernel exactly when the path says so', () => {
    for (const [what, input, s, , choice] of rows) {
      const p = planRun(input, s, choice);
      const inKernel = p.path.kind === 'kernel-hist' || p.path.kind === 'kernel-summary';
      expect(p.program.summarise !== undefined, what).toBe(inKernel);
    }
    const hist = planRun({ format: 'table', hist: 'rtt_us' }, KERNEL);
    expect(hist.program.summarise).toEqual({ groupBy: [], histOf: 'rtt_us' });
    const grouped = planRun({ format: 'table', interval: 2, groupBy: ['comm'] }, KERNEL);
    expect(grouped.program.summarise).toEqual({ groupBy: ['comm'] });
    expect(grouped.interval).toBe(2);
  });

  it('the program counts the metrics in the kernel exactly when the path says so, sending no records', () => {
    for (const [what, input, s, , choice] of rows) {
      const p = planRun(input, s, choice);
      expect(p.program.metrics !== undefined, what).toBe(p.path.kind === 'kernel-metrics');
    }
    const p = planRun(
      { format: 'none', metrics: true, metricsOf: { ...metricsBy(['comm']), maxSeries: 7 } },
      KERNEL,
    );
    expect(p.program.metrics).toEqual({
      labels: ['comm'],
      boundsUs: DEFAULT_BUCKETS.map((b) => Math.round(b * 1e6)),
      maxSeries: 7,
      only: true,
    });
    // The open sessions' bytes are walked for the metrics (counted by the walk, in the kernel).
    expect(p.open).toEqual({ periodSecs: METRICS_OPEN_PERIOD, print: false });
  });

  it("a bucket's bound in µs holds exactly the spans a Prometheus client puts in it", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
          fc.integer({ min: 1, max: 10 ** 9 }).map((n) => n / 1e6),
        ),
        (le) => {
          const u = boundUs(le);
          expect(u / 1e6 <= le).toBe(true);
          expect((u + 1) / 1e6 <= le).toBe(false);
        },
      ),
    );
  });

  it('sinks: stdout unless -o none or --explain; metrics when served', () => {
    expect(planRun({ format: 'none', metrics: true }, KERNEL).sinks).toEqual({
      stdout: false,
      metrics: true,
    });
    expect(planRun({ format: 'jsonl' }, KERNEL).sinks).toEqual({ stdout: true, metrics: false });
    expect(planRun({ format: 'jsonl', explain: 'ebpf' }, KERNEL).sinks.stdout).toBe(false);
  });

  it('records of open sessions: printed where lines are, metrics-only otherwise, none for summaries', () => {
    const open = (i: RunInput, s: Split = KERNEL) => planRun(i, s).open;
    expect(open({ format: 'jsonl', interim: 2 })).toEqual({ periodSecs: 2, print: true });
    expect(open({ format: 'table', interim: 3 }, USER)).toEqual({ periodSecs: 3, print: true });
    expect(open({ format: 'jsonl', interim: 2, metrics: true })).toEqual({
      periodSecs: 2,
      print: true,
    });
    // Metrics follow open sessions' bytes at the default period, printing nothing more.
    expect(open({ format: 'jsonl', metrics: true })).toEqual({
      periodSecs: METRICS_OPEN_PERIOD,
      print: false,
    });
    expect(open({ format: 'none', metrics: true, interim: 5 })).toEqual({
      periodSecs: 5,
      print: false,
    });
    expect(open({ format: 'jsonl' })).toBeUndefined();
    expect(open({ format: 'table', interval: 1, interim: 1 })).toBeUndefined();
    expect(open({ format: 'table', hist: 'span_us', interim: 1 })).toBeUndefined();
    expect(open({ format: 'table', interval: 1, metrics: true })).toBeUndefined();
    // The table says which rows are open sessions' (an EVENT column).
    const p = planRun({ format: 'table', interim: 1 }, KERNEL).path;
    expect(p.kind === 'fast' && p.format.open).toBe(true);
    const snap = planRun({ format: 'jsonl', snapshot: true }, KERNEL);
    expect(snap.snapshot).toBe(true);
    expect(snap.open).toBeUndefined();
  });

  it('the print paths carry the format options; program sizes pass through', () => {
    const p = planRun(
      { format: 'csv', classic: true, wide: true, ringBytes: 1 << 24, socketStorage: true },
      USER,
    );
    expect(p.path).toEqual({
      kind: 'print',
      format: {
        format: 'csv',
        time: false,
        timestamp: false,
        wide: true,
        extended: false,
        classic: true,
        rules: false,
      },
    });
    expect(p.program).toEqual({ ringBytes: 1 << 24, socketStorage: true });
  });
});
