// The userspace path alone, without the kernel: records from a buffer laid
// out like the ring's, written as JSON lines (and CSV, table) to /dev/null,
// by the Session path (decode, then a formatter's row) and by the fast path
// (records straight to bytes), side by side. Prints CPU µs per record (not
// a test): the floor for tcplife's own cost.
import { openSync } from 'node:fs';
import { makeDecoder } from '../dist/model/decode.js';
import { RECORD_SIZE as EVENT_SIZE, member } from '../dist/model/record.js';
import { fastWriter } from '../dist/pipeline/fast.js';
import { createFormatter } from '../dist/pipeline/formatters.js';
import { LineWriter } from '../dist/pipeline/writer.js';

const N = 2_000_000;
const at = (field) => member(field).offset;
const OFFSETS = Object.fromEntries(
  [
    'time',
    'span_us',
    'rx_b',
    'tx_b',
    'pid',
    'laddr',
    'raddr',
    'lport',
    'rport',
    'family',
    'owner',
    'comm',
    'netns',
    'cgroup_id',
    'sid',
    'rtt_us',
  ].map((f) => [f, at(f)]),
);
const buf = new ArrayBuffer(EVENT_SIZE * 1024);
const dv = new DataView(buf);
for (let i = 0; i < 1024; i++) {
  const o = i * EVENT_SIZE;
  // 50,000 closes a second: consecutive records are 20 µs apart, as in a burst.
  dv.setBigUint64(o + OFFSETS.time, 1_000_000_000n + 20_000n * BigInt(i), true);
  dv.setBigUint64(o + OFFSETS.span_us, BigInt(200 + i), true);
  dv.setBigUint64(o + OFFSETS.rx_b, 1201n, true);
  dv.setBigUint64(o + OFFSETS.tx_b, 302n, true);
  // A storm's: four client processes and a server, in one cgroup and network namespace.
  dv.setUint32(o + OFFSETS.pid, i & 1 ? 4242 : 5000 + (i & 6), true);
  dv.setUint32(o + OFFSETS.netns, 4026531840, true);
  dv.setBigUint64(o + OFFSETS.cgroup_id, 10321n, true);
  dv.setBigUint64(o + OFFSETS.sid, 8_000_000n + BigInt(i), true);
  dv.setUint32(o + OFFSETS.rtt_us, 20 + (i % 13), true);
  for (const [j, b] of [127, 0, 0, 1].entries()) {
    dv.setUint8(o + OFFSETS.laddr + j, b);
    dv.setUint8(o + OFFSETS.raddr + j, b);
  }
  dv.setUint16(o + OFFSETS.lport, 40000 + i, true);
  dv.setUint16(o + OFFSETS.rport, 8080, true);
  dv.setUint8(o + OFFSETS.family, 4);
  dv.setUint8(o + OFFSETS.owner, 1);
  for (const [j, c] of [...'tl_bcli'].entries()) dv.setUint8(o + OFFSETS.comm + j, c.charCodeAt(0));
}
const resolvers = { cgroup: () => '/user.slice/user-0.slice/session-1.scope', container: () => '' };
const decodeWith = makeDecoder(resolvers);

function sessionPath(o) {
  const fmt = createFormatter(o);
  const out = new LineWriter(openSync('/dev/null', 'w'), () => {});
  const u0 = process.cpuUsage();
  for (let i = 0; i < N; i++)
    out.line(fmt.row(decodeWith(dv, (i & 1023) * EVENT_SIZE, EVENT_SIZE, 1.7e12)));
  out.flush();
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / N;
}

function fastPath(o) {
  const out = new LineWriter(openSync('/dev/null', 'w'), () => {});
  const w = fastWriter(o, resolvers, (b, n) => out.bytes(b, n));
  const u0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    w.record(dv, (i & 1023) * EVENT_SIZE, EVENT_SIZE, 1.7e12);
    // a drain of the ring ends every 1,024 records
    if ((i & 1023) === 1023) w.flush();
  }
  w.flush();
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / N;
}

console.log('| format | Session path µs/record | fast path µs/record |');
console.log('|---|---:|---:|');
for (const [name, o] of [
  ['JSON lines', { format: 'jsonl' }],
  ['CSV (-o csv)', { format: 'csv' }],
  ['table', { format: 'table' }],
]) {
  // Interleaved, twice each; the second figures are quoted (warm).
  sessionPath(o);
  fastPath(o);
  console.log(`| ${name} | ${sessionPath(o).toFixed(2)} | ${fastPath(o).toFixed(2)} |`);
}
console.log(`(${N} records each; 25 JSON keys)`);
