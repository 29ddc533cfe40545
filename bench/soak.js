// The soak: tcplife -j for minutes at a steady rate of sessions, its memory
// sampled as it runs. At the end every session must have been printed (none
// lost), and no socket may be left in the kernel's map. Prints figures (not a
// test); exits 1 when a check fails.
//
//   npm run bench:soak                      # 5 minutes at 2,000 sessions/s
//   node bench/soak.js --seconds 3 --rate 500   # a short run (the test suite's smoke)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench/out');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('--seconds', opt('--minutes', 5) * 60);
const RATE = opt('--rate', 2000);
const SAMPLE_MS = SECONDS > 60 ? 10_000 : 500;
const SEND = 300;
const REPLY = 1200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Processes to end if the run fails. */
const children = [];
const log = (s) => process.stderr.write(`soak: ${s}\n`);

function status(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: Number.NaN, peakMb: Number.NaN };
  }
}

async function main() {
  const bin = join(OUT, 'bin');
  mkdirSync(bin, { recursive: true });
  execFileSync('cc', ['-O2', '-o', join(bin, 'tl_ssrv'), join(ROOT, 'tools/tcpgen.c')]);
  execFileSync('cp', [join(bin, 'tl_ssrv'), join(bin, 'tl_scli')]);

  const srv = spawn(join(bin, 'tl_ssrv'), ['server', '127.0.0.1', '0', '-r', String(REPLY)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(srv);
  const port = await new Promise((resolve) =>
    srv.stdout.once('data', (d) => resolve(Number(/port (\d+)/.exec(String(d))[1]))),
  );

  const outPath = join(OUT, 'soak.jsonl');
  const tracer = spawn(
    'sh',
    [
      '-c',
      `exec "$0" "$@" > ${outPath}`,
      join(ROOT, 'bin/tcplife'),
      '--verbose',
      '--stats',
      '-j',
      `lport == ${port} or rport == ${port}`,
    ],
    { stdio: ['ignore', 'inherit', 'pipe'] },
  );
  children.push(tracer);
  let stderr = '';
  tracer.stderr.on('data', (d) => {
    stderr += d;
  });
  while (!stderr.includes('tcplife: attached')) {
    if (tracer.exitCode !== null) throw new Error(`tcplife exited: ${stderr}`);
    await sleep(20);
  }
  log(`tracing port ${port}: ${SECONDS} s at ${RATE} sessions/s`);

  const client = () =>
    new Promise((resolve, reject) => {
      const c = spawn(
        join(bin, 'tl_scli'),
        [
          'client',
          '127.0.0.1',
          String(port),
          '-n',
          '0',
          '-d',
          String(SECONDS),
          '-s',
          String(SEND),
          '-R',
          String(RATE / 2),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      c.stdout.on('data', (d) => {
        out += d;
      });
      c.on('close', (code) => {
        const m = /sessions (\d+) seconds ([\d.]+)/.exec(out);
        if (code !== 0 || !m) reject(new Error(`client failed: ${out}`));
        else resolve({ n: Number(m[1]), seconds: Number(m[2]) });
      });
    });
  const samples = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    samples.push({ s: (Date.now() - t0) / 1000, ...status(tracer.pid) });
  }, SAMPLE_MS);
  const clients = await Promise.all([client(), client()]);
  clearInterval(sampler);
  await sleep(1000); // the last sessions close and are drained
  const peak = status(tracer.pid).peakMb;
  tracer.kill('SIGINT');
  const code = await new Promise((r) => tracer.once('exit', r));
  srv.kill('SIGKILL');

  const sessions = clients[0].n + clients[1].n;
  const seconds = Math.max(clients[0].seconds, clients[1].seconds);
  const lines = readFileSync(outPath, 'utf8').split('\n').filter(Boolean);
  let bad = 0;
  for (const l of lines) {
    try {
      const o = JSON.parse(l);
      const [tx, rx] = o.lport === port ? [REPLY + 1, SEND + 1] : [SEND + 2, REPLY + 1];
      if (o.tx_b !== tx || o.rx_b !== rx) bad++;
    } catch {
      bad++;
    }
  }
  const lost = Number(/(\d+) session\(s\) lost/.exec(stderr)?.[1]);
  const tracked = Number(/(\d+) socket\(s\) still tracked at exit/.exec(stderr)?.[1]);
  // Sessions of the host's already open when tracing began are tracked until they close.
  const before = Number(
    /(\d+) session\(s\) already open found at the start/.exec(stderr)?.[1] ?? 0,
  );
  const rss = samples.map((x) => x.rssMb).filter(Number.isFinite);
  const at = (f) => (rss.length ? rss[Math.min(rss.length - 1, Math.floor(f * rss.length))] : NaN);
  const mb = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');

  const checks = {
    'exit status 0': code === 0,
    'every session printed': lines.length === 2 * sessions,
    'every record exact': bad === 0,
    'none lost': lost === 0,
    'socket map empty at the end (but for sessions open before)': tracked <= before,
  };
  console.log(
    [
      `Soak: ${seconds.toFixed(0)} s at ${(sessions / seconds).toFixed(0)} sessions/s (asked ${RATE}), 2 clients on loopback, tcplife -j to a file; RSS sampled every ${SAMPLE_MS / 1000} s.`,
      '',
      '| sessions | records expected | printed | lost | socket map at the end | RSS after 10 % | at 50 % | at the end | peak RSS MB |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${sessions} | ${2 * sessions} | ${lines.length} | ${lost} | ${tracked} | ${mb(at(0.1))} | ${mb(at(0.5))} | ${mb(rss.at(-1))} | ${mb(peak)} |`,
      '',
      ...Object.entries(checks).map(([k, v]) => `- ${v ? 'ok' : 'FAILED'}: ${k}`),
    ].join('\n'),
  );
  if (Object.values(checks).some((v) => !v)) process.exit(1);
}

main().catch((e) => {
  console.error(`soak: ${e.stack ?? e}`);
  // Nothing of the run may outlive it: the tracer and the server are its children.
  for (const p of children) p.kill('SIGKILL');
  process.exit(1);
});
