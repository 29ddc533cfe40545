/** fast-check generators for random filter ASTs and sessions, shared by the property tests. */
import fc from 'fast-check';
import { maskCidr } from '../../src/dsl/addr.js';
import type { Expr, ListItem, Literal } from '../../src/dsl/ast.js';
import type { Span } from '../../src/dsl/diagnostic.js';
import type { FieldDef } from '../../src/dsl/schema.js';
import {
  DURATION_UNITS,
  type DurationUnit,
  SIZE_UNITS,
  type SizeUnit,
} from '../../src/dsl/schema.js';
import {
  ENTRIES,
  FIELDS,
  type FieldSpec,
  isResolved,
  isStored,
  tcplifeSchema,
} from '../../src/model/fields.js';

const S: Span = { source: { name: 't', text: '' }, start: 0, end: 0 };

export function stripSpans(x: unknown): unknown {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === 'span' ? undefined : v)));
}

const v4bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const v6bytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });

export const addrArb = fc.oneof(
  v4bytes.map((bytes) => ({ family: 4 as const, bytes })),
  v6bytes.map((bytes) => ({ family: 6 as const, bytes })),
  // IPv4-mapped IPv6
  v4bytes.map((b) => ({
    family: 6 as const,
    bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...b],
  })),
);

export const cidrArb = addrArb.chain((addr) =>
  fc
    .integer({ min: 0, max: addr.family === 4 ? 32 : 128 })
    .map((prefix) => maskCidr({ addr, prefix })),
);

const decimal = fc
  .tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 1, max: 99 }))
  .map(([i, f]) => Number(`${i}.${f}`));

export const literalArb: fc.Arbitrary<Literal> = fc.oneof(
  fc.integer({ min: 0, max: 1_000_000 }).map((value) => ({ kind: 'int' as const, value, span: S })),
  decimal
    .filter((v) => !Number.isInteger(v))
    .map((value) => ({ kind: 'decimal' as const, value, span: S })),
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 5000 }), decimal),
      fc.constantFrom(...(Object.keys(SIZE_UNITS) as SizeUnit[])),
    )
    .map(([value, unit]) => ({ kind: 'size' as const, value, unit, span: S })),
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 5000 }), decimal),
      fc.constantFrom(...(Object.keys(DURATION_UNITS) as DurationUnit[])),
    )
    .map(([value, unit]) => ({ kind: 'duration' as const, value, unit, span: S })),
  fc.string({ maxLength: 12 }).map((value) => ({ kind: 'string' as const, value, span: S })),
  fc
    .stringMatching(/^[a-z^$.*+?\\d]{1,8}$/)
    .filter((s) => {
      try {
        new RegExp(s);
        return !s.endsWith('\\');
      } catch {
        return false;
      }
    })
    .map((source) => ({ kind: 'regex' as const, source, flags: '', span: S })),
  addrArb.map((addr) => ({ kind: 'addr' as const, addr, span: S })),
  cidrArb.map((c) => ({ kind: 'cidr' as const, addr: c.addr, prefix: c.prefix, span: S })),
  fc
    .constantFrom(
      'closed',
      'reset',
      'refused',
      'client',
      'server',
      'refsued',
      'nginx',
      'true',
      'interim',
    )
    .map((value) => ({ kind: 'word' as const, value, span: S })),
);

const itemArb: fc.Arbitrary<ListItem> = fc.oneof(
  literalArb,
  fc.tuple(literalArb, literalArb).map(([lo, hi]) => ({ kind: 'range' as const, lo, hi, span: S })),
);

const names = [
  'pid',
  'comm',
  'dport',
  'lport',
  'raddr',
  'tx_kb',
  'span',
  'family',
  'outcome',
  'role',
  'retrans',
  'rtt_ms',
  'cgroup',
  'start_seen',
  'event',
  'port',
  'addr',
  'whatever',
];
const ident = fc.constantFrom(...names).map((name) => ({ kind: 'ident' as const, name, span: S }));
const ops = ['==', '!=', '<', '<=', '>', '>=', '~', '=~'] as const;

export const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      kind: fc.constant('compare' as const),
      field: ident,
      op: fc.constantFrom(...ops),
      value: literalArb,
      span: fc.constant(S),
    }),
    fc.record({
      kind: fc.constant('in' as const),
      field: ident,
      negated: fc.boolean(),
      list: fc.oneof(
        fc
          .array(itemArb, { minLength: 1, maxLength: 4 })
          .map((items) => ({ kind: 'list' as const, items, span: S })),
        ident,
      ),
      span: fc.constant(S),
    }),
    ident.map((name) => ({ kind: 'ref' as const, name, span: S })),
    fc.record({ kind: fc.constant('not' as const), operand: tie('expr'), span: fc.constant(S) }),
    fc.record({
      kind: fc.constant('and' as const),
      items: fc.array(tie('expr'), { minLength: 2, maxLength: 3 }),
      span: fc.constant(S),
    }),
    fc.record({
      kind: fc.constant('or' as const),
      items: fc.array(tie('expr'), { minLength: 2, maxLength: 3 }),
      span: fc.constant(S),
    }),
  ),
})).expr;

