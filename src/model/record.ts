/**
 * The kernel's record of a session (struct event), derived from the stored
 * fields of the registry: members ordered by alignment so that no padding
 * is needed between them, offsets computed with C's natural alignment, and
 * the C declaration with a static size assert. The decoder (model/decode.ts)
 * reads the same offsets.
 */
import { type CType, ENTRIES, isStored, type StoredSpec } from './fields.js';

export interface Member {
  /** The field this member stores. */
  readonly field: string;
  /** Its name in C. */
  readonly name: string;
  readonly spec: StoredSpec;
  readonly offset: number;
  readonly size: number;
}

const LAYOUT: Readonly<Record<CType, { size: number; align: number; decl: string }>> = {
  u8: { size: 1, align: 1, decl: '__u8 %s' },
  u16: { size: 2, align: 2, decl: '__u16 %s' },
  u32: { size: 4, align: 4, decl: '__u32 %s' },
  u64: { size: 8, align: 8, decl: '__u64 %s' },
  'u8[16]': { size: 16, align: 1, decl: '__u8 %s[16]' },
  'char[16]': { size: 16, align: 1, decl: 'char %s[16]' },
};

function layout(): { members: Member[]; size: number } {
  const stored = ENTRIES.flatMap(({ name, spec }) => (isStored(spec) ? [{ name, spec }] : []));
  // Widest alignment first (a stable sort keeps registry order within one width).
  stored.sort((a, b) => LAYOUT[b.spec.c].align - LAYOUT[a.spec.c].align);
  const members: Member[] = [];
  let off = 0;
  for (const { name, spec } of stored) {
    const l = LAYOUT[spec.c];
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
    ...RECORD_MEMBERS.map((m) => `  ${LAYOUT[m.spec.c].decl.replace('%s', m.name)};`),
    '};',
    `_Static_assert(sizeof(struct event) == ${RECORD_SIZE}, "event layout differs from src/model/record.ts");`,
  ].join('\n');
}
