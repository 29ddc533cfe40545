#!/usr/bin/env node
// tcplife against the tools users would pick instead, side by side in one run.
//
//   npm run bench [-- --rounds 3 --seconds 4 --profile light|heavy|storm|all]
//                                                    the full comparison (root)
//   node bench/run.js --smoke                        a few hundred sessions, tcplife only
//   node bench/run.js --only 'JSON|storage'          only the rows whose names match
//                                                    (and the no-tracer row they compare to)
//
// A C load generator (tools/tcpgen.c, compiled here) opens short TCP sessions
// on loopback as fast as the machine allows, each session sending SEND bytes
// and receiving REPLY bytes, every 10th one to a second port. Three profiles:
// light, two client processes; heavy, twice as many clients as cores, so
// the tracer competes with a saturated workload for CPU; storm, as many
// clients making 100,000 zero-byte sessions a run as fast as they can (the
// most session ends a second a host meets: every round's loss is reported,
// the worst beside the median). Beside tcplife and
// the tools users would pick instead run a C reference (tools/rbref.c, the
// least a BPF session tracer costs: socket storage, direct reads, a ring
// drained every 50 ms without wake-ups) and a null tp_btf program on the
// same tracepoint (the cost of being attached at all). Each
// configuration runs interleaved with the others, several rounds; the table
// quotes medians, and ratios to the no-tracer rate measured in the same run.
// Every tracer's output is checked session by session against what the
// clients did (ports, and for JSON lines the exact byte counts).
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench/out');
const BIN = join(ROOT, 'bin/tcplife');
const CACHE = '/var/cache/tcplife';
const EVERY = 10;
// Below the ephemeral range, which the storm's clients fill.
const METRICS_PORT = 29464;

const argv = process.argv.slice(2);
const flag = (n) => argv.includes(n);
const opt = (n, d) => (argv.includes(n) ? Number(argv[argv.indexOf(n) + 1]) : d);
const SMOKE = flag('--smoke');
const ROUNDS = opt('--rounds', SMOKE ? 1 : 3);
const SECONDS = opt('--seconds', 4);
const SMOKE_SESSIONS = 150; // per client
const ONLY = argv.includes('--only') ? new RegExp(argv[argv.indexOf('--only') + 1], 'i') : null;
const PROFILE = argv.includes('--profile') ? argv[argv.indexOf('--profile') + 1] : 'all';
const STORM_SESSIONS = opt('--storm-sessions', 100_000);
/** send, reply: bytes each way per session; sessions: a run's total (else SECONDS long). */
const PROFILES = [
  { name: 'light', clients: 2, send: 300, reply: 1200 },
  { name: 'heavy', clients: 2 * os.cpus().length, send: 300, reply: 1200 },
  {
    name: 'storm',
    clients: 2 * os.cpus().length,
    send: 0,
    reply: 0,
    sessions: STORM_SESSIONS,
  },
].filter((p) => (SMOKE ? p.name === 'light' : PROFILE === 'all' || PROFILE === p.name));
if (!PROFILES.length) {
  console.error(`bench: --profile light, heavy, storm or all, not ${PROFILE}`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length
    ? s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
    : Number.NaN;
};

function log(s) {
  process.stderr.write(`bench: ${s}\n`);
}

// ---- the load generator ----

function buildTcpgen() {
  const dir = join(OUT, 'bin');
  mkdirSync(dir, { recursive: true });
  const base = join(dir, 'tcpgen');
  execFileSync('cc', ['-O2', '-o', base, join(ROOT, 'tools/tcpgen.c')]);
  // Distinct names give distinct comms: the clients' is what the regex filter selects.
  for (const n of ['tl_bsrv', 'tl_bsrv2', 'tl_bcli']) execFileSync('cp', [base, join(dir, n)]);
  return dir;
}

/** The C reference consumer and its BPF object; null when libbpf-dev is missing. */
function buildReference(dir) {
  try {
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-I',
      join(ROOT, 'bpf/include'),
      '-c',
      join(ROOT, 'tools/rbref.bpf.c'),
      '-o',
      join(dir, 'rbref.bpf.o'),
    ]);
    execFileSync('cc', ['-O2', '-o', join(dir, 'rbref'), join(ROOT, 'tools/rbref.c'), '-lbpf']);
    return { bin: join(dir, 'rbref'), obj: join(dir, 'rbref.bpf.o') };
  } catch (e) {
    log(`the C reference did not build, skipped: ${e.message.split('\n')[0]}`);
    return null;
  }
}

