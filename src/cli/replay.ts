/**
 * `tcplife replay FILE [FILTER]`: JSON lines as tcplife writes them (plain or
 * gzip, detected by content; `-` for stdin), filtered again with the same
 * language, checker, evaluator and rule files, written in any format. It
 * streams: memory stays bounded whatever the file's size. A line that cannot
 * be a session is named on stderr (FILE:LINE: what is wrong), skipped and
 * counted; any skipped line makes the exit status 1.
 */
import { closeSync, constants, createReadStream, openSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { compilePredicate } from '../dsl/compile.js';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import type { Pred } from '../dsl/ir.js';
import * as IR from '../dsl/ir.js';
import {
  CLOSE_MS,
  closeMs,
  type DecodedSession,
  ENTRIES,
  fieldSpec,
  SESSION_KEYS,
} from '../model/fields.js';
import { createFormatter, type OutputFormat } from '../pipeline/formatters.js';
import type { Accumulator } from '../pipeline/intervals.js';
import {
  createSummaryFormatter,
  type SummaryRow,
  summaryAccumulator,
} from '../pipeline/summary.js';
import { tagged } from '../pipeline/tcplife.js';
import { LineWriter } from '../pipeline/writer.js';
import { makePlan } from '../plan/plan.js';
import { planRun } from '../plan/run.js';
import { MinHeap } from '../util/min-heap.js';
import { errnoText } from '../util/read-text.js';
import { realUserCannotRead } from '../util/trust.js';
import type { Io } from './io.js';
import { fieldsOption, groupByOption, outputFormat, ruleInputs, UsageError } from './options.js';
import { writeFailure } from './report.js';

export interface ReplayOptions {
  output?: OutputFormat | 'json' | 'none';
  json?: boolean;
  csv?: boolean;
  fields?: string[];
  extended?: boolean;
  wide?: boolean;
  rules?: string[];
  rule?: string[];
  tag?: string[];
  interval?: number;
  groupBy?: string[];
}

/** A recorded line is about 600 bytes; one longer than this is no record, and is not held. */
export const MAX_LINE_BYTES = 1 << 20;
const TOO_LONG = Symbol('too long');

/**
 * The lines of a stream (\n or \r\n), each at most `max` bytes: a longer
 * one is skipped as it streams past and given as TOO_LONG (a 1.2 GB line
 * ended in "Invalid string length" through readline).
 */
async function* boundedLines(
  input: Readable,
  max: number,
): AsyncGenerator<string | typeof TOO_LONG> {
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  const line = (last: Buffer): string | typeof TOO_LONG => {
    if (skipping) return TOO_LONG;
    const b = parts.length ? Buffer.concat([...parts, last]) : last;
    const end = b.length > 0 && b[b.length - 1] === 13 ? b.length - 1 : b.length;
    return b.toString('utf8', 0, end);
  };
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      yield held + piece.length > max ? TOO_LONG : line(piece);
      parts = [];
      held = 0;
      skipping = false;
      from = nl + 1;
    }
    const rest = chunk.subarray(from);
    if (skipping || held + rest.length > max) {
      skipping = true;
      parts = [];
      held = 0;
    } else if (rest.length) {
      // A copy: the stream may reuse its buffer.
      parts.push(Buffer.from(rest));
      held += rest.length;
    }
  }
  if (skipping) yield TOO_LONG;
  else if (held > 0) yield line(Buffer.alloc(0));
}

/** The keys a predicate reads. */
function keysOf(p: Pred, out = new Set<string>()): Set<string> {
  switch (p.k) {
    case 'const':
      return out;
    case 'and':
    case 'or':
      for (const i of p.items) keysOf(i, out);
      return out;
    case 'not':
      return keysOf(p.item, out);
    default:
      out.add(p.key);
      return out;
  }
}

const JS_TYPE: Readonly<Record<string, string>> = {
  addr: 'string',
  string: 'string',
  time: 'string',
  enum: 'string',
  bool: 'boolean',
};

