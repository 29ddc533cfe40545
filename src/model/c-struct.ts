/**
 * A C struct shared by the BPF program and userspace, declared once as a
 * list of members: the C declaration (with a size assert naming where it
 * is declared), and the offsets and size userspace reads and writes it
 * with, in this order with C's natural alignment.
 */
import type { CType } from './fields.js';

export interface CMember {
  readonly name: string;
  readonly c: CType;
  readonly doc: string;
}

/** Each C type's size, alignment and declaration (%s: the member's name); struct event's too. */
export const C_TYPES: Readonly<Record<CType, { size: number; align: number; decl: string }>> = {
  u8: { size: 1, align: 1, decl: '__u8 %s' },
  u16: { size: 2, align: 2, decl: '__u16 %s' },
  u32: { size: 4, align: 4, decl: '__u32 %s' },
  u64: { size: 8, align: 8, decl: '__u64 %s' },
  'u8[16]': { size: 16, align: 1, decl: '__u8 %s[16]' },
  'char[16]': { size: 16, align: 1, decl: 'char %s[16]' },
};

export interface CStruct<Name extends string> {
  /** Each member's offset. */
  readonly offsets: Readonly<Record<Name, number>>;
  /** sizeof: rounded up to 8 bytes, as the members' alignment makes it. */
  readonly size: number;
  /** The C declaration, each member with its doc, and the size assert. */
  readonly c: string;
}

export function cStruct<const M extends readonly CMember[]>(
  tag: string,
  members: M,
  declaredIn: string,
): CStruct<M[number]['name']> {
  const offsets = {} as Record<M[number]['name'], number>;
  let off = 0;
  for (const m of members) {
    const t = C_TYPES[m.c];
    off = Math.ceil(off / t.align) * t.align;
    offsets[m.name as M[number]['name']] = off;
    off += t.size;
  }
  const size = Math.ceil(off / 8) * 8;
  const c = [
    `struct ${tag} {`,
    ...members.flatMap((m) => [
      `  /* ${m.doc} */`,
      `  ${C_TYPES[m.c].decl.replace('%s', m.name)};`,
    ]),
    '};',
    `_Static_assert(sizeof(struct ${tag}) == ${size}, "${tag} layout differs from ${declaredIn}");`,
  ].join('\n');
  return { offsets, size, c };
}