function startServer(dir, name, reply) {
  const p = spawn(join(dir, name), ['server', '127.0.0.1', '0', '-r', String(reply)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    p.stdout.once('data', (d) =>
      resolve({ proc: p, port: Number(/port (\d+)/.exec(String(d))[1]) }),
    );
  });
}

function runClients(dir, p0, p1, prof) {
  const { clients } = prof;
  const args = [
    'client',
    '127.0.0.1',
    String(p0),
    '-s',
    String(prof.send),
    '-a',
    String(p1),
    '-e',
    String(EVERY),
  ];
  const limit = SMOKE
    ? ['-n', String(SMOKE_SESSIONS)]
    : prof.sessions
      ? ['-n', String(Math.ceil(prof.sessions / clients))]
      : ['-n', '0', '-d', String(SECONDS)];
  const one = () =>
    new Promise((resolve, reject) => {
      const c = spawn(join(dir, 'tl_bcli'), [...args, ...limit], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      c.stdout.on('data', (d) => {
        out += d;
      });
      c.on('close', (code) => {
        const m = /sessions (\d+) seconds ([\d.]+) second_port (\d+)/.exec(out);
        if (code !== 0 || !m) reject(new Error(`client failed: ${out}`));
        else resolve({ n: Number(m[1]), seconds: Number(m[2]), n1: Number(m[3]) });
      });
    });
  return Promise.all(Array.from({ length: clients }, one)).then((rs) => ({
    n: rs.reduce((a, r) => a + r.n, 0),
    n1: rs.reduce((a, r) => a + r.n1, 0),
    seconds: Math.max(...rs.map((r) => r.seconds)),
  }));
}

/**
 * Waits (up to `maxMs`) until no socket on these ports is still open but
 * for the listeners and those in TIME_WAIT, whose sessions have ended
 * (/proc/net/tcp: ports in hex, state 0A LISTEN, 06 TIME_WAIT).
 */
async function sessionsClosed(ports, maxMs) {
  const hex = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  const open = () => {
    let n = 0;
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 4 || cols[3] === '0A' || cols[3] === '06') continue;
        const local = cols[1].split(':')[1];
        const remote = cols[2].split(':')[1];
        if (hex.has(local) || hex.has(remote)) n++;
      }
    }
    return n;
  };
  const until = Date.now() + maxMs;
  while (open() > 0 && Date.now() < until) await sleep(20);
}

// ---- measuring a process ----

function cpuNs(pid) {
  let total = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    }
  } catch {
    // exited
  }
  return total;
}

function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** The fdinfo text of each descriptor a process holds; none once the process is gone. */
function* fdinfos(pid) {
  let fds = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return;
  }
  for (const fd of fds) {
    try {
      yield readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      // closed meanwhile
    }
  }
}

/**
 * Sums a number from the fdinfo of a process's BPF objects of one kind
 * (maps: `map_type:`, programs: `prog_type:`); NaN once the process is gone.
 */
function fdinfoSum(pid, kind, re) {
  if (!existsSync(`/proc/${pid}/fdinfo`)) return Number.NaN;
  let total = 0;
  for (const info of fdinfos(pid)) {
    const m = re.exec(info);
    if (m && info.includes(kind)) total += Number(m[1]);
  }
  return total;
}

/** Kernel memory of the BPF maps a process holds (the maps' memlock), in MB. */
const bpfMapMb = (pid) => fdinfoSum(pid, 'map_type:', /memlock:\s+(\d+)/) / 1e6;

/** Run time of the BPF programs a process holds (kernel.bpf_stats_enabled), in ns. */
const bpfRunNs = (pid) => fdinfoSum(pid, 'prog_type:', /run_time_ns:\s+(\d+)/);

const progNames = new Map();
/** A program's name, by its id (bpftool; the fdinfo has none). */
function progName(id) {
  if (!progNames.has(id)) {
    let name = `id ${id}`;
    try {
      name = JSON.parse(
        execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j'], { encoding: 'utf8' }),
      ).name;
    } catch {
      // no bpftool: the id serves
    }
    progNames.set(id, name);
  }
  return progNames.get(id);
}

