/**
 * What a walk of the open sessions does (tcplife_walk in the BPF template),
 * set by userspace in the `walk` map before each: declared once, as struct
 * start is (c-struct.ts), with its flags.
 */
import { type CMember, cStruct } from './c-struct.js';

export const OPEN_WALK_MEMBERS = [
  {
    name: 'min_age_ns',
    c: 'u64',
    doc: 'report sessions whose last record (or start) is at least this old (ns)',
  },
  { name: 'seq', c: 'u64', doc: "this walk's number: a session is reported once a walk" },
  { name: 'event', c: 'u32', doc: 'report open sessions as records of this event code (0: none)' },
  {
    name: 'flags',
    c: 'u32',
    doc: 'WALK_ADOPT: give starts to sockets without one; WALK_UNSEEN: report those as adopted ones would be, keeping no start (a snapshot)',
  },
] as const satisfies readonly CMember[];

/** The flags' bits (a snapshot keeps no start: no map to fill, however many sockets are open). */
export const WALK_FLAGS = { WALK_ADOPT: 1, WALK_UNSEEN: 2 } as const;

const OPEN_WALK = cStruct('open_walk', OPEN_WALK_MEMBERS, 'src/model/walk.ts');

/** The C declaration of struct open_walk and its flags, for the BPF template. */
export function openWalkStructC(): string {
  return [
    OPEN_WALK.c,
    ...Object.entries(WALK_FLAGS).map(([name, bit]) => `#define ${name} ${bit}`),
  ].join('\n');
}

export interface OpenWalk {
  readonly minAgeNs: bigint;
  readonly seq: bigint;
  readonly event: number;
  readonly adopt: boolean;
  readonly unseen: boolean;
}

/** A walk's request as the program reads it from the `walk` map. */
export function encodeOpenWalk(w: OpenWalk): Buffer {
  const o = OPEN_WALK.offsets;
  const b = Buffer.alloc(OPEN_WALK.size);
  b.writeBigUInt64LE(w.minAgeNs, o.min_age_ns);
  b.writeBigUInt64LE(w.seq, o.seq);
  b.writeUInt32LE(w.event, o.event);
  b.writeUInt32LE(
    (w.adopt ? WALK_FLAGS.WALK_ADOPT : 0) | (w.unseen ? WALK_FLAGS.WALK_UNSEEN : 0),
    o.flags,
  );
  return b;
}