/**
 * Keys tcplife's records gained later (the registry's `absentAs`). A line
 * with none of them was written by an earlier tcplife: it reads as their
 * values then (a close whose start was seen, with no session id).
 */
const LATER_KEYS: Readonly<Record<string, unknown>> = Object.fromEntries(
  ENTRIES.flatMap(({ name, spec }) => (spec.absentAs === undefined ? [] : [[name, spec.absentAs]])),
);

function withLaterKeys(rec: unknown): unknown {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return rec;
  const r = rec as Record<string, unknown>;
  return Object.keys(LATER_KEYS).some((k) => k in r) ? rec : { ...r, ...LATER_KEYS };
}

/** What is wrong with a record for these keys, or undefined. */
function problem(o: unknown, keys: readonly string[]): string | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  const rec = o as Record<string, unknown>;
  for (const k of keys) {
    if (!(k in rec)) return `no field '${k}'`;
    const spec = fieldSpec(k);
    const want = spec ? (JS_TYPE[spec.type] ?? 'number') : undefined;
    if (want && typeof rec[k] !== want) return `field '${k}' is ${typeof rec[k]}, not a ${want}`;
    const v = rec[k];
    // 1e400 parses as Infinity: no field of tcplife's holds it.
    if (typeof v === 'number' && !Number.isFinite(v)) return `field '${k}' is not a finite number`;
    if (spec?.type === 'time') {
      const ms = Date.parse(v as string);
      if (Number.isNaN(ms)) return `field '${k}' is not a time (ISO 8601, as tcplife writes it)`;
      // Parsed once: the windows read it back (closeMs).
      (rec as { [CLOSE_MS]?: number })[CLOSE_MS] = ms;
    }
  }
  return undefined;
}

/** The file, opened with the invoking user's own access (util/trust.ts). */
function openAsUser(file: string): Readable {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOCTTY);
  } catch (e) {
    throw new Error(errnoText(e));
  }
  const denied = realUserCannotRead(file, fd);
  if (denied) {
    closeSync(fd);
    throw new Error(denied);
  }
  return createReadStream('', { fd });
}

/** Plain or gzip, by the first two bytes (1f 8b), never by the name. */
async function open(file: string): Promise<Readable> {
  const raw = file === '-' ? process.stdin : openAsUser(file);
  const chunks = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  const all = Readable.from(
    (async function* () {
      if (!first.done) yield first.value;
      for (;;) {
        const n = await chunks.next();
        if (n.done) return;
        yield n.value;
      }
    })(),
  );
  if (first.done || first.value[0] !== 0x1f || first.value[1] !== 0x8b) return all;
  const gunzip = createGunzip();
  all.on('error', (e) => gunzip.destroy(e));
  return all.pipe(gunzip);
}

