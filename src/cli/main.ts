/**
 * The command line. main() parses arguments and returns an exit status:
 * 0 success (also Ctrl-C and a closed pipe), 1 runtime failure, 2 usage
 * error. Only bin/tcplife exits. Data goes to stdout, everything else to
 * stderr.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { TcplifeError } from '../util/errors.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { runCheck } from './check.js';
import { runFields } from './fields.js';
import { defaultIo, type Io } from './io.js';
import {
  collect,
  parseBuckets,
  parseBufferSize,
  parseList,
  parseListen,
  parseMapSize,
  parsePid,
  parsePorts,
  parsePositiveInt,
  parseSeconds,
  parseSize,
} from './parse-args.js';
import type { ReplayOptions } from './replay.js';
import { runRules } from './rules.js';
import { runTrace, type TraceCliOptions, UsageError } from './trace.js';

const VERSION: string = JSON.parse(
  readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'),
).version;

/** The environment tcplife reads: --help and the man page list it from here. */
const ENVIRONMENT: readonly { name: string; description: string }[] = [
  {
    name: 'TCPLIFE_RULES_PATH',
    description:
      'Colon-separated directories where --rules NAME and tcplife rules look, before the shipped rules/.',
  },
  { name: 'TCPLIFE_CLANG_TIMEOUT', description: 'Seconds clang may take (default 60).' },
];

const ENVIRONMENT_HELP = `

environment:
${ENVIRONMENT.map((e) => `  ${e.name.padEnd(22)} ${e.description}`).join('\n')}
`;

const EXAMPLES = `
examples:
  tcplife                                  # trace all TCP sessions
  tcplife -T                               # include time column (HH:MM:SS)
  tcplife -t                               # include seconds since the first session
  tcplife -w                               # wider columns (fit IPv6)
  tcplife -stT                             # CSV output, with times and timestamps
  tcplife -p 181                           # only trace PID 181
  tcplife -L 80                            # only trace local port 80
  tcplife -L 80,81                         # only trace local ports 80 and 81
  tcplife -D 80                            # only trace remote port 80
  tcplife -4                               # only trace IPv4
  tcplife 'dport == 443 && tx_kb > 10'     # a filter: HTTPS sessions that sent over 10 KiB
  tcplife -o jsonl 'span_ms > 100' | jq .comm
  tcplife 'raddr in (10.0.0.0/8) and not comm == "sshd"'
  tcplife --interval 5 --group-by comm     # every 5 s: sessions, bytes and span p50/p99 per command
  tcplife -x 'outcome != closed'          # sessions that ended badly, with ROLE, OUTCOME, RETRANS, RTT_MS, CONTAINER
  tcplife --interval 5 --group-by outcome,container
  tcplife --hist span 'dport == 443'      # a log2 histogram of HTTPS session spans, at Ctrl-C
  tcplife -j --interim 10 'dport == 5432' # long-lived sessions every 10 s while open, and at close
  tcplife snapshot 'dport == 5432'         # the sessions open now, with their bytes so far
  tcplife --rules rules/failures.rules -x  # refused, timed out, reset and retransmitting sessions
  tcplife --rules rules/web.rules          # report sessions matching rules, tagged with their names
  tcplife check rules/web.rules            # validate rule files and run their samples
  tcplife --explain 'comm =~ /^java/ and dport == 443'   # what runs in the kernel, what in userspace

Fields: tcplife fields. The filter language (units, lists, CIDRs, globs, regexes), the
fields, rule files and every option are described in ${join(PACKAGE_ROOT, 'docs')}:
language.md, fields.md, rules.md, metrics-and-replay.md, operating.md`;

/** How sessions are printed: shared by tracing and replay. */
function outputOptions(c: Command, dflt: 'table' | 'jsonl'): Command {
  return c
    .option('-w, --wide', 'wide column output (fits IPv6 addresses)')
    .option(
      '-x, --extended',
      'table and CSV: add ROLE, OUTCOME, RETRANS, RTT_MS and CONTAINER (JSON lines have every field)',
    )
    .option(
      '-s, --csv',
      "CSV in the original tool's layout (headers as the table's, integer KiB, HH:MM:SS); -o csv gives data CSV",
    )
    .option('-j, --json', 'JSON lines output (-o jsonl)')
    .addOption(
      new Option(
        '-o, --output <format>',
        `output format (default ${dflt}; json is jsonl, as kubectl users type it)`,
      ).choices(['table', 'jsonl', 'json', 'csv', 'none']),
    )
    .option(
      '--fields <list>',
      'columns to print, in order (filter field names, time, ts, rules)',
      parseList,
    );
}

