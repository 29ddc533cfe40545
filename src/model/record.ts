/**
 * The kernel's record of a session (struct event), derived from the stored
 * fields of the registry: members ordered by alignment so that no padding
 * is needed between them, offsets computed with C's natural alignment, and
 * the C declaration with a static size assert. The decoder (model/decode.ts)
 * reads the same offsets.
 */
import { C_TYPES } from './c-struct.js';
import { ENTRIES, isStored, type StoredSpec } from './fields.js';

export interface Member {
  /** The field this member stores. */
  readonly field: string;
  /** Its name in C. */
  readonly name: string;
  readonly spec: StoredSpec;
  readonly offset: number;
  readonly size: number;
}

function layout(): { members: Member[]; size: number } {
  const stored = ENTRIES.flatMap(({ name, spec }) => (isStored(spec) ? [{ name, spec }] : []));
  // Widest alignment first (a stable sort keeps registry order within one width).
  stored.sort((a, b) => C_TYPES[b.spec.c].align - C_TYPES[a.spec.c].align);
  const members: Member[] = [];
  let off = 0;
  for (const { name, spec } of stored) {
    const l = C_TYPES[spec.c];
    off = Math.ceil(off / l.align) * l.align;
    members.push({ field: name, name: spec.member ?? name, spec, offset: off, size: l.size });
    off += l.size;
  }
  return { members, size: Math.ceil(off / 8) * 8 };
}

const computed = layout();
export const RECORD_MEMBERS: readonly Member[] = computed.members;
export const RECORD_SIZE = computed.size;

export function member(field: string): Member {
  const m = RECORD_MEMBERS.find((x) => x.field === field);
  if (!m) throw new Error(`no record member stores ${field}`);
  return m;
}

/** The C declaration of struct event, for the BPF template. */
export function eventStructC(): string {
  return [
    'struct event {',
    ...RECORD_MEMBERS.map((m) => `  ${C_TYPES[m.spec.c].decl.replace('%s', m.name)};`),
    '};',
    `_Static_assert(sizeof(struct event) == ${RECORD_SIZE}, "event layout differs from src/model/record.ts");`,
  ].join('\n');
}