/** Each BPF program a process holds: id → run time (ns) and runs (kernel.bpf_stats_enabled). */
function progStats(pid) {
  const out = new Map();
  for (const info of fdinfos(pid)) {
    const id = /prog_id:\s+(\d+)/.exec(info)?.[1];
    if (!id || out.has(id)) continue;
    out.set(id, {
      ns: Number(/run_time_ns:\s+(\d+)/.exec(info)?.[1] ?? 0),
      runs: Number(/run_cnt:\s+(\d+)/.exec(info)?.[1] ?? 0),
    });
  }
  return out;
}

/** Per program: its name, runs and run time per session made, between two progStats. */
function progCosts(before, after, sessions) {
  return [...after].map(([id, a]) => {
    const b = before.get(id) ?? { ns: 0, runs: 0 };
    return {
      name: progName(id),
      runs: (a.runs - b.runs) / Math.max(1, sessions),
      us: (a.ns - b.ns) / 1000 / Math.max(1, sessions),
    };
  });
}

/** A BPF tracer is ready once it holds a link or perf-event fd. */
async function waitAttached(proc, ms = 20000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (proc.exitCode !== null) throw new Error('tracer exited before attaching');
    try {
      for (const fd of readdirSync(`/proc/${proc.pid}/fd`)) {
        let l = '';
        try {
          l = execFileSync('readlink', [`/proc/${proc.pid}/fd/${fd}`]).toString();
        } catch {
          continue;
        }
        if (l.includes('bpf_link') || l.includes('perf_event')) return;
      }
    } catch {
      // not yet
    }
    await sleep(20);
  }
  throw new Error('tracer did not attach');
}

