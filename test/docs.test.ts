/**
 * The docs cannot drift from the tool: every command example in README.md
 * and docs/*.md (an indented line that begins with `tcplife`, `$ tcplife`
 * or `# tcplife`) is run, each block of filters marked `<!-- filters -->`
 * is compiled, the rule files of docs/rules.md pass `tcplife check`, the
 * library's examples (docs/library.md) run as a program importing the
 * package, and the field table of docs/fields.md is the registry's.
 *
 * A trace runs for half a second (`--duration 0.5`, as if Ctrl-C came
 * then); the rest run as written, in a directory holding the files the
 * examples name (rules/, day.jsonl, rec.jsonl, bad.rules). A command shown
 * with an error under it must exit 2 and print that error; every other
 * must exit 0.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fieldsMarkdown } from '../src/cli/fields.js';
import { compileFilter } from '../src/dsl/index.js';
import { createFormatter } from '../src/pipeline/formatters.js';
import { PACKAGE_ROOT } from '../src/util/paths.js';
import { FIXTURES } from './fixtures/sessions.js';
import { BIN } from './helpers/cli.js';
import { describeKernel } from './helpers/kernel.js';

const PAGES = [
  'README.md',
  ...readdirSync(join(PACKAGE_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Example {
  readonly page: string;
  readonly line: number;
  readonly command: string;
  /** The output shown under it, if any. */
  readonly shown: string[];
}

const COMMAND = /^ {4}(?:\$ |# )?(?:bin\/|scripts\/setup\.sh && bin\/)?(tcplife(?: .*)?)$/;

/** An example's trailing comment (two spaces, then #) is not part of it. */
function withoutComment(cmd: string): string {
  return cmd.replace(/\s{2,}#.*$/, '').trim();
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const page of PAGES) {
    const lines = readFileSync(join(PACKAGE_ROOT, page), 'utf8').split('\n');
    lines.forEach((l, i) => {
      const m = COMMAND.exec(l);
      if (!m) return;
      const shown: string[] = [];
      for (let j = i + 1; j < lines.length && lines[j]!.startsWith('    '); j++) {
        if (COMMAND.test(lines[j]!)) break;
        shown.push(lines[j]!.slice(4));
      }
      out.push({ page, line: i + 1, command: withoutComment(m[1]!), shown });
    });
  }
  return out;
}

const SUBCOMMANDS = new Set(['replay', 'check', 'rules', 'fields', 'snapshot']);
const ENDS_BY_ITSELF = /(^| )(--explain|--ebpf|-V|--version|--help|--duration)( |$)/;

/** Each tcplife of a pipeline that traces gets --duration 0.5, as if Ctrl-C came then. */
function bounded(command: string): string {
  return command.replace(/(^|\|\s*)tcplife( [^|]*)?/g, (all, pre: string, rest = '') => {
    const first = rest.trim().split(/\s+/)[0] ?? '';
    if (SUBCOMMANDS.has(first) || ENDS_BY_ITSELF.test(rest)) return all;
    return `${pre}tcplife --duration 0.5 -q${rest}`;
  });
}

/** The files the examples name, in a directory of their own. */
function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tl-docs-'));
  symlinkSync(join(PACKAGE_ROOT, 'rules'), join(dir, 'rules'));
  const f = createFormatter({ format: 'jsonl' });
  const recording = `${FIXTURES.map((r) => f.row(r)).join('\n')}\n`;
  for (const name of ['day.jsonl', 'rec.jsonl']) writeFileSync(join(dir, name), recording);
  writeFileSync(join(dir, 'day.jsonl.gz'), gzipSync(recording));
  // The rule file docs/rules.md shows `tcplife check` finding fault with.
  writeFileSync(join(dir, 'bad.rules'), 'list a = (1)\n\nrule a: rport == 2\n');
  return dir;
}

