/** `tcplife check FILE...` — filled in with rule files (src/rules). */
import type { Io } from './main.js';

export function runCheck(files: readonly string[], io: Io): number {
  io.stderr(`tcplife check: rule files are not supported yet (${files.join(' ')})\n`);
  return 2;
}
