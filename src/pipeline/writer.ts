/**
 * Lines to a stream, batched: lines produced while one batch of sessions is
 * drained go out in one write (a write per line would cost more CPU than the
 * rest of the pipeline). A closed pipe (EPIPE) is reported once through
 * onClosed, so the CLI can exit 0 quietly.
 */
import { writeSync } from 'node:fs';

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class LineWriter {
  private buf: string[] = [];
  private scheduled = false;
  private broken = false;

  constructor(
    private readonly fd: number,
    private readonly onClosed: () => void,
  ) {}

  line(s: string): void {
    if (this.broken) return;
    this.buf.push(s);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered now (blocking: stdout into a slow pipe waits here). */
  flush(): void {
    this.scheduled = false;
    if (this.broken || this.buf.length === 0) return;
    const data = Buffer.from(`${this.buf.join('\n')}\n`);
    this.buf = [];
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // A non-blocking pipe that is full: wait a millisecond for the reader.
          Atomics.wait(PAUSE, 0, 0, 1);
          continue;
        }
        if (code === 'EPIPE') {
          this.broken = true;
          this.onClosed();
          return;
        }
        throw e;
      }
    }
  }

  get closed(): boolean {
    return this.broken;
  }
}
