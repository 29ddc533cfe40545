// The userspace path alone, without the kernel: decode records from a buffer
// laid out like the ring's, format JSON lines, write them to /dev/null.
// Prints CPU µs per record (not a test): the floor for tcplife's own cost.
import { openSync } from 'node:fs';
import { makeDecoder } from '../dist/kernel/decode.js';
import { RECORD_SIZE as EVENT_SIZE, member } from '../dist/model/record.js';
import { createFormatter } from '../dist/pipeline/formatters.js';
import { LineWriter } from '../dist/pipeline/writer.js';

const N = 2_000_000;
const decodeEvent = makeDecoder();
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
  dv.setUint32(o + OFFSETS.pid, 4242, true);
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
const fmt = createFormatter({ format: 'jsonl' });
const out = new LineWriter(openSync('/dev/null', 'w'), () => {});
const u0 = process.cpuUsage();
for (let i = 0; i < N; i++)
  out.line(fmt.row(decodeEvent(dv, (i & 1023) * EVENT_SIZE, EVENT_SIZE, 1.7e12)));
out.flush();
const u = process.cpuUsage(u0);
console.log(
  `decode + JSON line + write: ${((u.user + u.system) / N).toFixed(2)} µs CPU per record (${N} records)`,
);
