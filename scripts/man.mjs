// Writes man/tcplife.8 from what --help says (src/cli/main.ts's describeCli):
// one source for both, never written twice by hand. Run after the build.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { describeCli } = await import(join(ROOT, 'dist/cli/main.js'));
const { version } = JSON.parse(
  (await import('node:fs')).readFileSync(join(ROOT, 'package.json'), 'utf8'),
);
const cli = describeCli();

/** roff-safe text: backslashes doubled, leading dots and quotes escaped, dashes kept. */
const esc = (s) =>
  s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');

const lines = [
  `.TH TCPLIFE 8 "" "tcplife ${version}" "System Administration"`,
  '.SH NAME',
  `tcplife \\- ${esc(cli.description)}`,
  '.SH SYNOPSIS',
  `.B ${esc(cli.usage)}`,
  ...cli.commands.flatMap((c) => ['.br', `.B ${esc(c.usage)}`]),
  '.SH DESCRIPTION',
  esc(
    'tcplife prints one line per TCP session that closes: its owner, addresses, ports, bytes, duration, how it ended, its retransmits, round-trip time, cgroup, container and network namespace. A filter in a small typed language selects sessions; the part of it the kernel can decide is compiled into the BPF program, so unwanted sessions never leave the kernel.',
  ),
  '.SH OPTIONS',
  ...cli.options.flatMap((o) => ['.TP', `.B ${esc(o.flags)}`, esc(o.description)]),
  '.SH COMMANDS',
  ...cli.commands.flatMap((c) => ['.TP', `.B ${esc(c.usage)}`, esc(c.description)]),
  '.SH EXAMPLES',
  '.nf',
  esc(cli.examples.replace(/^examples:\n/, '')),
  '.fi',
  '.SH ENVIRONMENT',
  ...cli.environment.flatMap((e) => ['.TP', `.B ${esc(e.name)}`, esc(e.description)]),
  '.SH FILES',
  '.TP',
  '.B /var/cache/tcplife',
  esc('Compiled BPF objects, used only when the directory is owned by root (or the user) and not writable by others.'),
  '.SH EXIT STATUS',
  esc('0 on success, also on Ctrl-C, SIGTERM, SIGHUP or a closed pipe; 1 on a runtime failure; 2 on a usage error (a bad filter, option or rule file).'),
  '.SH SEE ALSO',
  esc('The README (the filter language, rule files, outputs): README.md in the package.'),
  '',
];
mkdirSync(join(ROOT, 'man'), { recursive: true });
writeFileSync(join(ROOT, 'man/tcplife.8'), lines.join('\n'));