async function stopProc(proc) {
  if (proc.exitCode !== null) return;
  proc.kill('SIGINT');
  const t0 = Date.now();
  while (proc.exitCode === null && Date.now() - t0 < 15000) await sleep(20);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

// ---- the tools ----

const BPFTRACE = (pred) => `
tracepoint:sock:inet_sock_set_state
{
  $sk = args->skaddr;
  if (args->newstate < 4 && @birth[$sk] == 0) { @birth[$sk] = nsecs; }
  if (args->newstate == 2 || args->newstate == 9 || (args->newstate == 4 && args->oldstate == 1)) {
    @pid[$sk] = pid; @comm[$sk] = comm;
  }
  if (args->newstate == 7) {
    if (@birth[$sk] != 0 ${pred}) {
      $tp = (struct tcp_sock *)$sk;
      printf("%d %s %d %d %d %d %d\\n", @pid[$sk], @comm[$sk], args->sport, args->dport,
             $tp->bytes_acked, $tp->bytes_received, (nsecs - @birth[$sk]) / 1000);
    }
    delete(@birth[$sk]); delete(@pid[$sk]); delete(@comm[$sk]);
  }
}`;

function configs(ports, ref) {
  const p1 = ports[1];
  const both = (w) => 2 * w.n; // each session is reported by both ends
  const tcplife = (name, args, parse, expect, note) => ({
    name,
    cmd: BIN,
    args: ['--stats', ...args],
    parse,
    expect,
    tool: 'tcplife',
    note,
  });
  /** @type {any[]} configurations: a tracer to run, or none */
  const list = [
    { name: 'no tracer', none: true },
    tcplife('tcplife -j (JSON lines) > file', ['-j'], 'jsonl', both),
    tcplife('tcplife -j --socket-storage', ['-j', '--socket-storage'], 'jsonl', both),
    tcplife(
      'tcplife -j --attach raw_tp (hash map, probe reads)',
      ['-j', '--attach', 'raw_tp'],
      'jsonl',
      both,
    ),
    tcplife(
      'tcplife -j --interim 1 (open sessions walked each second)',
      ['-j', '--interim', '1'],
      'jsonl',
      both,
    ),
    { ...tcplife('tcplife -j | jq -c . > file', ['-j'], 'jsonl', both), jq: true },
    tcplife('tcplife -s (CSV) > file', ['-s'], 'csv', both),
    tcplife('tcplife (table) > file', [], 'table', both),
    tcplife(
      `tcplife, 10 % kernel filter`,
      ['-j', `lport == ${p1} or rport == ${p1}`],
      'jsonl',
      (w) => 2 * w.n1,
    ),
    tcplife('tcplife, regex (userspace)', ['-j', 'comm =~ /^tl_bcl/'], 'jsonl', (w) => w.n),
    tcplife(
      'tcplife --interval 1 --group-by comm,rport',
      ['-j', '--interval', '1', '--group-by', 'comm,rport'],
      'summary',
      both,
    ),
    {
      ...tcplife(
        'tcplife -o none --metrics (sessions counted)',
        ['-o', 'none', '--metrics', `127.0.0.1:${METRICS_PORT}`],
        'none',
        both,
      ),
      metricsPort: METRICS_PORT,
    },
    tcplife(
      'tcplife --interval 1 --group-by comm',
      ['-j', '--interval', '1', '--group-by', 'comm'],
      'summary',
      both,
    ),
  ];
  if (ref && (!SMOKE || flag('--all'))) {
    list.push({
      name: 'C reference consumer > file',
      cmd: ref.bin,
      args: [ref.obj],
      parse: 'bt',
      expect: both,
      tool: 'rbref',
    });
    list.push({
      name: 'null tp_btf program (the limit)',
      cmd: ref.bin,
      args: ['-n', ref.obj],
      parse: 'none',
      expect: () => 0,
      tool: 'rbref',
    });
  }
  if (!SMOKE || flag('--all')) {
    if (existsSync('/usr/sbin/tcplife')) {
      list.push({
        name: 'libbpf-tools tcplife > file',
        cmd: '/usr/sbin/tcplife',
        args: [],
        parse: 'table-lt',
        expect: both,
        tool: 'libbpf-tools',
      });
      list.push({
        name: `libbpf-tools tcplife -D (5 %)`,
        cmd: '/usr/sbin/tcplife',
        args: ['-D', String(p1)],
        parse: 'table-lt',
        expect: (w) => w.n1,
        tool: 'libbpf-tools',
      });
    }
    if (existsSync('/usr/bin/bpftrace')) {
      writeFileSync(join(OUT, 'all.bt'), BPFTRACE(''));
      writeFileSync(
        join(OUT, 'pred.bt'),
        BPFTRACE(`&& (args->sport == ${p1} || args->dport == ${p1})`),
      );
      list.push({
        name: 'bpftrace script > file',
        cmd: '/usr/bin/bpftrace',
        args: [join(OUT, 'all.bt')],
        parse: 'bt',
        expect: both,
        tool: 'bpftrace',
      });
      list.push({
        name: 'bpftrace script, 10 % predicate',
        cmd: '/usr/bin/bpftrace',
        args: [join(OUT, 'pred.bt')],
        parse: 'bt',
        expect: (w) => 2 * w.n1,
        tool: 'bpftrace',
      });
    }
  }
  return ONLY ? list.filter((c) => c.none || ONLY.test(c.name)) : list;
}

/** Workload records in a tracer's output: [{side, lport, rport, tx, rx}] */
function parseOutput(kind, text) {
  const recs = [];
  if (kind === 'none') return recs;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let f;
    if (kind === 'summary') {
      // Interval summaries: the workload's sessions, by the groups' comm.
      try {
        const o = JSON.parse(line);
        if (/^tl_b/.test(o.comm)) recs.push({ count: o.sessions });
      } catch {
        // not a summary line
      }
      continue;
    }
    if (kind === 'jsonl') {
      try {
        const o = JSON.parse(line);
        // Records of sessions still open (--interim) are not sessions that closed.
        if (o.event !== undefined && o.event !== 'close') continue;
        f = { lport: o.lport, rport: o.rport, tx: o.tx_b, rx: o.rx_b, comm: o.comm };
      } catch {
        continue;
      }
    } else if (kind === 'csv') {
      const c = line.split(',');
      f = { lport: Number(c[4]), rport: Number(c[6]), comm: c[1] };
    } else if (kind === 'table' || kind === 'table-lt') {
      const c = line.trim().split(/\s+/);
      f = { lport: Number(c[3]), rport: Number(c[5]), comm: c[1] };
    } else {
      const c = line.trim().split(/\s+/);
      f = {
        lport: Number(c[2]),
        rport: Number(c[3]),
        tx: Number(c[4]),
        rx: Number(c[5]),
        comm: c[1],
      };
    }
    recs.push(f);
  }
  return recs;
}

/**
 * Checks a tracer's records against what the clients did: each record is a
 * client side (remote port = a server port) or a server side (local port =
 * a server port); byte counts must be exact where the output carries them.
 * Records are counted, not de-duplicated by ports: ephemeral ports are
 * reused many times in a run.
 */
