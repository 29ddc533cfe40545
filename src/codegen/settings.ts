/**
 * Settings that are not code: values the BPF program reads from read-only
 * data that the loader fills before load (`.rodata.cfg`, one struct at
 * offset 0). Changing one neither changes the C text nor the cached object,
 * and the verifier still sees constants (the section is frozen).
 */
export const SETTINGS_SECTION = '.rodata.cfg';

export const SETTINGS = [
  {
    name: 'wakeup_bytes',
    c: 'wake the reader at once when this much data waits in the ring',
  },
  {
    name: 'filter',
    c: 'the settings filter: bit 0 pid, 1 family, 2 local ports, 3 remote ports',
  },
  { name: 'filter_pid', c: 'with bit 0: only this process' },
  { name: 'filter_family', c: 'with bit 1: only this family (4 or 6)' },
  { name: 'lport_set', c: 'with bit 2: local ports, a 65,536-bit bitmap', words: 1024 },
  { name: 'rport_set', c: 'with bit 3: remote ports, a 65,536-bit bitmap', words: 1024 },
  {
    name: 'aggregate',
    c: '1: summarise sessions in the groups maps instead of a record each to the ring',
  },
  {
    name: 'group_mask',
    c: 'with aggregate: the record members a group is keyed on (bit i: member i)',
  },
  {
    name: 'hist_of',
    c: "with aggregate: the record member a group's histogram counts (src/model/groups.ts HIST_OF)",
  },
  {
    name: 'metrics',
    c: '1: count closes (and interim records) in the metrics map too; 2: there only, no record',
  },
  {
    name: 'metric_mask',
    c: 'with metrics: the record members a label set is keyed on (bit i: member i)',
  },
  {
    name: 'metric_bounds',
    c: 'with metrics: the duration buckets, the most µs each holds, ascending; unused ones ~0',
    words: 32,
  },
  {
    name: 'socket_storage',
    c: "where tp_btf programs keep a session's start: 0 the hash, 1 socket storage, 2 the hash, then socket storage beyond its room",
  },
] as const;

type Setting = (typeof SETTINGS)[number];
/** Scalars are numbers; arrays of words (bitmaps) are bigints, every word given. */
export type Settings = {
  readonly [S in Setting as S['name']]: S extends { words: number } ? readonly bigint[] : number;
};

function words(d: Setting): number {
  return 'words' in d ? d.words : 1;
}

/** The C declaration of struct settings and its one instance, for the template. */
export function settingsC(): string {
  return [
    'struct settings {',
    ...SETTINGS.map((d) => `  __u64 ${d.name}${'words' in d ? `[${d.words}]` : ''}; /* ${d.c} */`),
    '};',
    `const volatile struct settings settings SEC("${SETTINGS_SECTION}");`,
  ].join('\n');
}

/** The section's size in bytes. */
export const SETTINGS_BYTES = SETTINGS.reduce((n, d) => n + words(d) * 8, 0);
const SIZE = SETTINGS_BYTES;

/** The section's bytes: each setting little-endian u64 words, in declaration order. */
export function encodeSettings(s: Settings): Buffer {
  const buf = Buffer.alloc(SIZE);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let off = 0;
  for (const d of SETTINGS) {
    const v = s[d.name];
    const vs: readonly (number | bigint)[] = Array.isArray(v) ? v : [v as number];
    if (vs.length !== words(d))
      throw new Error(`setting ${d.name}: ${vs.length} words, not ${words(d)}`);
    for (const w of vs) {
      if (
        typeof w === 'number'
          ? !Number.isSafeInteger(w) || w < 0
          : w < 0n || w > 0xffff_ffff_ffff_ffffn
      )
        throw new Error(`bad value for setting ${d.name}: ${w}`);
      // The buffer starts zeroed: a bitmap's zero words (most of them) need no write.
      if (w) view.setBigUint64(off, BigInt(w), true);
      off += 8;
    }
  }
  return buf;
}

export function decodeSettings(buf: Buffer): Settings {
  let off = 0;
  const out: Record<string, unknown> = {};
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  for (const d of SETTINGS) {
    const ws: bigint[] = [];
    for (let i = 0; i < words(d); i++, off += 8) ws.push(view.getBigUint64(off, true));
    out[d.name] = 'words' in d ? ws : Number(ws[0]);
  }
  return out as Settings;
}
