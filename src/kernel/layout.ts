/**
 * One definition of the event record drives both sides: it generates the C
 * struct (with a static size assert) for the BPF template and the decoder
 * that turns a record of the ring buffer into a Session.
 */
import { type Addr, formatAddr } from '../dsl/addr.js';

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
  /** CLOCK_MONOTONIC nanoseconds at close */
  ts_ns: bigint;
  /** wall-clock time of the close, milliseconds since the epoch */
  time_ms: number;
  /** true when PID/COMM are the socket owner's; false: the task running at close */
  owner: boolean;
  /** address bytes, for fast CIDR matching (not printed) */
  laddrBytes?: Addr;
  raddrBytes?: Addr;
}

const decoder = new TextDecoder('utf-8');

function addrAt(dv: DataView, off: number, family: 4 | 6): Addr {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = new Array(n);
  for (let i = 0; i < n; i++) bytes[i] = dv.getUint8(off + i);
  return { family, bytes };
}

/**
 * Decodes one record. `monoToEpochMs` converts CLOCK_MONOTONIC ns to wall
 * clock ms (an offset measured once at start).
 */
export function decodeEvent(
  dv: DataView,
  off: number,
  len: number,
  monoToEpochMs: (ns: bigint) => number,
): Session {
  if (len !== EVENT_SIZE) throw new Error(`event record of ${len} bytes, expected ${EVENT_SIZE}`);
  const O = OFFSETS as Record<string, number>;
  const family = dv.getUint8(off + O.family!) === 6 ? 6 : 4;
  const la = addrAt(dv, off + O.laddr!, family);
  const ra = addrAt(dv, off + O.raddr!, family);
  let commEnd = off + O.comm!;
  const commMax = commEnd + 16;
  while (commEnd < commMax && dv.getUint8(commEnd) !== 0) commEnd++;
  const ts = dv.getBigUint64(off + O.ts_ns!, true);
  return {
    pid: dv.getUint32(off + O.pid!, true),
    uid: dv.getUint32(off + O.uid!, true),
    comm: decoder.decode(
      new Uint8Array(dv.buffer, dv.byteOffset + off + O.comm!, commEnd - off - O.comm!),
    ),
    family,
    laddr: formatAddr(la),
    lport: dv.getUint16(off + O.lport!, true),
    raddr: formatAddr(ra),
    rport: dv.getUint16(off + O.rport!, true),
    tx_b: Number(dv.getBigUint64(off + O.tx_b!, true)),
    rx_b: Number(dv.getBigUint64(off + O.rx_b!, true)),
    span_us: Number(dv.getBigUint64(off + O.span_us!, true)),
    ts_ns: ts,
    time_ms: monoToEpochMs(ts),
    owner: (dv.getUint8(off + O.flags!) & 1) === 1,
    laddrBytes: la,
    raddrBytes: ra,
  };
}