function checkRecords(recs, ports, expected, prof) {
  if (recs.length && recs[0].count !== undefined) {
    const n = recs.reduce((a, r) => a + r.count, 0);
    return {
      reported: Math.min(n, expected),
      expected,
      dup: Math.max(0, n - expected),
      badBytes: 0,
    };
  }
  let client = 0;
  let server = 0;
  let badBytes = 0;
  for (const r of recs) {
    const isServer = ports.includes(r.lport);
    const isClient = !isServer && ports.includes(r.rport);
    if (!isServer && !isClient) continue;
    if (isServer) server++;
    else client++;
    if (r.tx !== undefined) {
      const [tx, rx] = isServer ? [prof.reply + 1, prof.send + 1] : [prof.send + 2, prof.reply + 1];
      if (r.tx !== tx || r.rx !== rx) badBytes++;
    }
  }
  const reported = client + server;
  // More records than sessions made would be duplicates.
  const dup = Math.max(0, reported - expected);
  return { reported: Math.min(reported, expected), expected, dup, badBytes, client, server };
}

function toolLoss(tool, stderr) {
  if (tool === 'tcplife') {
    const m = /(\d+) session\(s\) lost/.exec(stderr);
    if (!m) return Number.NaN;
    // Also the sessions it counted and did not report for another reason:
    // a start or a close it did not see.
    let n = Number(m[1]);
    for (const re of [
      /(\d+) session\(s\) closed whose start was not seen/,
      /(\d+) session\(s\) whose close no program saw/,
    ])
      n += Number(re.exec(stderr)?.[1] ?? 0);
    return n;
  }
  if (tool === 'rbref') return 0; // counts nothing: a reference, not a tool
  if (tool === 'libbpf-tools') {
    let n = 0;
    for (const m of stderr.matchAll(/lost (\d+) events/gi)) n += Number(m[1]);
    return n;
  }
  let n = 0;
  for (const m of stderr.matchAll(/Lost (\d+) events/g)) n += Number(m[1]);
  return n;
}

/** The tracer's output file, or a jq reading its stdout and writing the file. */
function spawnTracer(cfg, outPath, errFile) {
  const out = openSync(outPath, 'w');
  const err = openSync(errFile, 'w');
  let tracer;
  if (cfg.jq) {
    const jq = spawn('jq', ['-c', '.'], { stdio: ['pipe', out, 'ignore'] });
    tracer = spawn(cfg.cmd, cfg.args, { stdio: ['ignore', jq.stdin, err] });
    // The tracer holds the pipe's writing end now; ours would keep jq from its EOF.
    jq.stdin.destroy();
    tracer.jq = jq;
  } else tracer = spawn(cfg.cmd, cfg.args, { stdio: ['ignore', out, err] });
  closeSync(out);
  closeSync(err);
  tracer.outPath = outPath;
  return tracer;
}

/** Sessions counted by a tcplife serving --metrics (scraped before it stops). */
async function scrapeSessions(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^tcplife_sessions_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

async function runOne(cfg, dir, ports, round, prof) {
  let tracer;
  let errFile;
  if (!cfg.none) {
    const outPath = join(
      OUT,
      `${prof.name}-r${round}-${cfg.name.replace(/[^a-z0-9]+/gi, '_')}.out`,
    );
    errFile = `${outPath}.err`;
    tracer = spawnTracer(cfg, outPath, errFile);
    await waitAttached(tracer);
    await sleep(200);
  }
  const cpu0 = tracer ? cpuNs(tracer.pid) : 0;
  const run0 = tracer ? bpfRunNs(tracer.pid) : 0;
  const progs0 = tracer ? progStats(tracer.pid) : new Map();
  const w = await runClients(dir, ports[0], ports[1], prof);
  // Sessions the clients counted may still be closing at the server's end:
  // a tracer stopped before then would miss them through no fault of its own.
  await sessionsClosed(ports, 3000);
  await sleep(300); // let the tracer drain
  const cpu1 = tracer ? cpuNs(tracer.pid) : 0;
  const run1 = tracer ? bpfRunNs(tracer.pid) : 0;
  const result = { name: cfg.name, rate: w.n / w.seconds, w };
  if (tracer) result.progs = progCosts(progs0, progStats(tracer.pid), w.n);
  if (tracer) {
    result.rss = peakRssMb(tracer.pid);
    result.bpfMb = bpfMapMb(tracer.pid);
    // The programs' time, paid by the workload, per session made.
    result.bpfUs = (run1 - run0) / 1000 / Math.max(1, w.n);
    const counted = cfg.metricsPort ? await scrapeSessions(cfg.metricsPort) : undefined;
    await stopProc(tracer);
    if (tracer.jq)
      await new Promise((r) =>
        tracer.jq.exitCode !== null ? r(undefined) : tracer.jq.once('exit', r),
      );
    const expected = cfg.expect(w);
    if (counted !== undefined)
      Object.assign(result, {
        reported: Math.min(counted, expected),
        expected,
        dup: 0,
        badBytes: 0,
      });
    else
      Object.assign(
        result,
        checkRecords(
          parseOutput(cfg.parse, readFileSync(tracer.outPath, 'utf8')),
          ports,
          expected,
          prof,
        ),
      );
    result.toolLoss = toolLoss(cfg.tool, readFileSync(errFile, 'utf8'));
    // Per record written, or per session summarised.
    result.cpuUs =
      cfg.parse === 'none' && counted === undefined
        ? Number.NaN
        : (cpu1 - cpu0) / 1000 / Math.max(1, result.reported);
  }
  return result;
}

// ---- time from start to the first session seen ----

async function timeToFirst(cmd, args, env = {}) {
  const srv = net.createServer((c) => c.resume().on('end', () => c.end()));
  await new Promise((r) => srv.listen(0, '127.0.0.1', () => r(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (srv.address()).port;
  const t0 = performance.now();
  const p = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...env },
  });
  let seen = -1;
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d;
    if (seen < 0 && buf.includes(String(port))) seen = performance.now() - t0;
  });
  while (seen < 0 && performance.now() - t0 < 30000 && p.exitCode === null) {
    await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => c.end());
      c.on('close', r);
      c.on('error', r);
    });
    await sleep(5);
  }
  await stopProc(p);
  srv.close();
  return seen / 1000;
}

