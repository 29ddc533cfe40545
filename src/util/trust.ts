/**
 * What a privileged tcplife may read on a user's word.
 *
 * Two questions, asked of the file actually opened (its descriptor), so that
 * nothing can be swapped between the check and the read:
 *
 * - May the invoking user read it? tcplife may run as an unprivileged user
 *   with borrowed capabilities (CAP_DAC_READ_SEARCH among them): a file the
 *   user names is read with the user's own access, checked by access(2),
 *   which uses the real uid and none of the capabilities.
 * - As root, may another user have chosen its contents? A rule file decides
 *   which sessions root is shown, so, as ssh and sudo do with their
 *   configurations, root refuses one owned by another user, writable by
 *   group or others, or in a directory that others can write without the
 *   sticky bit (where anyone may replace it).
 */
import { accessSync, constants, lstatSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** Why the real user may not read `path` (opened as `fd`), or undefined. */
export function realUserCannotRead(path: string, fd: number): string | undefined {
  // Real root: access(2) grants what the capabilities grant; nothing to ask.
  if ((process.getuid?.() ?? 0) === 0) return undefined;
  try {
    // The path, with the real user's search permission on every directory…
    accessSync(path, constants.R_OK);
  } catch {
    return 'permission denied';
  }
  try {
    // …and the very file opened (the magic link names the open file).
    accessSync(`/proc/self/fd/${fd}`, constants.R_OK);
  } catch (e) {
    // Without /proc the path's answer stands.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return 'permission denied';
  }
  return undefined;
}

function mode(m: number): string {
  return (m & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Why root must not trust the file `realPath` (already opened, `st` its
 * fstat) to say what it sees, or undefined. Only when running as root.
 */
export function notRootsOwn(realPath: string, st: Stats): string | undefined {
  if ((process.geteuid?.() ?? 0) !== 0) return undefined;
  const why = 'root reads only a rule file that root owns and only root can write';
  if (st.uid !== 0) return `owned by uid ${st.uid}, not root (${why})`;
  if ((st.mode & 0o022) !== 0)
    return `writable by ${(st.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${mode(st.mode)}; ${why})`;
  for (let dir = dirname(realPath); ; dir = dirname(dir)) {
    let d: Stats;
    try {
      d = lstatSync(dir);
    } catch {
      return `cannot inspect its directory ${dir}`;
    }
    if ((d.mode & 0o002) !== 0 && (d.mode & 0o1000) === 0)
      return `in ${dir}, which others can write (mode ${mode(d.mode)}, no sticky bit): anyone could replace it`;
    if (dir === '/' || dirname(dir) === dir) return undefined;
  }
}