/** Rule files and the selection of their rules: shared by tracing and replay. */
function ruleOptions(c: Command): Command {
  return c
    .option(
      '--rules <file>',
      'rule file or name (repeatable): report sessions matching any rule, tagged',
      collect,
    )
    .option('--rule <name>', 'with --rules: keep only these rules (repeatable)', collect)
    .option('--tag <tag>', 'with --rules: keep the rules carrying this tag (repeatable)', collect);
}

/** Summaries: shared by tracing (wall-clock intervals) and replay (the records' times). */
function summaryOptions(c: Command, what: string): Command {
  return c
    .option('--interval <secs>', `print a summary every SECS seconds ${what}`, parseSeconds)
    .option('--group-by <fields>', 'with --interval: group summaries by these fields', parseList);
}

/** An option as a row: flags, help text, and how its value is read (commander's argParser). */
type OptionRow = readonly [
  flags: string,
  description: string,
  parse?: (v: string, prev: never) => unknown,
  dflt?: unknown,
];

/** The filter's terms as options, as the original tool has them. */
const SELECT_OPTIONS: readonly OptionRow[] = [
  [
    '-F, --filter-file <file>',
    'read the filter from FILE (as tcpdump -F): for filters longer than a command line',
  ],
  ['-p, --pid <pid>', 'trace this PID only', parsePid],
  ['-L, --localport <ports>', 'comma-separated list of local ports to trace', parsePorts],
  ['-D, --remoteport <ports>', 'comma-separated list of remote ports to trace', parsePorts],
  ['-4, --ipv4', 'trace IPv4 family only'],
  ['-6, --ipv6', 'trace IPv6 family only'],
];

/** When tracing stops, what else it serves, and how the program is built and loaded. */
const RUN_OPTIONS: readonly OptionRow[] = [
  ['--count <n>', 'with --interval: stop after N summaries', parsePositiveInt],
  [
    '--hist <field>',
    'a log2 histogram of span, tx, rx or rtt (or another numeric field), at exit or every --interval',
  ],
  ['--exit-after <n>', 'exit after N sessions are printed', parsePositiveInt],
  ['--duration <secs>', 'exit after SECS seconds', parseSeconds],
  [
    '--interim <secs>',
    'also report sessions still open: every SECS seconds an interim record of each open longer than that since its last record, and an exit record of each at exit (event, sid)',
    parseSeconds,
  ],
  [
    '--metrics <[host:]port>',
    'serve Prometheus metrics at /metrics while tracing (a bare port binds 127.0.0.1)',
    parseListen,
  ],
  [
    '--labels <list>',
    'with --metrics: label names, fields or rule (default role,outcome)',
    parseList,
  ],
  ['--max-series <n>', 'with --metrics: label sets at most (default 1000)', parsePositiveInt],
  [
    '--metrics-max-connections <n>',
    'with --metrics: connections served at once (default 16); a client that does not read its answers is disconnected',
    parsePositiveInt,
  ],
  ['--buckets <secs>', 'with --metrics: the duration histogram bounds, in seconds', parseBuckets],
  ['--stats', 'print kernel counters (lost, missed, filtered) at exit'],
  [
    '--exact',
    "summaries' percentiles from every span (not the kernel's histogram, within 12.5 %); records through the general path: more CPU a session",
  ],
  [
    '--explain',
    'print the filter as understood, its kernel and userspace parts, and the C; no privileges needed',
  ],
  ['--ebpf', 'print the generated BPF C program and exit'],
  [
    '-v, --verbose',
    "say how the program was built, loaded and attached, on stderr; -vv adds libbpf's log",
    (_v: string, prev: number) => prev + 1,
    0,
  ],
  ['-q, --quiet', "do not say on stderr when tracing begins ('tcplife: tracing…')"],
  ['--ring-size <size>', 'ring buffer size (default 4MiB)', parseSize],
  [
    '--buffer-size <size>',
    'output that may wait in memory for a slow reader (a pipe into jq) while tracing goes on (default 256M); past it, sessions are dropped and counted',
    parseBufferSize,
  ],
  [
    '--map-size <n>',
    "sockets whose start the socket map holds at once (default 16384, about 2 MiB of kernel memory; at most 4194304); beyond them, the socket's own storage (tp_btf) or, with raw_tp (default 131072 there), counted as lost",
    parseMapSize,
  ],
  [
    '--socket-storage',
    "keep every session's start in its socket's storage (tp_btf), not only those beyond the socket map: no map at all, but about 1 µs more BPF time per session",
  ],
  ['--no-cache', 'always run clang (do not use /var/cache/tcplife)'],
  [
    '--no-owner-probes',
    'do not take owners at first receive/send (sock_recv_length, sock_send_length; Linux 6.3+): a server-side session reset by its peer then shows the task at close',
  ],
];