// ---- a snapshot of many open sessions ----

const SNAPSHOT_SESSIONS = opt('--snapshot-sessions', 10_000);

/**
 * `tcplife snapshot` with this many loopback connections open (twice as
 * many sockets: both ends are sessions): the wall time of the whole command,
 * start-up included, and the records it printed. Median of three.
 */
async function snapshotBench() {
  // The server in its own process: each end of 10,000 connections is a file,
  // and one process may hold 20,000 here.
  const server = spawn(
    'python3',
    [
      '-c',
      `import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(4096)
print(l.getsockname()[1], flush=True)
held = []
for i in range(int(sys.argv[1])):
    held.append(l.accept()[0])
print("all", flush=True)
sys.stdin.read()`,
      String(SNAPSHOT_SESSIONS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  const clients = [];
  for (let i = 0; i < SNAPSHOT_SESSIONS; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(SNAPSHOT_SESSIONS, i + 500); j++)
      batch.push(
        new Promise((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => resolve(c));
          c.on('error', reject);
        }),
      );
    clients.push(...(await Promise.all(batch)));
  }
  // Until the server has accepted them all: a connection still in the
  // listen queue has no file yet, so no process holds it.
  await lines.next();
  const runs = [];
  try {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const out = execFileSync(BIN, ['snapshot', '-o', 'jsonl', `port == ${port}`], {
        maxBuffer: 1 << 30,
      });
      const seconds = (performance.now() - t0) / 1000;
      runs.push({ seconds, records: out.toString().split('\n').filter(Boolean).length });
    }
  } finally {
    for (const c of clients) c.destroy();
    server.kill();
  }
  runs.sort((a, b) => a.seconds - b.seconds);
  return { sessions: SNAPSHOT_SESSIONS, ...runs[1] };
}

// ---- main ----