/**
 * Values that hit the literals the filters below use, for the fields where
 * the generic ones by type (valuesOf) would miss them.
 */
const INTERESTING: Readonly<Record<string, fc.Arbitrary<unknown>>> = {
  pid: fc.oneof(fc.constantFrom(0, 1, 100, 4242), fc.integer({ min: 0, max: 4_194_304 })),
  uid: fc.constantFrom(0, 1000),
  comm: fc.constantFrom('curl', 'nginx', 'node', 'java', 'javac', 'sshd', 'a,"b', ''),
  laddr: fc.constantFrom('127.0.0.1', '10.1.2.3', '::1', 'fd00::2', '::ffff:10.1.2.3'),
  raddr: fc.constantFrom(
    '127.0.0.1',
    '10.200.0.1',
    '192.168.1.1',
    'fd00::1',
    '2001:db8::1',
    '::ffff:10.9.8.7',
  ),
  tx_b: fc.oneof(
    fc.constantFrom(0, 1, 1023, 1024, 1025, 10240, 10241),
    fc.integer({ min: 0, max: 2 ** 40 }),
  ),
  rx_b: fc.oneof(fc.constantFrom(0, 1, 1024, 1536, 1537), fc.integer({ min: 0, max: 2 ** 40 })),
  span_us: fc.oneof(
    fc.constantFrom(0, 999, 1000, 1001, 100_000, 100_001),
    fc.integer({ min: 0, max: 2 ** 40 }),
  ),
  retrans: fc.constantFrom(0, 1, 7),
  rtt_us: fc.constantFrom(0, 33, 999, 1000, 1001, 250_000),
  cgroup_id: fc.constantFrom(1, 44, 9001),
  cgroup: fc.constantFrom('/', '/system.slice/x.service', `/docker/${'ab'.repeat(32)}`),
  container: fc.constantFrom('', 'ab'.repeat(32)),
  netns: fc.constantFrom(4026531840, 4026532176),
  sid: fc.constantFrom(1, 8193, 2 ** 52),
};

const C_MAX: Readonly<Record<string, number>> = {
  u8: 0xff,
  u16: 0xffff,
  u32: 0xffff_ffff,
  u64: 2 ** 53 - 1,
};

/** Values of a field by its registry entry alone: a field added there is generated here too. */
function valuesOf(spec: FieldSpec): fc.Arbitrary<unknown> {
  if (spec.values) return fc.constantFrom(...spec.values, '');
  const max = isStored(spec) ? (C_MAX[spec.c] ?? 2 ** 53 - 1) : 2 ** 53 - 1;
  switch (spec.type) {
    case 'family':
      return fc.constantFrom(4, 6);
    case 'bool':
      return fc.boolean();
    case 'port':
      return fc.oneof(
        fc.constantFrom(0, 22, 80, 443, 8080, 65535),
        fc.integer({ min: 0, max: 65535 }),
      );
    case 'addr':
      return fc.constantFrom('127.0.0.1', '10.0.0.1', '::1', 'fd00::1', '::ffff:10.0.0.1');
    case 'string':
      return fc.constantFrom('', 'a', 'nginx');
    default:
      return fc.oneof(fc.constantFrom(0, 1, 1000), fc.integer({ min: 0, max }));
  }
}

/**
 * A session: every field of the registry a session is made from (stored and
 * resolved, the close time aside), with values that often hit the filters'
 * literals.
 */
export const sessionArb = fc.record(
  Object.fromEntries(
    ENTRIES.filter(({ spec }) => (isStored(spec) || isResolved(spec)) && spec.type !== 'time').map(
      ({ name, spec }) => [name, INTERESTING[name] ?? valuesOf(spec)],
    ),
  ),
) as fc.Arbitrary<Record<string, string | number | boolean>>;

