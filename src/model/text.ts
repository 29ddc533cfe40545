/**
 * Strings that are bytes underneath (a comm is whatever bytes a process set,
 * cut at 15): their text form is UTF-8 where the bytes are UTF-8, and \xHH
 * for each byte that is not (a multi-byte character cut by the kernel's
 * limit, Latin-1, garbage). A backslash that would read as such an escape is
 * itself written \x5c, so the form is lossless: every \xHH in it is one byte,
 * every other character its UTF-8 bytes.
 */

const HEX = /^x[0-9a-fA-F]{2}$/;

function hex(b: number): string {
  return `\\x${b.toString(16).padStart(2, '0')}`;
}

/** Length of the valid UTF-8 sequence at i, or 0. */
function sequence(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const c1 = b[i + 1] ?? 0;
    // no overlong forms (E0 80..9F), no surrogates (ED A0..BF)
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const c1 = b[i + 1] ?? 0;
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

const utf8 = new TextDecoder('utf-8');

export function bytesToText(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      const escapeLike =
        c === 0x5c &&
        i + 3 < b.length &&
        HEX.test(String.fromCharCode(b[i + 1] ?? 0, b[i + 2] ?? 0, b[i + 3] ?? 0));
      out += escapeLike ? hex(c) : String.fromCharCode(c);
      i++;
      continue;
    }
    const n = sequence(b, i);
    if (n === 0) {
      out += hex(c);
      i++;
    } else {
      out += utf8.decode(b.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

export function textToBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; ) {
    if (s[i] === '\\' && HEX.test(s.slice(i + 1, i + 4))) {
      out.push(Number.parseInt(s.slice(i + 2, i + 4), 16));
      i += 4;
      continue;
    }
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) out.push(b);
    i += ch.length;
  }
  return Uint8Array.from(out);
}

/**
 * C0 and C1 control characters and DEL, which a terminal would act on, and
 * the bidirectional controls (U+061C, U+200E/F, U+202A–E, U+2066–9), with
 * which a name can reorder what is shown after it on its line.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/g;
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\\]/;

/**
 * Text for a terminal (a table cell, a diagnostic, a rule's description):
 * control characters become \xHH, bidirectional controls \u202e, and a
 * backslash \\, so that none reaches the terminal raw and a line stays one
 * line, in order (as ps and ls do). JSON and CSV keep the value.
 */
export function escapeControls(s: string): string {
  return HAS_CONTROL.test(s)
    ? s.replace(CONTROL, (c) => {
        if (c === '\\') return '\\\\';
        const code = c.charCodeAt(0);
        return code > 0xff
          ? `\\u${code.toString(16).padStart(4, '0')}`
          : `\\x${code.toString(16).padStart(2, '0')}`;
      })
    : s;
}
