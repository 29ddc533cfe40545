/**
 * The kernel's per-CPU counters, declared once: this list generates the C
 * `struct stats` of the BPF template (in this order, one __u64 each) and
 * the names under which userspace sums and reports them.
 */
export const COUNTERS = [
  { name: 'closed', c: 'sessions that closed with a known start' },
  { name: 'passed', c: '... and passed the kernel filter' },
  { name: 'ringbuf_drops', c: '... but found the ring buffer full' },
  { name: 'missed_start', c: 'sessions closed whose start was not seen (opened before tracing)' },
  { name: 'map_full', c: 'sessions closed whose start did not fit in the full socket map' },
  { name: 'owner_unknown', c: 'sessions reported with the task at close, not the owner' },
  { name: 'started', c: 'sessions whose start was recorded' },
  { name: 'group_full', c: 'sessions passed but not summarised: the groups map was full' },
  { name: 'nested', c: 'state changes nested into a main run on its CPU, taken by the stand-in' },
  { name: 'stale', c: "starts left by a socket whose close no program saw, found at a new one's" },
  { name: 'no_tcp_sock', c: 'sessions closed whose socket gave no tcp_sock (not expected): lost' },
  { name: 'adopted', c: 'sessions already open when tracing began, found at the start' },
] as const;

export type CounterName = (typeof COUNTERS)[number]['name'];
export type KernelCounters = Record<CounterName, number>;

export const COUNTER_NAMES: readonly CounterName[] = COUNTERS.map((c) => c.name);

/** The C declaration of struct stats, for the BPF template. */
export function statsStructC(): string {
  return [
    'struct stats {',
    ...COUNTERS.map((c) => `  __u64 ${c.name}; /* ${c.c} */`),
    '};',
    `_Static_assert(sizeof(struct stats) == ${COUNTERS.length * 8}, "stats layout differs from src/model/counters.ts");`,
  ].join('\n');
}