export async function runReplay(
  file: string,
  filter: string,
  o: ReplayOptions,
  io: Io,
): Promise<number> {
  const format = outputFormat(o, 'jsonl');
  const fields = fieldsOption(o.fields, '--fields');
  // The filter is checked before any line is read: a wrong filter is a usage error.
  const planned = makePlan({ filter, ...ruleInputs(o) });
  const plan = planned.plan;
  if (!plan) {
    io.stderr(`${renderDiagnostics(planned.diagnostics)}\n`);
    return 2;
  }
  if (o.groupBy && o.interval === undefined)
    throw new UsageError('--group-by goes with --interval');
  const groupBy = groupByOption(o);
  const rules = plan.rules;
  // A recording has no kernel: the whole filter is checked here.
  const run = planRun(
    {
      format,
      ...(fields ? { fields } : {}),
      ...(o.interval !== undefined ? { interval: o.interval } : {}),
      groupBy,
      rules: rules !== undefined,
      wide: o.wide === true,
      extended: o.extended === true,
      classic: o.csv === true,
    },
    { kernel: IR.TRUE, user: plan.pred },
    'recording',
  );
  const test = compilePredicate(plan.pred);
  // Summaries in windows of the records' own close times.
  const windows =
    run.path.kind === 'summary' && format !== 'none'
      ? { ms: (run.interval ?? 0) * 1000, f: createSummaryFormatter(format, groupBy) }
      : undefined;
  const formatter = run.path.kind === 'print' ? createFormatter(run.path.format) : undefined;
  // What every record must carry: what the filter reads and what is written.
  const needed = [
    ...new Set([
      ...keysOf(plan.pred),
      ...(format === 'none' ? [] : (fields ?? SESSION_KEYS)),
      // Windows are of the records' own times.
      ...(windows ? ['time'] : []),
    ]),
  ].filter((k) => k !== 'ts' && k !== 'rules' && k !== 'tags');

  let closed = false;
  const writer = new LineWriter(io.stdoutFd, () => {
    closed = true;
  });
  const h = (windows?.f ?? formatter)?.header();
  if (h) writer.line(h);
  // Windows stay open one window long after a later one starts: records that
  // arrive slightly out of close order (two CPUs) still land in their own.
  // The open windows' indexes are a min-heap, so that closing costs only the
  // windows closed, in any order of the input (sorting them at each new
  // window was quadratic on a recording whose times run backwards).
  const opened = new Map<number, Accumulator<SummaryRow[]>>();
  const order = new MinHeap();
  const closeWindows = (before: number) => {
    if (!windows) return;
    while (order.size > 0 && order.peek() < before) {
      const index = order.pop();
      const start = index * windows.ms;
      const w = { start_ms: start, end_ms: start + windows.ms, partial: false };
      for (const r of opened.get(index)!.finish(w)) writer.line(windows.f.row(r));
      opened.delete(index);
    }
  };
  const name = file === '-' ? '<stdin>' : file;
  let skipped = 0;
  let lineNo = 0;
  let input: Readable;
  try {
    input = await open(file);
  } catch (e) {
    io.stderr(`tcplife: cannot read ${name}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    for await (const line of boundedLines(input, MAX_LINE_BYTES)) {
      lineNo++;
      if (closed) break;
      if (line === TOO_LONG) {
        skipped++;
        io.stderr(`${name}:${lineNo}: longer than ${MAX_LINE_BYTES >> 20} MiB: not read\n`);
        continue;
      }
      if (line.trim() === '') continue;
      let rec: unknown;
      try {
        rec = withLaterKeys(JSON.parse(line));
      } catch {
        skipped++;
        io.stderr(`${name}:${lineNo}: not JSON\n`);
        continue;
      }
      const wrong = problem(rec, needed);
      if (wrong) {
        skipped++;
        io.stderr(`${name}:${lineNo}: ${wrong}\n`);
        continue;
      }
      const s = rec as DecodedSession;
      if (!test(s as never)) continue;
      if (windows) {
        const index = Math.floor(closeMs(s) / windows.ms);
        let acc = opened.get(index);
        if (!acc) {
          acc = summaryAccumulator(groupBy);
          opened.set(index, acc);
          order.push(index);
          closeWindows(index - 1);
        }
        acc.add(rules ? tagged(rules, s) : s);
        continue;
      }
      if (!formatter) continue;
      writer.line(formatter.row(rules ? tagged(rules, s) : s));
    }
  } catch (e) {
    writer.flush();
    io.stderr(`tcplife: cannot read ${name}: ${(e as Error).message}\n`);
    return 1;
  }
  closeWindows(Number.POSITIVE_INFINITY);
  writer.flush();
  if (writer.error) {
    // A full disk or a failing device: what was not written is not a success.
    io.stderr(`tcplife: ${writeFailure(writer.error)}; replay stopped at ${name}:${lineNo}\n`);
    return 1;
  }
  if (skipped > 0) {
    io.stderr(`tcplife: ${skipped} line(s) of ${name} skipped\n`);
    return 1;
  }
  return 0;
}
