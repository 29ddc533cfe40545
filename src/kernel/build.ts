/**
 * Compile the generated C with clang at run time, caching objects by a hash
 * of everything that affects them. The cache lives in a directory that only
 * root can write (checked before every use, never trusted blindly); objects
 * are written to a temporary name and renamed, so concurrent runs are safe.
 *
 * clang reads the C on its standard input and writes the object to its
 * standard output: no file of the build ever exists in a directory, so no
 * other user (one who owns TMPDIR, say) can swap the source or the object
 * between our write and clang's read.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { INCLUDE_DIR } from '../codegen/program.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { APT_HINT, ClangMissingError, CompileError, LibbpfMissingError } from './errors.js';

export const DEFAULT_CACHE_DIR = '/var/cache/tcplife';

/*
 * -O2: the verifier needs optimised code (bounded loops unrolled, dead
 *   branches gone). -g: emits BTF and .BTF.ext, which carry the CO-RE
 *   relocations libbpf applies against the running kernel.
 * -target bpf with __TARGET_ARCH_x86: bpf_tracing.h wants an architecture.
 * -Wno-unused-function: the address helpers are unused when the filter has
 *   no address term.
 */
const CLANG_FLAGS = [
  '-O2',
  '-g',
  '-target',
  'bpf',
  '-D__TARGET_ARCH_x86',
  '-Wall',
  '-Wno-unused-function',
];

export interface BuildResult {
  readonly object: Buffer;
  readonly cached: boolean;
  /** The object shipped in the package (built at pack time) served. */
  readonly prebuilt?: boolean;
  readonly hash: string;
  /** Why the cache was not used, if it was not. */
  readonly cacheNote?: string;
}

let clangIdentity: string | null | undefined;

/**
 * What identifies the compiler: its resolved path, size and modification
 * time (running `clang --version` on every start would cost tens of
 * milliseconds on the cached path, which runs no clang). null: no clang.
 */
function clangId(): string | null {
  if (clangIdentity !== undefined) return clangIdentity;
  clangIdentity = null;
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) {
    const p = join(dir || '.', 'clang');
    try {
      const real = realpathSync(p);
      const st = statSync(real);
      if (st.isFile()) {
        clangIdentity = `${real}:${st.size}:${st.mtimeMs}`;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  return clangIdentity;
}

const CLANG_MISSING = 'clang is not installed: tcplife compiles its BPF program at run time';

/** How long clang may take (TCPLIFE_CLANG_TIMEOUT, seconds; default 60). */
function clangTimeoutMs(): number {
  const s = Number(process.env.TCPLIFE_CLANG_TIMEOUT ?? '60');
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

interface ClangRun {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly code: number | null;
  readonly error?: NodeJS.ErrnoException;
  readonly timedOut: boolean;
}

/** Runs clang with `input` on its stdin; its output at most MAX_CLANG_OUTPUT bytes. */
function runClang(args: string[], input: string, timeout: number): Promise<ClangRun> {
  return new Promise((resolve) => {
    // clang makes no temporary file for stdin to stdout; TMPDIR is not passed
    // all the same, so that nothing of the caller's choosing is in its way.
    const { TMPDIR: _unused, ...env } = process.env;
    // clang dies with tcplife (a SIGTERM during the build left it running):
    // setpriv sets its parent-death signal, then runs it.
    const [cmd, argv] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', 'clang', ...args]]
      : ['clang', args];
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let timedOut = false;
    let error: NodeJS.ErrnoException | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > MAX_CLANG_OUTPUT) child.kill('SIGKILL');
      else out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_CLANG_OUTPUT) stderr += d.toString('utf8');
    });
    child.stdin.on('error', () => {
      // clang exited before reading it all: its status and stderr say why
    });
    child.once('error', (e) => {
      error = e;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out),
        stderr,
        code,
        timedOut,
        ...(error ? { error } : {}),
      });
    });
    child.stdin.end(input);
  });
}

const MAX_CLANG_OUTPUT = 16 << 20;
/** util-linux's setpriv (Debian's essential set): gives clang a parent-death signal. */
const SETPRIV = '/usr/bin/setpriv';

async function clang(args: string[], input: string): Promise<Buffer> {
  const timeout = clangTimeoutMs();
  const r = await runClang(args, input, timeout);
  if (r.error?.code === 'ENOENT' || (r.code === 127 && /failed to execute clang/.test(r.stderr)))
    throw new ClangMissingError(CLANG_MISSING, APT_HINT);
  if (r.timedOut)
    throw new CompileError(
      `clang did not finish within ${timeout / 1000} s`,
      'check the clang installation (a wrapper or a hung compiler?); TCPLIFE_CLANG_TIMEOUT sets the limit in seconds',
      r.stderr,
    );
  if (r.code === 0 && !r.error && r.stdout.length > 0) return r.stdout;
  if (r.stderr.includes('bpf/bpf_helpers.h')) {
    throw new LibbpfMissingError(
      'the libbpf headers (bpf/bpf_helpers.h) are missing',
      APT_HINT,
      r.stderr,
    );
  }
  throw new CompileError(
    'clang failed to compile the generated BPF program (a bug in tcplife)',
    'run with --verbose for the compiler output',
    r.stderr || (r.error ? String(r.error) : `clang exited with status ${r.code}`),
  );
}
/** A directory is safe for cached objects when only root (or we) can write it. */
export function cacheDirProblem(dir: string): string | undefined {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch {
    return `${dir} does not exist`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!st.isDirectory()) return `${dir} is not a directory`;
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `${dir} is owned by uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0)
    return `${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

function ensureCacheDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return `cannot create ${dir}: ${(e as Error).message}`;
  }
  const problem = cacheDirProblem(dir);
  if (problem) return problem;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return `${dir} is not writable by this user`;
  }
  return undefined;
}

