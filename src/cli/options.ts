/**
 * The tracing command's options, checked: every combination that makes no
 * sense is a UsageError (exit 2) here, before anything is planned or loaded;
 * what passes becomes the run planner's input (src/plan/run.ts) and the
 * filter's option terms.
 */

import { readFileSync } from 'node:fs';
import type { Expr } from '../dsl/ast.js';
import { where } from '../dsl/builder.js';
import { ENTRIES } from '../model/fields.js';
import type { OutputFormat } from '../model/output.js';
import { OUT_FIELDS, resolveFields } from '../pipeline/fields.js';
import { RULE_GROUP } from '../pipeline/summary.js';
import { metricsInput } from '../plan/metrics.js';
import type { RunInput } from '../plan/run.js';
import { readTextFile } from '../util/read-text.js';

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
  metricsMaxConnections?: number;
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
  /** summaries' percentiles exact: the per-session paths only */
  exact?: boolean;
  explain?: boolean;
  ebpf?: boolean;
  /** -v: 1; -vv: 2 (libbpf's log too) */
  verbose?: number;
  quiet?: boolean;
  ringSize?: number;
  bufferSize?: number;
  mapSize?: number;
  socketStorage?: boolean;
  /** --interim SECS: records of sessions still open, every SECS seconds, and at exit */
  interim?: number;
  /** tcplife snapshot: the sessions open now, then exit */
  snapshot?: boolean;
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
  if ((o.rule?.length || o.tag?.length) && !o.rules?.length)
    throw new UsageError(`${o.rule?.length ? '--rule' : '--tag'} needs --rules FILE`);
  return {
    ...(o.rules ? { rules: o.rules } : {}),
    ...(o.rule ? { only: o.rule } : {}),
    ...(o.tag ? { tags: o.tag } : {}),
  };
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

/** Short names for --hist, as BCC's tools have them. */
const HIST_SHORT: Readonly<Record<string, string>> = Object.fromEntries(
  ENTRIES.filter((e) => e.spec.histName).map((e) => [e.spec.histName!, e.name]),
);

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
export function optionTerms(o: TraceCliOptions): Expr[] {
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

function checkMetricsOptions(o: TraceCliOptions): void {
  if ((o.labels || o.maxSeries || o.buckets || o.metricsMaxConnections) && !o.metrics)
    throw new UsageError(
      '--labels, --max-series, --buckets and --metrics-max-connections go with --metrics',
    );
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
}

/**
 * --group-by: fields, and `rule` (with --rules), as --labels takes them: a
 * session then counts once in the group of each rule it matched.
 */
export function groupByOption(o: { groupBy?: string[]; rules?: string[] }): string[] {
  const names = o.groupBy ?? [];
  if (!names.includes(RULE_GROUP)) return fieldsOption(o.groupBy, '--group-by') ?? [];
  if (!o.rules?.length) throw new UsageError('--group-by rule needs --rules FILE');
  const others = names.filter((n) => n !== RULE_GROUP);
  const fields = others.length ? fieldsOption(others, '--group-by')! : [];
  let i = 0;
  return names.map((n) => (n === RULE_GROUP ? n : fields[i++]!));
}

/** The tracing options, checked, as the run planner takes them. */
export function runInput(o: TraceCliOptions): RunInput {
  const format = outputFormat(o);
  const fields = fieldsOption(o.fields, '--fields');
  const groupBy = groupByOption(o);
  if ((o.count !== undefined || o.groupBy) && o.interval === undefined)
    throw new UsageError('--count and --group-by go with --interval');
  const hist = o.hist === undefined ? undefined : histField(o.hist);
  checkMetricsOptions(o);
  if (hist && (o.groupBy || o.fields))
    throw new UsageError('--hist draws one field: it does not go with --group-by or --fields');
  if (o.interim !== undefined && o.interim < 1)
    throw new UsageError('--interim takes at least 1 second');
  return {
    format,
    ...(fields ? { fields } : {}),
    ...(o.interval !== undefined ? { interval: o.interval } : {}),
    ...(o.count !== undefined ? { count: o.count } : {}),
    groupBy,
    ...(hist ? { hist } : {}),
    metrics: o.metrics !== undefined,
    ...(o.metrics !== undefined
      ? {
          metricsOf: metricsInput({
            labels: o.labels,
            buckets: o.buckets,
            maxSeries: o.maxSeries,
          }),
        }
      : {}),
    ...(o.exitAfter ? { exitAfter: o.exitAfter } : {}),
    rules: (o.rules?.length ?? 0) > 0,
    time: o.time === true,
    timestamp: o.timestamp === true,
    wide: o.wide === true,
    extended: o.extended === true,
    classic: o.csv === true,
    ...(o.explain ? { explain: 'explain' as const } : o.ebpf ? { explain: 'ebpf' as const } : {}),
    sessionPathOnly: o.exact === true,
    ...(o.ringSize ? { ringBytes: o.ringSize } : {}),
    ...(o.mapSize ? { mapEntries: o.mapSize } : {}),
    ...(o.socketStorage ? { socketStorage: true } : {}),
    ...(o.interim !== undefined ? { interim: o.interim } : {}),
    ...(o.snapshot ? { snapshot: true } : {}),
  };
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

/** The filter's text and where it came from: the arguments, or the file -F names. */
export function filterText(args: string, o: TraceCliOptions): { text: string; name?: string } {
  if (args.includes('\uFFFD') && !argvIsUtf8())
    throw new UsageError(
      'the filter is not valid UTF-8 text; write a byte that is not part of a character as \\xHH inside a string ("\\xe9")',
    );
  if (o.filterFile === undefined) return { text: args };
  if (args.trim() !== '')
    throw new UsageError('give the filter either as arguments or with -F FILE, not both');
  const read = readTextFile(o.filterFile);
  if (typeof read !== 'string')
    throw new UsageError(`cannot read filter file ${o.filterFile}: ${read.error}`);
  return { text: read, name: o.filterFile };
}
