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
] as const;

export type SettingName = (typeof SETTINGS)[number]['name'];
export type Settings = Readonly<Record<SettingName, number>>;

/** The C declaration of struct settings and its one instance, for the template. */
export function settingsC(): string {
  return [
    'struct settings {',
    ...SETTINGS.map((s) => `  __u64 ${s.name}; /* ${s.c} */`),
    '};',
    `const volatile struct settings settings SEC("${SETTINGS_SECTION}");`,
  ].join('\n');
}

/** The section's bytes: each setting a little-endian u64, in declaration order. */
export function encodeSettings(s: Settings): Buffer {
  const buf = Buffer.alloc(SETTINGS.length * 8);
  SETTINGS.forEach((d, i) => {
    const v = s[d.name];
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`bad value for setting ${d.name}: ${v}`);
    buf.writeBigUInt64LE(BigInt(v), i * 8);
  });
  return buf;
}

export function decodeSettings(buf: Buffer): Settings {
  return Object.fromEntries(
    SETTINGS.map((d, i) => [d.name, Number(buf.readBigUInt64LE(i * 8))]),
  ) as unknown as Settings;
}
