/**
 * `tcplife fields`: every field of the registry — what the filter can test,
 * where it is decided, and what each output carries.
 */
import { writeSync } from 'node:fs';
import {
  ENTRIES,
  isDerived,
  isEither,
  isResolved,
  isStored,
  KERNEL_KEYS,
  SESSION_KEYS,
  tcplifeSchema,
} from '../model/fields.js';
import type { Io } from './io.js';

/** One row per field: name, aliases, type, where the filter decides it, in JSON, meaning. */
export function fieldRows(): string[][] {
  return ENTRIES.map(({ name, spec }) => {
    const def = tcplifeSchema.byName.get(name);
    const keys = def ? (def.either ?? [def.key]) : [];
    const where = !def
      ? 'output only'
      : keys.every((k) => KERNEL_KEYS.has(k))
        ? 'kernel'
        : 'userspace';
    const kind = isEither(spec)
      ? `either ${spec.either.join('/')}`
      : isDerived(spec)
        ? `from ${spec.from}`
        : isResolved(spec)
          ? `resolved from ${spec.from}`
          : isStored(spec)
            ? 'stored'
            : '';
    const type = spec.values ? spec.values.join('|') : spec.type;
    return [
      name,
      (spec.aliases ?? []).join(','),
      type,
      where,
      (SESSION_KEYS as readonly string[]).includes(name) ? 'yes' : 'no',
      `${spec.description}${kind === 'stored' ? '' : ` (${kind})`}`,
    ];
  });
}

const HEAD = ['FIELD', 'ALIASES', 'TYPE', 'DECIDED', 'IN JSON', 'MEANING'];

/** The fields as a Markdown table: docs/fields.md holds it, written by scripts/docs.mjs. */
export function fieldsMarkdown(): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const code = (c: string) =>
    c
      ? c
          .split(',')
          .map((x) => `\`${x}\``)
          .join(', ')
      : '';
  const rows = fieldRows().map(([name, aliases, type, where, json, meaning]) =>
    [`\`${name}\``, code(aliases!), esc(type!), where, json, esc(meaning!)].join(' | '),
  );
  return [
    `| ${HEAD.map((h) => h.toLowerCase()).join(' | ')} |`,
    `|${HEAD.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

export function runFields(io: Io): number {
  const rows = fieldRows();
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  writeSync(io.stdoutFd, `${[line(HEAD), ...rows.map(line)].join('\n')}\n`);
  return 0;
}
