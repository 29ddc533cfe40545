/**
 * One definition of the event record drives both sides: it generates the C
 * struct (with a static size assert) for the BPF template and the decoder
 * that turns a record of the ring buffer into a Session.
 */
import { formatAddr } from '../dsl/addr.js';

type CType = 'u8' | 'u16' | 'u32' | 'u64';
interface Member {
  readonly name: string;
  readonly type: CType;
  /** array length (bytes for u8) */
  readonly len?: number;
  readonly char?: boolean;
}

const SIZES: Record<CType, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

export const EVENT_MEMBERS: readonly Member[] = [
  { name: 'ts_ns', type: 'u64' },
  { name: 'span_us', type: 'u64' },
  { name: 'rx_b', type: 'u64' },
  { name: 'tx_b', type: 'u64' },
  { name: 'pid', type: 'u32' },
  { name: 'uid', type: 'u32' },
  { name: 'laddr', type: 'u8', len: 16 },
  { name: 'raddr', type: 'u8', len: 16 },
  { name: 'lport', type: 'u16' },
  { name: 'rport', type: 'u16' },
  { name: 'family', type: 'u8' },
  { name: 'flags', type: 'u8' },
  { name: '_pad', type: 'u8', len: 2 },
  { name: 'comm', type: 'u8', len: 16, char: true },
];

/** Byte offsets, computed with C's natural alignment. */
export const OFFSETS: Readonly<Record<string, number>> = (() => {
  const out: Record<string, number> = {};
  let off = 0;
  for (const m of EVENT_MEMBERS) {
    const align = SIZES[m.type];
    off = Math.ceil(off / align) * align;
    out[m.name] = off;
    off += SIZES[m.type] * (m.len ?? 1);
  }
  out.$size = Math.ceil(off / 8) * 8;
  return out;
})();

export const EVENT_SIZE = OFFSETS.$size!;

export function eventStructC(): string {
  const lines = EVENT_MEMBERS.map((m) => {
    const t = m.char ? 'char' : `__${m.type}`;
    return `  ${t} ${m.name}${m.len ? `[${m.len}]` : ''};`;
  });
  return [
    'struct event {',
    ...lines,
    '};',
    `_Static_assert(sizeof(struct event) == ${EVENT_SIZE}, "event layout differs from src/kernel/layout.ts");`,
  ].join('\n');
}

/** A closed TCP session as tcplife reports it. Keys are the filter language's field names. */
export interface Session {
  pid: number;
  uid: number;
  comm: string;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** bytes acked by the peer, as the kernel counts them (SYN and FIN each count 1) */
  tx_b: number;
  /** bytes received, as the kernel counts them (the FIN counts 1) */
  rx_b: number;
  span_us: number;
  /** wall-clock time of the close, milliseconds since the epoch */
  time_ms: number;
  /** true when PID/COMM are the socket owner's; false: the task running at close */
  owner: boolean;
}

const decoder = new TextDecoder('utf-8');
const commBytes = new Uint8Array(16);

/** A comm with non-ASCII bytes: UTF-8 (the kernel keeps whatever bytes were set). */
function decodeComm(dv: DataView, c: number): string {
  let n = 0;
  while (n < 16 && dv.getUint8(c + n) !== 0) {
    commBytes[n] = dv.getUint8(c + n);
    n++;
  }
  return decoder.decode(commBytes.subarray(0, n));
}
const O = OFFSETS as Record<string, number>;
const OFF = {
  ts: O.ts_ns!,
  span: O.span_us!,
  rx: O.rx_b!,
  tx: O.tx_b!,
  pid: O.pid!,
  uid: O.uid!,
  laddr: O.laddr!,
  raddr: O.raddr!,
  lport: O.lport!,
  rport: O.rport!,
  family: O.family!,
  flags: O.flags!,
  comm: O.comm!,
};

/** u64 as a number without a BigInt (exact below 2^53: counters and spans are). */
function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 4294967296;
}

function addrText(dv: DataView, off: number, family: 4 | 6): string {
  if (family === 4) {
    return `${dv.getUint8(off)}.${dv.getUint8(off + 1)}.${dv.getUint8(off + 2)}.${dv.getUint8(off + 3)}`;
  }
  const bytes: number[] = new Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = dv.getUint8(off + i);
  return formatAddr({ family, bytes });
}

/**
 * Decodes one record (per-record cost matters: no BigInt, no intermediate
 * arrays for IPv4). `monoOffsetMs` converts CLOCK_MONOTONIC to wall clock.
 */
export function decodeEvent(dv: DataView, off: number, len: number, monoOffsetMs: number): Session {
  if (len !== EVENT_SIZE) throw new Error(`event record of ${len} bytes, expected ${EVENT_SIZE}`);
  const family = dv.getUint8(off + OFF.family) === 6 ? 6 : 4;
  const c = off + OFF.comm;
  let comm = '';
  let ascii = true;
  for (let i = c; i < c + 16; i++) {
    const b = dv.getUint8(i);
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    comm += String.fromCharCode(b);
  }
  if (!ascii) comm = decodeComm(dv, c);
  return {
    pid: dv.getUint32(off + OFF.pid, true),
    uid: dv.getUint32(off + OFF.uid, true),
    comm,
    family,
    laddr: addrText(dv, off + OFF.laddr, family),
    lport: dv.getUint16(off + OFF.lport, true),
    raddr: addrText(dv, off + OFF.raddr, family),
    rport: dv.getUint16(off + OFF.rport, true),
    tx_b: u64(dv, off + OFF.tx),
    rx_b: u64(dv, off + OFF.rx),
    span_us: u64(dv, off + OFF.span),
    time_ms: u64(dv, off + OFF.ts) / 1e6 + monoOffsetMs,
    owner: (dv.getUint8(off + OFF.flags) & 1) === 1,
  };
}
