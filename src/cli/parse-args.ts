/** commander argParsers: values checked where they are given, with a clear message. */
import { InvalidArgumentError } from 'commander';
import { SIZE_UNITS } from '../dsl/schema.js';

export function parsePid(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('a PID is a whole number.');
  const n = Number(v);
  if (n > 0xffff_ffff) throw new InvalidArgumentError('PID out of range.');
  return n;
}

export function parsePorts(v: string): number[] {
  const out: number[] = [];
  for (const p of v.split(',')) {
    if (!/^\s*\d+\s*$/.test(p))
      throw new InvalidArgumentError(
        `'${p}' is not a port; give a comma-separated list such as 80,443.`,
      );
    const n = Number(p);
    if (n > 65535) throw new InvalidArgumentError(`port ${n} is out of range (0-65535).`);
    out.push(n);
  }
  return out;
}

export function parsePositiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError('expected a whole number of at least 1.');
  return Number(v);
}

/** Node's timers hold at most 2^31 - 1 ms: about 24.8 days. */
export const MAX_SECONDS = 2_147_483;

export function parseSeconds(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n <= 0)
    throw new InvalidArgumentError('expected a number of seconds above 0.');
  if (n > MAX_SECONDS)
    throw new InvalidArgumentError(`at most ${MAX_SECONDS} seconds (about 24 days).`);
  return n;
}

/** The single letters ss, dd and bpftrace users type: K, M and G are binary, as KiB. */
const SHORT_UNITS: Readonly<Record<string, keyof typeof SIZE_UNITS>> = {
  K: 'KiB',
  k: 'KiB',
  M: 'MiB',
  m: 'MiB',
  G: 'GiB',
  g: 'GiB',
};

/** 16MiB, 16M, 1048576, 512KiB, 512K: bytes, or undefined when it is not a size. */
export function sizeOf(v: string): number | undefined {
  const m = /^(\d+)\s*(B|KiB|KB|MiB|MB|GiB|GB|[KkMmGg])?$/.exec(v.trim());
  if (!m) return undefined;
  const unit = m[2] ?? 'B';
  return Number(m[1]) * SIZE_UNITS[SHORT_UNITS[unit] ?? (unit as keyof typeof SIZE_UNITS)];
}

/** 268435456 → 256MiB: a size as --buffer-size and --ring-size take it. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', 1 << 30],
    ['MiB', 1 << 20],
    ['KiB', 1 << 10],
  ] as const)
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  return `${n} bytes`;
}

/** A size option's parser, between `min` and `max` bytes. */
function sizeParser(what: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = sizeOf(v);
    if (n === undefined)
      throw new InvalidArgumentError('expected a size such as 16M, 16MiB, 512K or 1048576.');
    if (n < min || n > max)
      throw new InvalidArgumentError(
        `${what} must be between ${formatBytes(min)} and ${formatBytes(max)}.`,
      );
    return n;
  };
}

/** --ring-size */
export const parseSize = sizeParser('the ring buffer size', 4096, 1 << 30);

/** --buffer-size: output waiting for a slow reader (0: none may wait… at least 64KiB). */
export const DEFAULT_BUFFER_BYTES = 256 << 20;
export const parseBufferSize = sizeParser('the output buffer size', 64 << 10, 16 * (1 << 30));

export function parseList(v: string, prev: string[] = []): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The socket map's largest size: about 120 bytes of kernel memory per entry, so 4,194,304 ≈ 480 MiB. */
export const MAX_MAP_ENTRIES = 1 << 22;

export function parseMapSize(v: string): number {
  const n = parsePositiveInt(v);
  if (n > MAX_MAP_ENTRIES)
    throw new InvalidArgumentError(
      `at most ${MAX_MAP_ENTRIES} sockets (each costs about 120 bytes of kernel memory: ${MAX_MAP_ENTRIES} ≈ 480 MiB).`,
    );
  return n;
}

/** --metrics [HOST:]PORT: a bare port binds 127.0.0.1; an IPv6 host is written in brackets. */
export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]+):)?(\d+)$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError(
      'expected [HOST:]PORT, such as 9464, 0.0.0.0:9464 or [::1]:9464.',
    );
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** --buckets: histogram bounds in seconds, ascending. */
export function parseBuckets(v: string): number[] {
  const bs = v.split(',').map((x) => Number(x.trim()));
  if (bs.some((b) => !Number.isFinite(b) || b <= 0) || bs.some((b, i) => i > 0 && b <= bs[i - 1]!))
    throw new InvalidArgumentError('expected ascending seconds above 0, such as 0.001,0.01,0.1,1.');
  return bs;
}