function addOptions(c: Command, rows: readonly OptionRow[]): Command {
  for (const [flags, description, parse, dflt] of rows) {
    if (parse && dflt !== undefined) c.option(flags, description, parse as never, dflt as never);
    else if (parse) c.option(flags, description, parse as never);
    else c.option(flags, description);
  }
  return c;
}

/** The tracing command: the program itself. */
function traceCommand(io: Io, result: { code: number }): Command {
  const p = new Command('tcplife');
  p.description('Trace the lifespan of TCP sessions with eBPF, filtered in the kernel')
    .version(
      `tcplife ${VERSION} (TypeScript, with a filter language; not the tcplife of BCC or libbpf-tools)`,
      '-V, --version',
      'say which tcplife this is, and its version',
    )
    .argument('[filter...]', 'filter expression; several words are joined with spaces')
    .option('-T, --time', 'include time column on output (HH:MM:SS)')
    .option('-t, --timestamp', 'include timestamp on output (seconds since the first session)');
  outputOptions(p, 'table');
  addOptions(p, SELECT_OPTIONS);
  summaryOptions(p, 'instead of one line per session');
  ruleOptions(p);
  addOptions(p, RUN_OPTIONS)
    .addOption(
      new Option('--attach <how>', 'attach point')
        .choices(['auto', 'tp_btf', 'raw_tp'])
        .default('auto')
        .hideHelp(),
    )
    // The commands (replay) have options of the same names: the program's own
    // options are read before a command's name only.
    .enablePositionalOptions()
    .addHelpText('after', EXAMPLES + ENVIRONMENT_HELP)
    .showHelpAfterError('(run tcplife --help for usage)')
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: io.stderr,
      outputError: (s, write) => write(s),
    })
    .exitOverride()
    .action(async (words: string[], opts: TraceCliOptions) => {
      result.code = await runTrace(words.join(' '), opts, io);
    });
  return p;
}

/** tcplife snapshot: the sessions open now, through the same filter, fields and formats. */
function snapshotCommand(p: Command, io: Io, result: { code: number }): void {
  const snap = p
    .command('snapshot')
    .description(
      'print the TCP sessions open now (as ss does, with the fields and filter of tcplife), then exit',
    )
    .argument('[filter...]', 'filter expression, as for tracing');
  outputOptions(snap, 'table');
  addOptions(snap, SELECT_OPTIONS);
  ruleOptions(snap);
  snap
    .option(
      '-v, --verbose',
      'say how the program was built, loaded and attached',
      (_v, prev: number) => prev + 1,
      0,
    )
    .option('--stats', 'print kernel counters at exit')
    .option('--no-cache', 'always run clang (do not use /var/cache/tcplife)')
    .addHelpText(
      'after',
      `
Each open session is one record with event "interim" and its totals so far
(tx_b, rx_b, retrans, rtt). Sessions that began before this command are
found through the processes holding their sockets: their owner is that
process, start_seen is false and span counts from now.

examples:
  tcplife snapshot 'dport == 5432'          # connections to PostgreSQL, with bytes so far
  tcplife snapshot -o jsonl 'tx_b > 1MiB' | jq .comm`,
    )
    .exitOverride()
    .action(async (words: string[], opts: TraceCliOptions) => {
      result.code = await runTrace(
        words.join(' '),
        { ...opts, snapshot: true, quiet: true, ownerProbes: true },
        io,
      );
    });
}

