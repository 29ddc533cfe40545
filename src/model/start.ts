/**
 * What the kernel remembers of a socket until its session closes (struct
 * start of the BPF template), declared once: this list generates the C
 * declaration with a size assert, in this order with C's natural alignment,
 * and the offsets userspace (and the tests that write starts) use.
 */
import { type CMember, cStruct } from './c-struct.js';

export const START_MEMBERS = [
  { name: 'ts_ns', c: 'u64', doc: 'when the session began (CLOCK_MONOTONIC); 0: a start used' },
  { name: 'cgroup_id', c: 'u64', doc: "the owner's cgroup v2 id" },
  { name: 'pid', c: 'u32', doc: "the owner's process id" },
  { name: 'uid', c: 'u32', doc: "the owner's user id" },
  { name: 'comm', c: 'char[16]', doc: "the owner's command name" },
  {
    name: 'owner',
    c: 'u8',
    doc: "1 when pid/comm/uid/cgroup_id came from a transition in the owner's context",
  },
  {
    name: 'role',
    c: 'u8',
    doc: 'ROLE_CLIENT when the first state seen was SYN_SENT, ROLE_SERVER for SYN_RECV',
  },
  { name: 'adopted', c: 'u8', doc: '1: the session was open when tracing began (tcplife_walk)' },
  {
    name: 'cookie',
    c: 'u64',
    doc: "the socket's cookie when the start was made (0: none yet): proof that the socket at this start's key is still its own",
  },
  {
    name: 'sid',
    c: 'u64',
    doc: "the session's id: its cookie, or for a socket without one a number from SID_MADE up",
  },
  { name: 'last_ns', c: 'u64', doc: "when the session's last interim record was made (0: none)" },
  { name: 'walk_seq', c: 'u64', doc: 'the last walk that visited it (tcplife_walk)' },
  {
    name: 'counted_tx',
    c: 'u64',
    doc: "tx_b of the session's last interim record counted in the kernel's metrics",
  },
  { name: 'counted_rx', c: 'u64', doc: '... and its rx_b' },
] as const satisfies readonly CMember[];

export type StartMember = (typeof START_MEMBERS)[number]['name'];

const START = cStruct('start', START_MEMBERS, 'src/model/start.ts');
/** Each member's offset in struct start. */
export const START_OFFSETS: Readonly<Record<StartMember, number>> = START.offsets;
/** sizeof(struct start): a map value's size. */
export const START_SIZE = START.size;

/** The C declaration of struct start, for the BPF template. */
export function startStructC(): string {
  return START.c;
}
