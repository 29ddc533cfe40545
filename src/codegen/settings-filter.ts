/**
 * Filters made only of what the original tool's options say — a PID, a
 * family, sets of local and remote ports — need no generated C: the program
 * reads them from its read-only settings (settings_filter in the template).
 * Every such filter then shares one object: no clang run, no new cache entry
 * for each -p PID, and the object shipped in the package serves them.
 */
import type { Pred } from '../dsl/ir.js';

export interface SettingsFilter {
  readonly filter: number;
  readonly filter_pid: number;
  readonly filter_family: number;
  readonly lport_set: readonly bigint[];
  readonly rport_set: readonly bigint[];
}

const PID = 1;
const FAMILY = 2;
const LPORTS = 4;
const RPORTS = 8;
const WORDS = 1024;

/** What no filter is: every bit clear. */
export const NO_SETTINGS_FILTER: SettingsFilter = {
  filter: 0,
  filter_pid: 0,
  filter_family: 0,
  lport_set: new Array<bigint>(WORDS).fill(0n),
  rport_set: new Array<bigint>(WORDS).fill(0n),
};

function portBitmap(ranges: readonly (readonly [number, number])[]): bigint[] | undefined {
  const words = new Array<bigint>(WORDS).fill(0n);
  for (const [lo, hi] of ranges) {
    const a = Math.max(0, Math.ceil(lo));
    const b = Math.min(65535, Math.floor(hi));
    for (let v = a; v <= b; v++) words[v >> 6] = words[v >> 6]! | (1n << BigInt(v & 63));
  }
  return words;
}

/** The settings that decide this kernel predicate exactly, or undefined when it needs C. */
export function settingsFilter(kernel: Pred): SettingsFilter | undefined {
  const atoms = kernel.k === 'and' ? kernel.items : [kernel];
  let out = { ...NO_SETTINGS_FILTER };
  const seen = new Set<string>();
  for (const p of atoms) {
    if (p.k === 'const') {
      if (p.value) continue;
      return undefined;
    }
    if ((p.k !== 'num' && p.k !== 'numset') || seen.has(p.key)) return undefined;
    seen.add(p.key);
    const ranges =
      p.k === 'numset' ? p.ranges : p.op === '==' ? [[p.value, p.value] as const] : undefined;
    if (!ranges) return undefined;
    if (p.key === 'pid' && p.k === 'num' && Number.isSafeInteger(p.value))
      out = { ...out, filter: out.filter | PID, filter_pid: p.value };
    else if (p.key === 'family' && p.k === 'num' && (p.value === 4 || p.value === 6))
      out = { ...out, filter: out.filter | FAMILY, filter_family: p.value };
    else if (p.key === 'lport')
      out = { ...out, filter: out.filter | LPORTS, lport_set: portBitmap(ranges)! };
    else if (p.key === 'rport')
      out = { ...out, filter: out.filter | RPORTS, rport_set: portBitmap(ranges)! };
    else return undefined;
  }
  return out;
}

/** The settings filter in words, for --explain: `pid == 7 and lport in (80, 8000..8099)`. */
export function describeSettingsFilter(s: SettingsFilter): string {
  const parts: string[] = [];
  const ports = (words: readonly bigint[]) => {
    const out: string[] = [];
    let start = -1;
    for (let v = 0; v <= 65536; v++) {
      const on = v < 65536 && ((words[v >> 6]! >> BigInt(v & 63)) & 1n) === 1n;
      if (on && start < 0) start = v;
      if (!on && start >= 0) {
        out.push(start === v - 1 ? String(start) : `${start}..${v - 1}`);
        start = -1;
      }
    }
    return `(${out.join(', ')})`;
  };
  if (s.filter & PID) parts.push(`pid == ${s.filter_pid}`);
  if (s.filter & FAMILY) parts.push(`family == ${s.filter_family}`);
  if (s.filter & LPORTS) parts.push(`lport in ${ports(s.lport_set)}`);
  if (s.filter & RPORTS) parts.push(`rport in ${ports(s.rport_set)}`);
  return parts.length ? parts.join(' and ') : 'every session';
}
