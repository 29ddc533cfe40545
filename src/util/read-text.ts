/** Reading the files a user names, safely: never blocking, never unbounded. */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { realUserCannotRead } from './trust.js';

/** The largest file read (a 300,000-term rule is about 3 MiB). */
export const MAX_TEXT_FILE_BYTES = 16 << 20;

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  EIO: 'input/output error',
  ENOTDIR: 'a part of the path is not a directory',
};

export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return ERRNO_TEXT[code] ?? (code || String(e));
}

/**
 * A text file's contents (a rule file, a filter given with -F), or why they
 * cannot be had. Only a regular file is read
 * (a FIFO would block, /dev/zero never end), opened without blocking, and
 * never more than MAX_TEXT_FILE_BYTES (files in /proc claim size 0). Only
 * what the invoking user may read (util/trust.ts), and only what `trust`
 * (given the open file's status) does not refuse.
 */
export function readTextFile(
  path: string,
  trust?: (st: Stats) => string | undefined,
): string | { error: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { error: errnoText(e) };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { error: 'it is a directory' };
    if (!st.isFile()) return { error: 'not a regular file (a FIFO, device or socket)' };
    const denied = realUserCannotRead(path, fd) ?? trust?.(st);
    if (denied) return { error: denied };
    if (st.size > MAX_TEXT_FILE_BYTES)
      return { error: `larger than ${MAX_TEXT_FILE_BYTES >> 20} MiB` };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(1 << 16);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_TEXT_FILE_BYTES)
        return { error: `larger than ${MAX_TEXT_FILE_BYTES >> 20} MiB` };
      chunks.push(buf.subarray(0, n));
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      return { error: 'not valid UTF-8 text' };
    }
  } catch (e) {
    return { error: errnoText(e) };
  } finally {
    closeSync(fd);
  }
}
