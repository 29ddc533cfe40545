/**
 * Lines to a file descriptor, batched: lines are appended to one string and
 * written when it reaches 64 KiB or once the current batch of sessions is
 * done (a write per line cost more CPU than the rest of the pipeline). A closed pipe (EPIPE)
 * is reported once through onClosed, so the CLI can exit 0 quietly; any other
 * write error (a full disk, EIO) once through onFailed, and writing stops.
 */
import { fstatSync, writeSync } from 'node:fs';
import { loadLibc } from '../util/libc.js';

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
const POLLERR = 0x8;
const POLLHUP = 0x10;
/** Flushing at 64 KiB keeps lines short-lived for V8's young generation too. */
const SIZE = 1 << 16;

export class LineWriter {
  private text = '';
  private pending = 0;
  private scheduled = false;
  private broken = false;
  /** Lines the descriptor took (a write that failed does not count its lines). */
  written = 0;

  /** The error that stopped writing (ENOSPC, EIO…), if any: not EPIPE, which is a normal end. */
  error: NodeJS.ErrnoException | undefined;

  constructor(
    private readonly fd: number,
    private readonly onClosed: () => void,
    /** Writing failed for good; nothing more is written. Default: onClosed. */
    private readonly onFailed: (e: NodeJS.ErrnoException) => void = onClosed,
  ) {}

  line(s: string): void {
    if (this.broken) return;
    // V8 concatenates by reference (a rope); writeSync encodes it once.
    this.text += `${s}\n`;
    this.pending++;
    if (this.text.length >= SIZE) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Bytes of whole lines (the fast path's buffer), written now, after any
   * lines still buffered; the caller may reuse the bytes once this returns.
   */
  bytes(data: Uint8Array, lines: number): void {
    this.flush();
    if (this.broken) return;
    this.writeAll(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (!this.broken) this.written += lines;
  }

  /** Writes what is buffered now (blocking: stdout into a slow pipe waits here). */
  flush(): void {
    if (this.broken || this.text === '') return;
    const text = this.text;
    const lines = this.pending;
    this.text = '';
    this.pending = 0;
    // Most writes go out whole as a string: encoded into a transient native
    // buffer (a Buffer.from per chunk counts as V8 external memory and
    // brings on full garbage collections). A partial write (a full pipe)
    // falls back to bytes for the rest.
    try {
      const n = writeSync(this.fd, text);
      if (n !== Buffer.byteLength(text)) this.writeAll(Buffer.from(text).subarray(n));
    } catch (e) {
      this.failed(e, () => this.writeAll(Buffer.from(text)));
    }
    if (!this.broken) this.written += lines;
  }

  private writeAll(data: Buffer): void {
    let off = 0;
    while (off < data.length && !this.broken) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        this.failed(e, () => {});
      }
    }
  }

  /** EAGAIN: a non-blocking pipe is full, wait a millisecond; EPIPE: the reader is gone. */
  private failed(e: unknown, retry: () => void): void {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') {
      Atomics.wait(PAUSE, 0, 0, 1);
      retry();
      return;
    }
    this.broken = true;
    if (code === 'EPIPE') {
      this.onClosed();
      return;
    }
    this.error = e as NodeJS.ErrnoException;
    this.onFailed(this.error);
  }

  /**
   * Whether the reader of a pipe or socket has gone, asked without writing
   * (poll reports POLLERR or POLLHUP on the writing end): `| head -3` then
   * ends tracing at once, not at the next session. Always false for a file.
   */
  readerGone(): boolean {
    if (this.broken) return true;
    this.pollable ??= (() => {
      try {
        const st = fstatSync(this.fd);
        return st.isFIFO() || st.isSocket();
      } catch {
        return false;
      }
    })();
    if (!this.pollable) return false;
    const pfd = Buffer.alloc(8);
    pfd.writeInt32LE(this.fd, 0); // events 0: only POLLERR, POLLHUP and POLLNVAL are reported
    if (loadLibc().poll(pfd, 1, 0) !== 1) return false;
    const revents = pfd.readInt16LE(6);
    return (revents & (POLLERR | POLLHUP)) !== 0;
  }

  private pollable: boolean | undefined;

  get closed(): boolean {
    return this.broken;
  }
}