async function main() {
  if (process.geteuid() !== 0) {
    console.error('bench: run as root (the tracers load BPF programs)');
    process.exit(1);
  }
  mkdirSync(OUT, { recursive: true });
  const dir = buildTcpgen();
  // Programs' run time for every tracer (a few ns more per run, for all alike).
  const statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const ref = buildReference(dir);
  let mountedTracefs = false;
  const wantsOthers = !SMOKE || flag('--all');
  if (wantsOthers && !existsSync('/sys/kernel/tracing/events/sock')) {
    // libbpf-tools' tcplife and bpftrace attach classic tracepoints, which need tracefs.
    execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
    mountedTracefs = true;
  }
  if (
    wantsOthers &&
    !(
      existsSync('/usr/sbin/tcplife') &&
      existsSync('/usr/bin/bpftrace') &&
      existsSync('/usr/sbin/bpftool')
    )
  ) {
    log(
      'installing the tools compared against (and bpftool, which names programs): apt-get install libbpf-tools bpftrace bpftool',
    );
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'libbpf-tools', 'bpftrace', 'bpftool'], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch {
      log('apt-get install failed (run apt-get update first?)');
    }
  }
  const missing = ['/usr/sbin/tcplife', '/usr/bin/bpftrace'].filter((p) => !existsSync(p));
  if (wantsOthers && missing.length)
    log(`not installed, skipped: ${missing.join(', ')} (apt-get install libbpf-tools bpftrace)`);

  try {
    // Warm the cache so the throughput runs all start the same way.
    execFileSync(BIN, ['-j', '--duration', '0.1'], { stdio: 'ignore' });
    const byProfile = [];
    for (const prof of PROFILES) {
      const s0 = await startServer(dir, 'tl_bsrv', prof.reply);
      const s1 = await startServer(dir, 'tl_bsrv2', prof.reply);
      const ports = [s0.port, s1.port];
      const cfgs = configs(ports, ref);
      const results = new Map(cfgs.map((c) => [c.name, []]));
      try {
        for (let r = 0; r < ROUNDS; r++) {
          for (const c of cfgs) {
            log(`${prof.name} profile, round ${r + 1}/${ROUNDS}: ${c.name}`);
            results.get(c.name).push(await runOne(c, dir, ports, r, prof));
          }
        }
      } finally {
        s0.proc.kill();
        s1.proc.kill();
      }
      byProfile.push({ prof, results, cfgs });
    }

    const startup = [];
    if (!ONLY) log('time to first session');
    const probe = async (name, cmd, args, before) => {
      const xs = [];
      for (let i = 0; i < (SMOKE ? 1 : 3); i++) {
        before?.();
        xs.push(await timeToFirst(cmd, args));
      }
      startup.push({ name, s: median(xs) });
    };
    if (!ONLY) {
      await probe('tcplife, cold (clang runs)', BIN, ['-j'], () =>
        rmSync(CACHE, { recursive: true, force: true }),
      );
      await probe('tcplife, cached object', BIN, ['-j']);
    }
    if (!ONLY && wantsOthers && existsSync('/usr/sbin/tcplife'))
      await probe('libbpf-tools tcplife', 'stdbuf', ['-oL', '/usr/sbin/tcplife']);
    if (!ONLY && wantsOthers && existsSync('/usr/bin/bpftrace'))
      await probe('bpftrace script', '/usr/bin/bpftrace', ['-B', 'line', join(OUT, 'all.bt')]);

    let snapshot;
    if (!ONLY || ONLY.test('snapshot')) {
      log(`tcplife snapshot of ${SNAPSHOT_SESSIONS} open connections`);
      snapshot = await snapshotBench();
    }

    const report = [
      machine(),
      ...byProfile.flatMap((p) => [
        table(p.cfgs, p.prof, p.results),
        ...(p.prof.name === 'storm' ? [programTable(p.cfgs, p.prof, p.results)] : []),
      ]),
      ...(startup.length ? [startupTable(startup)] : []),
      ...(snapshot
        ? [
            `| snapshot | open connections | records printed (both ends) | wall time, start-up included (s, median of 3) |\n|---|---:|---:|---:|\n| tcplife snapshot -o jsonl | ${snapshot.sessions} | ${snapshot.records} | ${fmt(snapshot.seconds, 2)} |`,
          ]
        : []),
    ].join('\n\n');
    console.log(report);
    writeFileSync(join(OUT, 'latest.md'), `${report}\n`);
    if (SMOKE) {
      // The smoke run is a test: at a few hundred sessions nothing may be lost or wrong.
      for (const c of byProfile[0].cfgs.filter((x) => x.tool === 'tcplife')) {
        for (const r of byProfile[0].results.get(c.name)) {
          if (r.reported !== r.expected || r.dup || r.badBytes) {
            console.error(`bench: smoke failed: ${c.name}: ${JSON.stringify(r)}`);
            process.exitCode = 1;
          }
        }
      }
    }
  } finally {
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsWas);
    if (mountedTracefs) execFileSync('umount', ['/sys/kernel/tracing']);
  }
}

function fmt(x, d = 0) {
  return Number.isFinite(x) ? x.toFixed(d) : '–';
}

function machine() {
  const cpuModel = (os.cpus()[0]?.model ?? '').replace(/\s+/g, ' ').trim();
  return `Machine: Linux ${os.release()}, ${os.cpus().length} cores (${cpuModel}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}.`;
}

