/**
 * The import graph of src/: no folder imports a folder that imports it back
 * (nor does any file, through others), the field registry sits at the
 * bottom, and codegen describes programs without touching the kernel.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/util/paths.js';

const SRC = join(PACKAGE_ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** file (relative to src) → the src files it imports (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports, and dynamic import() (loaded when used).
    const deps = [
      ...text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g),
    ].map((m) => relative(SRC, resolve(dirname(file), (m[1] ?? m[2])!.replace(/\.js$/, '.ts'))));
    graph.set(relative(SRC, file), deps);
  }
  return graph;
}

const folder = (f: string) => (f.includes('/') ? f.slice(0, f.indexOf('/')) : '.');

/** A cycle in a graph, as a path, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

/**
 * Which folder may import which: the map of docs/ARCHITECTURE.md, checked.
 * A new edge is a decision: add it here and to the map, or move the code.
 */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  model: [],
  util: [],
  dsl: ['model'],
  rules: ['dsl', 'model', 'util'],
  codegen: ['plan', 'dsl', 'model', 'util'],
  plan: ['dsl', 'model', 'rules'],
  kernel: ['codegen', 'dsl', 'model', 'util'],
  pipeline: ['codegen', 'dsl', 'kernel', 'model', 'plan', 'rules', 'util'],
  cli: ['codegen', 'dsl', 'kernel', 'model', 'pipeline', 'plan', 'rules', 'util'],
  // src/index.ts, the library's entry, re-exports from every layer.
  '.': ['codegen', 'dsl', 'kernel', 'model', 'pipeline', 'plan', 'rules', 'util'],
};

describe('architecture', () => {
  const files = importGraph();

  it('every import between folders is one the map allows (dynamic import() included)', () => {
    const wrong: string[] = [];
    for (const [f, deps] of files) {
      for (const d of deps) {
        const [from, to] = [folder(f), folder(d)];
        if (from === to) continue;
        if (!(from in ALLOWED)) wrong.push(`${f}: folder ${from} is not in the map`);
        else if (!ALLOWED[from]!.includes(to)) wrong.push(`${f} imports ${d}`);
      }
    }
    expect(wrong).toEqual([]);
    // The dynamic imports are read: cli/trace.ts loads the metrics when used.
    expect(files.get('cli/trace.ts')).toContain('pipeline/metrics.ts');
  });

  it('the graph is read (a check that reads nothing passes nothing)', () => {
    expect(files.size).toBeGreaterThan(40);
    expect(files.get('cli/trace.ts')).toContain('plan/plan.ts');
  });

  it('no folder-level import cycle', () => {
    const folders = new Map<string, Set<string>>();
    for (const [f, deps] of files) {
      const from = folder(f);
      if (!folders.has(from)) folders.set(from, new Set());
      for (const d of deps) if (folder(d) !== from) folders.get(from)!.add(folder(d));
    }
    expect(findCycle(folders)).toBeUndefined();
  });

  it('no file-level import cycle', () => {
    const g = new Map([...files].map(([f, deps]) => [f, new Set(deps)]));
    expect(findCycle(g)).toBeUndefined();
  });

  it('the field registry imports nothing outside model/; codegen nothing from kernel/', () => {
    for (const [f, deps] of files) {
      if (folder(f) === 'model')
        expect(
          deps.filter((d) => folder(d) !== 'model'),
          f,
        ).toEqual([]);
      if (folder(f) === 'codegen')
        expect(
          deps.filter((d) => folder(d) === 'kernel'),
          f,
        ).toEqual([]);
    }
  });
});
