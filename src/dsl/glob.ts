/**
 * Globs for string fields: `*` any run of bytes, `?` one byte, `\xHH` the
 * byte HH, `\` before any other character that character. A glob works on
 * bytes, as `==` does: a comm is whatever bytes a process set (its text form
 * writes a byte that is not UTF-8 as \xHH, model/text.ts), so `?` is one
 * byte and `\xe9` matches the byte e9 whether or not it is part of a
 * character. The kernel decides a glob that is a prefix (`ab\xe9*`) or a
 * literal; userspace the rest, with the same meaning.
 */
import { bytesToText, textToBytes } from '../model/text.js';

type Part =
  | { readonly k: 'any' }
  | { readonly k: 'one' }
  | { readonly k: 'byte'; readonly b: number };

const HEX2 = /^[0-9a-fA-F]{2}$/;

function parts(pattern: string): Part[] {
  const out: Part[] = [];
  const literal = (s: string) => {
    for (const b of textToBytes(s)) out.push({ k: 'byte', b });
  };
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === '*' || c === '?') {
      out.push({ k: c === '*' ? 'any' : 'one' });
      i++;
    } else if (c === '\\' && pattern[i + 1] === 'x' && HEX2.test(pattern.slice(i + 2, i + 4))) {
      out.push({ k: 'byte', b: Number.parseInt(pattern.slice(i + 2, i + 4), 16) });
      i += 4;
    } else if (c === '\\' && i + 1 < pattern.length) {
      const ch = String.fromCodePoint(pattern.codePointAt(i + 1)!);
      // An escaped character is itself (its UTF-8 bytes), never an escape of ours.
      for (const b of Buffer.from(ch, 'utf8')) out.push({ k: 'byte', b });
      i += 1 + ch.length;
    } else {
      const ch = String.fromCodePoint(pattern.codePointAt(i)!);
      literal(ch);
      i += ch.length;
    }
  }
  return out;
}

/** A string of one character per byte (latin1), which a RegExp can match byte by byte. */
function byteString(text: string): string {
  // Most comms are ASCII with no escape: already one character per byte.
  if (ASCII_NO_ESCAPE.test(text)) return text;
  return Buffer.from(textToBytes(text)).toString('latin1');
}

const ASCII_NO_ESCAPE = /^[\x00-\x5b\x5d-\x7f]*$/;

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (const p of parts(pattern)) {
    if (p.k === 'any') re += '[\\s\\S]*';
    else if (p.k === 'one') re += '[\\s\\S]';
    else re += `\\x${p.b.toString(16).padStart(2, '0')}`;
  }
  return new RegExp(`^${re}$`);
}

/** A test of a field's text form against the glob, byte by byte. */
export function globMatcher(pattern: string): (text: string) => boolean {
  const re = globToRegExp(pattern);
  return (text) => re.test(byteString(text));
}

/** How many bytes a string matched by the glob has at least (the literal bytes and each `?`). */
export function globMinBytes(pattern: string): number {
  return parts(pattern).filter((p) => p.k !== 'any').length;
}

/**
 * The literal bytes before the first wildcard (in text form), and whether
 * the glob is exactly "that prefix then anything" (or the literal itself),
 * which the kernel can decide without help.
 */
export function globPrefix(pattern: string): { prefix: string; exact: 'prefix' | 'equal' | false } {
  const ps = parts(pattern);
  const first = ps.findIndex((p) => p.k !== 'byte');
  const lits = (first < 0 ? ps : ps.slice(0, first)).map((p) => (p as { b: number }).b);
  const prefix = bytesToText(Uint8Array.from(lits));
  if (first < 0) return { prefix, exact: 'equal' };
  return { prefix, exact: ps.slice(first).every((p) => p.k === 'any') ? 'prefix' : false };
}