function table(cfgs, prof, results) {
  const base = median(results.get('no tracer').map((r) => r.rate));
  const lines = [
    `**${prof.name} profile**: ${prof.clients} client processes, sessions of ${prof.send} bytes out and ${prof.reply} back on loopback, 1 in ${EVERY} to a second port; ${SMOKE ? `${prof.clients * SMOKE_SESSIONS} sessions` : prof.sessions ? `${prof.sessions} sessions` : `${SECONDS} s`} per run, ${ROUNDS} round(s) interleaved; medians. Tracer CPU is per record written (per session for summaries); BPF µs/session is its programs' run time (kernel.bpf_stats_enabled, on for the whole run) per session made, which the workload pays; BPF memory is the memlock of the tracer's maps.`,
    '',
    '| configuration | sessions/s | vs no tracer (median, worst) | records expected | reported | lost (all rounds) | lost in the worst round | loss the tool reported | tracer CPU µs/record (median, worst) | BPF µs/session | peak RSS MB (median, worst) | BPF memory MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cfgs) {
    const rs = results.get(c.name);
    const rate = median(rs.map((r) => r.rate));
    if (c.none) {
      lines.push(`| ${c.name} | ${fmt(rate)} | 1.00 | | | | | | | | | |`);
      continue;
    }
    const exp = rs.reduce((a, r) => a + r.expected, 0);
    const rep = rs.reduce((a, r) => a + r.reported, 0);
    const lost = exp - rep;
    const tl = rs.reduce((a, r) => a + r.toolLoss, 0);
    const bad = rs.reduce((a, r) => a + r.dup + r.badBytes, 0);
    const worst = rs.reduce(
      (w, r) =>
        (r.expected - r.reported) / Math.max(1, r.expected) >= w.pct
          ? { n: r.expected - r.reported, pct: (r.expected - r.reported) / Math.max(1, r.expected) }
          : w,
      { n: 0, pct: -1 },
    );
    // The round run beside the slowest no-tracer rate is not paired: each round's ratio is to its own baseline.
    const baseRates = results.get('no tracer').map((r) => r.rate);
    const worstRatio = Math.min(...rs.map((r, i) => r.rate / (baseRates[i] ?? base)));
    lines.push(
      `| ${c.name} | ${fmt(rate)} | ${fmt(rate / base, 2)}, ${fmt(worstRatio, 2)} | ${exp} | ${rep}${bad ? ` (${bad} wrong)` : ''} | ${lost} (${fmt((100 * lost) / Math.max(1, exp), 3)} %) | ${worst.n} (${fmt(100 * worst.pct, 3)} %) | ${fmt(tl)} | ${fmt(median(rs.map((r) => r.cpuUs)), 2)}, ${fmt(Math.max(...rs.map((r) => r.cpuUs)), 2)} | ${fmt(median(rs.map((r) => r.bpfUs)), 2)} | ${fmt(median(rs.map((r) => r.rss)))}, ${fmt(Math.max(...rs.map((r) => r.rss)))} | ${fmt(median(rs.map((r) => r.bpfMb)), 1)} |`,
    );
  }
  return lines.join('\n');
}

/** What each BPF program costs the workload, per session made (medians over the rounds). */
function programTable(cfgs, prof, results) {
  const lines = [
    `**What each BPF program costs** (${prof.name} profile): runs and run time per session made, which the traced workload pays (kernel.bpf_stats_enabled; medians over the rounds).`,
    '',
    '| configuration | program | runs/session | BPF µs/session |',
    '|---|---|---:|---:|',
  ];
  for (const c of cfgs) {
    const rs = results.get(c.name).filter((r) => r.progs?.length);
    if (
      !rs.length ||
      !/JSON lines|C reference|null|libbpf-tools tcplife >|bpftrace script >/.test(c.name)
    )
      continue;
    for (const name of [...new Set(rs.flatMap((r) => r.progs.map((p) => p.name)))]) {
      const of = rs.map((r) => r.progs.find((p) => p.name === name) ?? { runs: 0, us: 0 });
      lines.push(
        `| ${c.name} | ${name} | ${fmt(median(of.map((p) => p.runs)), 2)} | ${fmt(median(of.map((p) => p.us)), 2)} |`,
      );
    }
  }
  return lines.join('\n');
}

function startupTable(startup) {
  const lines = ['| start-up | time to the first session seen (s) |', '|---|---:|'];
  for (const s of startup) lines.push(`| ${s.name} | ${fmt(s.s, 2)} |`);
  return lines.join('\n');
}

main().catch((e) => {
  console.error(`bench: ${e.stack ?? e}`);
  process.exit(1);
});