export interface BuildOptions {
  /** null: no cache. */
  readonly cacheDir?: string | null;
}

/**
 * A cached object: a magic, the SHA-256 of the object, the identity of the
 * clang that built it, then the object. Read back only whole and unchanged.
 */
const MAGIC = Buffer.from('TCPLIFE\x01', 'latin1');

function wrap(object: Buffer, compiler: string): Buffer {
  const id = Buffer.from(compiler, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16LE(id.length);
  return Buffer.concat([MAGIC, sha256(object), len, id, object]);
}

function unwrap(file: Buffer): { object: Buffer; compiler: string } | undefined {
  if (file.length < MAGIC.length + 34 || !file.subarray(0, MAGIC.length).equals(MAGIC))
    return undefined;
  const sum = file.subarray(MAGIC.length, MAGIC.length + 32);
  const idLen = file.readUInt16LE(MAGIC.length + 32);
  const start = MAGIC.length + 34 + idLen;
  if (file.length < start) return undefined;
  const object = file.subarray(start);
  if (!sha256(object).equals(sum)) return undefined;
  return { object, compiler: file.toString('utf8', MAGIC.length + 34, start) };
}

function sha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

/**
 * At most this many objects are kept (about 250 KiB each); past it, the least
 * recently used go. Settings in read-only data (ring size, …) share an object,
 * so the count grows only with distinct kernel filters.
 */
export const MAX_CACHED_OBJECTS = 128;

/** A cache hit is a use: its modification time orders eviction. */
function markUsed(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // read-only: eviction is only less precise
  }
}

function evictOld(dir: string): void {
  try {
    const objects = readdirSync(dir)
      .filter((n) => /^[0-9a-f]{32}\.o$/.test(n))
      .map((n) => ({ path: join(dir, n), mtime: statSync(join(dir, n)).mtimeMs }));
    if (objects.length <= MAX_CACHED_OBJECTS) return;
    objects.sort((a, b) => a.mtime - b.mtime);
    for (const o of objects.slice(0, objects.length - MAX_CACHED_OBJECTS))
      rmSync(o.path, { force: true });
  } catch {
    // another run evicts concurrently: nothing lost but a cached object
  }
}

export const PREBUILT_DIR = join(PACKAGE_ROOT, 'prebuilt');

/** The shipped object, if it was built from this very source (its SHA-256 recorded beside it). */
export function prebuiltObject(source: string): Buffer | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(PREBUILT_DIR, 'tcplife.bpf.json'), 'utf8'));
    if (meta.source_sha256 !== createHash('sha256').update(source).digest('hex')) return undefined;
    const object = readFileSync(join(PREBUILT_DIR, 'tcplife.bpf.o'));
    return sha256(object).toString('hex') === meta.object_sha256 ? object : undefined;
  } catch {
    return undefined;
  }
}

export async function buildObject(source: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const compiler = clangId();
  const header = readFileSync(join(INCLUDE_DIR, 'tcplife-vmlinux.h'), 'utf8');
  // The key is what the object is made from; the compiler is recorded inside,
  // so that a cached object serves even where clang is not installed.
  const hash = createHash('sha256')
    .update(JSON.stringify([source, header, CLANG_FLAGS]))
    .digest('hex')
    .slice(0, 32);

  const cacheDir = opts.cacheDir === undefined ? DEFAULT_CACHE_DIR : opts.cacheDir;
  let cacheNote = cacheDir === null ? 'cache disabled' : ensureCacheDir(cacheDir);
  const cachePath = cacheDir && !cacheNote ? join(cacheDir, `${hash}.o`) : undefined;
  if (cachePath) {
    let file: Buffer | undefined;
    try {
      const st = lstatSync(cachePath);
      const uid = process.geteuid?.() ?? 0;
      if (st.isFile() && (st.uid === uid || st.uid === 0) && (st.mode & 0o022) === 0)
        file = readFileSync(cachePath);
    } catch {
      // not cached yet
    }
    if (file) {
      const cached = unwrap(file);
      if (!cached) cacheNote = `the cached object ${cachePath} was damaged: rebuilt`;
      else if (compiler === null || cached.compiler === compiler) {
        markUsed(cachePath);
        return { object: cached.object, cached: true, hash };
      } else cacheNote = 'clang changed since the object was cached: rebuilt';
    }
  }
  // The package ships the object of the program with no kernel filter, built
  // when it was packed: it serves whoever asks for exactly that source.
  const shipped = prebuiltObject(source);
  if (shipped) return { object: shipped, cached: true, prebuilt: true, hash };
  if (compiler === null) throw new ClangMissingError(CLANG_MISSING, APT_HINT);

  // The source goes in on stdin and the object comes back on stdout (see the
  // top of this file); -x c names the language a pipe does not.
  const object = await clang(
    [...CLANG_FLAGS, '-I', INCLUDE_DIR, '-x', 'c', '-c', '-', '-o', '-'],
    source,
  );
  if (cachePath && cacheDir) {
    const tmp = join(cacheDir, `.${hash}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, wrap(object, compiler), { mode: 0o600, flag: 'wx' });
      renameSync(tmp, cachePath);
      evictOld(cacheDir);
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing was written
      }
      return {
        object,
        cached: false,
        hash,
        cacheNote: `cannot write ${cacheDir}: ${(e as Error).message}`,
      };
    }
  }
  return cacheNote ? { object, cached: false, hash, cacheNote } : { object, cached: false, hash };
}