/** A comparison of any filter field, from its schema entry alone: a field added to the registry is tested here too. */
function atomOf(f: FieldDef): fc.Arbitrary<string> {
  const n = f.name;
  const num = (max: number) =>
    fc
      .tuple(
        fc.constantFrom('==', '!=', '<', '>='),
        fc.integer({ min: 0, max: Math.min(max, 1 << 22) }),
      )
      .map(([o, v]) => `${n} ${o} ${v}`);
  switch (f.type) {
    case 'enum':
      return fc
        .constantFrom(...f.values!)
        .chain((v) => fc.constantFrom(`${n} == ${v}`, `${n} != ${v}`, `${n} in (${v})`));
    case 'bool':
      return fc.constantFrom(n, `not ${n}`, `${n} == true`, `${n} != false`);
    case 'family':
      return fc.constantFrom(`${n} == 4`, `${n} != 6`);
    case 'addr':
      return cidrArb.map((c) => `${n} in (${printCidr(c)})`);
    case 'string':
      return fc
        .stringMatching(/^[a-z]{0,6}$/)
        .chain((v) => fc.constantFrom(`${n} == "${v}"`, `${n} ~ "${v}*"`, `${n} != "${v}"`));
    case 'duration':
      return f.bareNumbers ? num(f.max / f.scale) : fc.constantFrom(`${n} > 1ms`, `${n} < 2.5s`);
    case 'size':
      return fc.oneof(num(f.max / f.scale), fc.constantFrom(`${n} > 10KiB`, `${n} <= 1.5MiB`));
    default:
      return num(f.max / f.scale);
  }
}
const registryAtomArb = fc.constantFrom(...tcplifeSchema.fields).chain(atomOf);

/** Well-typed filters as text, to exercise codegen, clang and the verifier. */
const portLit = fc.integer({ min: 0, max: 65535 });
const atomArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('lport', 'rport', 'dport'),
      fc.constantFrom('==', '!=', '<', '>=', '>'),
      portLit,
    )
    .map(([f, o, v]) => `${f} ${o} ${v}`),
  fc
    .tuple(
      fc.constantFrom('lport', 'rport'),
      fc.array(
        fc.oneof(
          portLit.map(String),
          fc.tuple(portLit, portLit).map(([a, b]) => `${Math.min(a, b)}..${Math.max(a, b)}`),
        ),
        { minLength: 1, maxLength: 12 },
      ),
    )
    .map(([f, items]) => `${f} in (${items.join(', ')})`),
  fc
    .tuple(
      fc.constantFrom('tx_kb', 'rx', 'tx_b'),
      fc.constantFrom('>', '<=', '=='),
      fc.oneof(
        fc.integer({ min: 0, max: 1 << 20 }).map(String),
        fc.constantFrom('1.5', '10KiB', '2.5MiB'),
      ),
    )
    .map(([f, o, v]) => `${f} ${o} ${v}`),
  fc
    .tuple(
      fc.constantFrom('span', 'span_ms'),
      fc.constantFrom('>', '<'),
      fc.constantFrom('1ms', '2.5s', '100us', '3m'),
    )
    .map(([f, o, v]) => `${f} ${o} ${v}`),
  fc
    .tuple(fc.constantFrom('pid', 'uid'), fc.integer({ min: 0, max: 1 << 22 }))
    .map(([f, v]) => `${f} == ${v}`),
  fc.constantFrom('family == 4', 'family == 6'),
  cidrArb.map((c) => `raddr in (${printCidr(c)})`),
  fc
    .array(cidrArb, { minLength: 1, maxLength: 5 })
    .map((cs) => `laddr in (${cs.map(printCidr).join(', ')})`),
  fc.stringMatching(/^[a-z_]{0,15}$/).map((s) => `comm == "${s}"`),
  fc.stringMatching(/^[a-z_]{0,6}\*([a-z]{0,3})$/).map((s) => `comm ~ "${s}"`),
  fc.constantFrom('comm =~ /^no/', 'comm =~ /d$/i'),
  fc
    .subarray([...FIELDS.outcome.values], { minLength: 1 })
    .map((vs) => `outcome in (${vs.join(', ')})`),
  fc.constantFrom(
    'role == client',
    'role != server',
    'retrans > 0',
    'rtt_ms > 1',
    'rtt_us <= 1000',
    'start_seen',
    'not start_seen',
    'start_seen == false',
    'owner != true',
    'event == interim',
    'event in (close, exit)',
    'sid > 8193',
  ),
  fc.constantFrom(
    'netns == 4026531840',
    'cgroup_id != 1',
    'cgroup ~ "/docker/*"',
    'container != ""',
  ),
  portLit.map((p) => `port ${['==', '!=', '>'][p % 3]} ${p}`),
  cidrArb.map((c) => `addr in (${printCidr(c)})`),
  registryAtomArb,
);

function printCidr(c: {
  addr: { family: 4 | 6; bytes: readonly number[] };
  prefix: number;
}): string {
  const a =
    c.addr.family === 4
      ? c.addr.bytes.join('.')
      : Array.from({ length: 8 }, (_, i) =>
          ((c.addr.bytes[2 * i]! << 8) | c.addr.bytes[2 * i + 1]!).toString(16),
        ).join(':');
  return `${a}/${c.prefix}`;
}
export const validFilterArb: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small' },
    atomArb,
    atomArb,
    tie('f').map((x) => `not (${x})`),
    fc.tuple(tie('f'), tie('f')).map(([a, b]) => `(${a}) and (${b})`),
    fc.tuple(tie('f'), tie('f')).map(([a, b]) => `(${a}) or (${b})`),
  ),
})).f;
