import { writeSync } from 'node:fs';

/** Where a command writes: data to stdout's descriptor, everything else to stderr. */
export interface Io {
  readonly stdoutFd: number;
  readonly stderr: (s: string) => void;
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `s` before returning: process.stderr queues what a full pipe
 * does not take, and process.exit() drops the queue (`2>&1 | wc -c` saw
 * 65,536 bytes of 200,202). A reader that went away ends the writing.
 */
export function writeAllSync(fd: number, s: string): void {
  const b = Buffer.from(s);
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

export const defaultIo: Io = { stdoutFd: 1, stderr: (s) => writeAllSync(2, s) };
