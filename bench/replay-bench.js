// tcplife replay against jq on the same 200,000-line recording, with the
// same condition; both outputs must have the same lines. Prints figures.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionOf } from '../dist/model/fields.js';
import { createFormatter } from '../dist/pipeline/formatters.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench/out');
mkdirSync(OUT, { recursive: true });
const N = 200_000;
const f = createFormatter({ format: 'jsonl' });
const lines = [];
for (let i = 0; i < N; i++) {
  lines.push(
    f.row(
      sessionOf({
        time: 1.7e12 + i,
        pid: i % 5000,
        uid: 0,
        comm: ['curl', 'nginx', 'java'][i % 3],
        family: 4,
        laddr: '10.0.0.5',
        lport: 30000 + (i % 30000),
        raddr: '10.0.0.9',
        rport: [443, 80, 5432][i % 3],
        tx_b: (i * 37) % 100000,
        rx_b: (i * 91) % 100000,
        span_us: i % 1000000,
        retrans: i % 7 === 0 ? 1 : 0,
        owner: true,
        role: i % 2 ? 'client' : 'server',
        outcome: 'closed',
        rtt_us: 50,
        cgroup_id: 1,
        cgroup: '/',
        container: '',
        netns: 4026531840,
        event: 'close',
        sid: 8192 + i,
        start_seen: true,
      }),
    ),
  );
}
const file = join(OUT, 'replay-200k.jsonl');
writeFileSync(file, `${lines.join('\n')}\n`);

/** @type {Record<string, [string, string[]]>} */
const runs = {
  'tcplife replay': [join(ROOT, 'bin/tcplife'), ['replay', file, 'rport == 443 and tx_kb > 50']],
  "jq -c 'select(…)'": ['jq', ['-c', 'select(.rport == 443 and .tx_kb > 50)', file]],
};
const times = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
const outputs = {};
for (let round = 0; round < 3; round++) {
  for (const [name, [cmd, args]] of Object.entries(runs)) {
    const t0 = performance.now();
    outputs[name] = execFileSync(cmd, args, { maxBuffer: 1 << 30 }).toString();
    times[name].push((performance.now() - t0) / 1000);
  }
}
// jq writes numbers its own way: compare which sessions were selected.
const selected = (text) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).time)
    .join(',');
const [a, b] = Object.values(outputs);
if (selected(a) !== selected(b)) throw new Error('tcplife replay and jq selected different lines');
const median = (xs) => [...xs].sort((x, y) => x - y)[1];
console.log(
  `Replay: ${N} lines (${(a.split('\n').length - 1).toLocaleString('en')} selected), 3 rounds interleaved, medians.\n`,
);
console.log('| tool | seconds | lines/s |\n|---|---:|---:|');
for (const [name, ts] of Object.entries(times))
  console.log(
    `| ${name} | ${median(ts).toFixed(2)} | ${Math.round(N / median(ts)).toLocaleString('en')} |`,
  );