function replayCommand(p: Command, io: Io, result: { code: number }): void {
  const replay = p
    .command('replay')
    .description(
      'filter and format a recording of JSON lines again (plain or gzip; - for stdin); no privileges needed',
    )
    .argument('<file>', 'JSON lines as tcplife -j writes them, or - for standard input')
    .argument('[filter...]', 'filter expression, as for live sessions');
  outputOptions(replay, 'jsonl');
  ruleOptions(replay);
  summaryOptions(replay, "in windows of the records' own close times");
  replay
    .addHelpText(
      'after',
      `
examples:
  tcplife replay day.jsonl --interval 60 --group-by outcome   # per minute of the recording
  tcplife replay day.jsonl 'outcome != closed'           # the sessions that ended badly
  tcplife replay day.jsonl.gz -o table -x                # gzip is detected by content
  tcplife -j | tee day.jsonl | tcplife replay - 'rport == 443'`,
    )
    .exitOverride()
    .action(async (file: string, words: string[], opts: ReplayOptions) => {
      // Loaded when used: a trace needs neither it nor zlib.
      const { runReplay } = await import('./replay.js');
      result.code = await runReplay(file, words.join(' '), opts, io);
    });
}

/** fields, rules and check: the commands that read the registry and rule files. */
function listingCommands(p: Command, io: Io, result: { code: number }): void {
  p.command('fields')
    .description(
      'list the fields: their aliases, types, where the filter decides them, and what they mean',
    )
    .exitOverride()
    .action(() => {
      result.code = runFields(io);
    });
  p.command('rules')
    .description(
      'list rule files and their rules, tags and descriptions (default: every file on the search path: $TCPLIFE_RULES_PATH, then the shipped rules/)',
    )
    .argument('[files...]', "rule names (web) or paths (with a '/' or the .rules suffix)")
    .exitOverride()
    .action((files: string[]) => {
      result.code = runRules(files, io);
    });
  p.command('check')
    .description(
      'validate rule files and run the samples they carry (default: every file tcplife rules lists)',
    )
    .argument('[files...]', "rule names (web) or paths (with a '/' or the .rules suffix)")
    .addHelpText(
      'after',
      `
examples:
  tcplife check rules/web.rules            # exit 0 when clean, 2 with every problem on stderr
  tcplife check rules/*.rules              # each file on its own, with what it includes
  tcplife check web                        # a name is looked for on the rule search path
  tcplife check                            # every file on the search path`,
    )
    .exitOverride()
    .action((files: string[]) => {
      result.code = runCheck(files, io);
    });
}

function program(io: Io, result: { code: number }): Command {
  const p = traceCommand(io, result);
  replayCommand(p, io, result);
  snapshotCommand(p, io, result);
  listingCommands(p, io, result);
  return p;
}

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const result = { code: 0 };
  const p = program(io, result);
  try {
    await p.parseAsync([...argv]);
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    if (e instanceof UsageError) {
      io.stderr(`tcplife: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TcplifeError) {
      io.stderr(`tcplife: ${e.message}\n`);
      if (e.hint) io.stderr(`tcplife: ${e.hint}\n`);
      if (e.detail && p.opts().verbose) io.stderr(`${e.detail}\n`);
      return 1;
    }
    io.stderr(`tcplife: internal error (a bug; please report it): ${(e as Error)?.stack ?? e}\n`);
    return 1;
  }
}

/** What --help says, as data: the man page is written from it (scripts/man.mjs). */
export function describeCli(): {
  description: string;
  usage: string;
  options: { flags: string; description: string }[];
  commands: { name: string; usage: string; description: string }[];
  examples: string;
  environment: readonly { name: string; description: string }[];
} {
  const p = program(defaultIo, { code: 0 });
  return {
    description: p.description(),
    usage: `tcplife ${p.usage()}`,
    options: p.options
      .filter((o) => !o.hidden)
      .map((o) => ({ flags: o.flags, description: o.description })),
    commands: p.commands.map((c) => ({
      name: c.name(),
      usage: `tcplife ${c.name()} ${c.usage()}`,
      description: c.description(),
    })),
    examples: EXAMPLES.trim(),
    environment: ENVIRONMENT,
  };
}