describe('the docs', () => {
  it('find their examples (a page that lost them would pass vacuously)', () => {
    const found = examples();
    expect(found.length).toBeGreaterThan(50);
    for (const page of ['README.md', 'docs/fields.md', 'docs/metrics-and-replay.md'])
      expect(
        found.some((e) => e.page === page),
        page,
      ).toBe(true);
    expect(bounded("tcplife -j | tee day.jsonl | tcplife replay - 'rport == 443'")).toBe(
      "tcplife --duration 0.5 -q -j | tee day.jsonl | tcplife replay - 'rport == 443'",
    );
  });

  it('every block of filters compiles', () => {
    let n = 0;
    for (const page of PAGES) {
      const blocks = readFileSync(join(PACKAGE_ROOT, page), 'utf8').split('<!-- filters -->');
      for (const block of blocks.slice(1)) {
        const lines = block.replace(/^\n+/, '').split('\n');
        for (const l of lines) {
          if (!l.startsWith('    ')) break;
          const filter = withoutComment(l);
          expect(compileFilter(filter).diagnostics, `${page}: ${filter}`).toEqual([]);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it("docs/rules.md's rule files pass tcplife check, samples and all", () => {
    const page = readFileSync(join(PACKAGE_ROOT, 'docs/rules.md'), 'utf8').split('\n');
    const dir = mkdtempSync(join(tmpdir(), 'tl-docs-rules-'));
    let file: string | undefined;
    const files = new Map<string, string[]>();
    for (const l of page) {
      const head = /^ {4}# rules\/(\w+\.rules)$/.exec(l);
      if (head) {
        file = head[1]!;
        files.set(file, []);
      } else if (file && (l.startsWith('    ') || l === '')) files.get(file)!.push(l.slice(4));
      else file = undefined;
    }
    expect([...files.keys()]).toEqual(['web.rules', 'common.rules']);
    for (const [name, lines] of files) writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
    const r = spawnSync(BIN, ['check', join(dir, 'web.rules')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("docs/fields.md's table is the registry's (the build writes it: scripts/docs.mjs)", () => {
    const page = readFileSync(join(PACKAGE_ROOT, 'docs/fields.md'), 'utf8');
    expect(page).toContain(`\n${fieldsMarkdown()}\n<!-- end of fields -->`);
  });
});

/** The code examples of the library's page: indented blocks that import from 'tcplife'. */
function libraryExamples(): string[] {
  const lines = readFileSync(join(PACKAGE_ROOT, 'docs/library.md'), 'utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^ {4}import .* from 'tcplife';$/.test(lines[i]!)) continue;
    const block: string[] = [];
    for (; i < lines.length && (lines[i]!.startsWith('    ') || lines[i] === ''); i++)
      block.push(lines[i]!.slice(4));
    out.push(block.join('\n'));
  }
  return out;
}

describeKernel('every example in README.md and docs/ runs', () => {
  it('as written (a trace for half a second)', () => {
    const dir = workdir();
    const env = { ...process.env, PATH: `${dirname(BIN)}:${process.env.PATH}` };
    const failures: string[] = [];
    const list = examples();
    for (const e of list) {
      const cmd = bounded(e.command);
      const r = spawnSync('sh', ['-c', cmd], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      const error = e.shown.find((l) => / error: /.test(l));
      const want = error ? 2 : 0;
      const where = `${e.page}:${e.line}: ${e.command}`;
      if (r.status !== want) {
        failures.push(`${where}: exit ${r.status} (want ${want}): ${r.stderr.slice(0, 300)}`);
        continue;
      }
      if (error) {
        // The lines shown, up to an ellipsis, are what it prints.
        const until = e.shown.indexOf('...');
        for (const l of e.shown.slice(0, until < 0 ? undefined : until))
          if (!r.stderr.includes(l.trim())) failures.push(`${where}: does not print: ${l}`);
      }
    }
    expect(failures).toEqual([]);
    // The library's examples, as a program importing the package: they
    // attach and run until stopped (here after two seconds), saying nothing
    // on stderr.
    const lib = libraryExamples();
    expect(lib.length).toBeGreaterThan(0);
    for (const code of lib) {
      const file = join(dir, `example-${lib.indexOf(code)}.mjs`);
      writeFileSync(
        file,
        code.replace(
          "from 'tcplife'",
          `from ${JSON.stringify(join(PACKAGE_ROOT, 'dist/index.js'))}`,
        ),
      );
      const r = spawnSync('node', [file], { cwd: dir, encoding: 'utf8', timeout: 2000 });
      expect(r.stderr, code).toBe('');
      expect(r.signal, code).toBe('SIGTERM');
    }
    // The shell ran tcplife itself (the PATH above), not another one.
    expect(execFileSync('sh', ['-c', 'tcplife -V'], { env, encoding: 'utf8' })).toContain(
      'TypeScript',
    );
  }, 300_000);
});
