/**
 * cgroup ids → paths and container IDs, in userspace. The kernel gives a
 * session's owner's cgroup v2 id, which is the inode of its directory in the
 * cgroup2 mount; the kernel opens that directory for us by id
 * (open_by_handle_at with a kernfs file handle, as systemd and bpftool do),
 * and /proc/self/fd names it. Answers are cached per id, so a cgroup made
 * after tracing began resolves like any other, at the cost of one lookup; a
 * lookup that failed for a passing reason (no descriptor left) is not
 * cached but asked again, and counted.
 */
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { errno, loadNative } from './libbpf.js';

/** include/linux/exportfs.h: a kernfs node's handle is its 64-bit id. */
const FILEID_KERNFS = 0xfe;
const O_PATH = 0o10000000;
const EPERM = 1;
const ESTALE = 116;
const MAX_CACHED = 65_536;

export interface CgroupInfo {
  /** relative to the cgroup2 mount ('/' for its root); '' when unknown */
  readonly cgroup: string;
  /** 64 hex digits, or '' */
  readonly container: string;
}

const NONE: CgroupInfo = { cgroup: '', container: '' };

/** Where cgroup2 is mounted (from /proc/mounts): /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. */
export function findCgroup2Mount(mounts = '/proc/mounts'): string | undefined {
  let text: string;
  try {
    text = readFileSync(mounts, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, dir, type] = line.split(' ');
    // /proc/mounts escapes spaces and the like as \ooo.
    if (type === 'cgroup2' && dir)
      return dir.replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      );
  }
  return undefined;
}

/**
 * The innermost container ID in a cgroup path: Docker (docker-<id>.scope with
 * systemd, /docker/<id> with cgroupfs), containerd/CRI (cri-containerd-<id>.scope),
 * CRI-O (crio-<id>.scope) and Podman (libpod-<id>.scope).
 */
export function containerOf(path: string): string {
  const re =
    /(?:^|\/)(?:(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope|docker\/([0-9a-f]{64}))(?=\/|$)/g;
  let id = '';
  for (const m of path.matchAll(re)) id = m[1] ?? m[2] ?? id;
  return id;
}

export class CgroupResolver {
  private readonly cache = new Map<number, CgroupInfo>();
  /** The last answer cached, and its id (-1: none; no cgroup has it). */
  private lastId = -1;
  private lastInfo: CgroupInfo = NONE;
  private mountFd = -1;
  private readonly handle = Buffer.alloc(16);
  /** Lookups refused for want of CAP_DAC_READ_SEARCH (open_by_handle_at needs it). */
  denied = 0;
  /**
   * Lookups that failed for a passing reason (no file descriptor left:
   * EMFILE, ENFILE; no memory): not cached, so the next session of that
   * cgroup asks again; their sessions have cgroup and container ''.
   */
  failed = 0;
  /** The errno of the first such failure, for the message. */
  failedWith = 0;

  /** mount: the cgroup2 mount, or undefined where there is none (every path is then ''). */
  constructor(readonly mount: string | undefined = findCgroup2Mount()) {
    if (mount === undefined) return;
    try {
      this.mountFd = openSync(mount, 'r');
    } catch {
      this.mountFd = -1;
    }
    this.handle.writeUInt32LE(8, 0);
    this.handle.writeInt32LE(FILEID_KERNFS, 4);
  }

  get available(): boolean {
    return this.mountFd >= 0;
  }

  info(id: number): CgroupInfo {
    // Sessions come in runs from one cgroup: the last answer first, then the Map.
    if (id === this.lastId) return this.lastInfo;
    let info = this.cache.get(id);
    if (info === undefined) {
      const looked = this.lookup(id);
      info = looked.info;
      if (!looked.final) return info;
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(id, info);
    }
    this.lastId = id;
    this.lastInfo = info;
    return info;
  }

  /** Whether the answer for this id is cached: the same from now on. */
  isFinal(id: number): boolean {
    return id === this.lastId || this.cache.has(id);
  }

  cgroup(id: number): string {
    return this.info(id).cgroup;
  }

  container(id: number): string {
    return this.info(id).container;
  }

  /** The answer, and whether it is for good (cached) or may change on asking again. */
  private lookup(id: number): { info: CgroupInfo; final: boolean } {
    if (this.mountFd < 0 || id === 0 || this.mount === undefined)
      return { info: NONE, final: true };
    this.handle.writeBigUInt64LE(BigInt(id), 8);
    const fd = loadNative().c.open_by_handle_at(this.mountFd, this.handle, O_PATH);
    if (fd < 0) {
      const e = errno();
      // Refused (no CAP_DAC_READ_SEARCH) or removed since: so it stays.
      if (e === EPERM) this.denied++;
      if (e === EPERM || e === ESTALE || e === 2 /* ENOENT */) return { info: NONE, final: true };
      this.failed++;
      this.failedWith ||= e;
      return { info: NONE, final: false };
    }
    try {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      if (path !== this.mount && !path.startsWith(`${this.mount}/`))
        return { info: NONE, final: true };
      const cgroup = path === this.mount ? '/' : path.slice(this.mount.length);
      return { info: { cgroup, container: containerOf(cgroup) }, final: true };
    } catch {
      this.failed++;
      return { info: NONE, final: false };
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    if (this.mountFd >= 0) closeSync(this.mountFd);
    this.mountFd = -1;
  }
}
