/** Globs for string fields: `*` any run, `?` one character, `\` escapes the next. */

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else {
      const lit = c === '\\' && i + 1 < pattern.length ? pattern[++i]! : c;
      re += lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 's');
}

/**
 * The literal text before the first wildcard, and whether the glob is exactly
 * "that prefix then anything" (or the literal itself), which the kernel can
 * decide without help.
 */
export function globPrefix(pattern: string): { prefix: string; exact: 'prefix' | 'equal' | false } {
  let prefix = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' || c === '?') {
      const rest = pattern.slice(i);
      return { prefix, exact: /^\*+$/.test(rest) ? 'prefix' : false };
    }
    prefix += c === '\\' && i + 1 < pattern.length ? pattern[++i]! : c;
  }
  return { prefix, exact: 'equal' };
}
