/**
 * Lines to a file descriptor, batched: lines are appended to one string and
 * written when it reaches 64 KiB or once the current batch of sessions is
 * done (a write per line cost more CPU than the rest of the pipeline). A closed pipe (EPIPE)
 * is reported once through onClosed, so the CLI can exit 0 quietly; any other
 * write error (a full disk, EIO) once through onFailed, and writing stops.
 *
 * With a queue (`maxQueued`, what tracing uses), writing never waits for
 * the reader: into a pipe or socket (made non-blocking), what the reader
 * has not taken yet waits in memory, up to `maxQueued` bytes, and goes out
 * as the reader takes it; the tracer keeps draining the kernel's ring
 * meanwhile, so a slow reader (`| jq`) or a paused one loses nothing while
 * the queue has room. Past it, lines are dropped and counted (`dropped`),
 * and onQueueFull says so once. Without a queue (replay), a write waits.
 */
import { fstatSync, writeSync } from 'node:fs';
import koffi from 'koffi';
import { loadLibc } from '../util/libc.js';

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
/** Flushing at 64 KiB keeps lines short-lived for V8's young generation too. */
const SIZE = 1 << 16;
/** While lines wait for a descriptor that cannot be polled, it is tried again this often. */
const RETRY_MS = 2;

export interface WriterOptions {
  /** Bytes that may wait for a slow reader; undefined: writes wait instead. */
  readonly maxQueued?: number;
  /** The queue was full and lines were dropped (said once). */
  readonly onQueueFull?: (maxQueued: number) => void;
}

interface Chunk {
  data: Buffer;
  /** the lines whose end is in data: a line begun before it is one of them */
  lines: number;
}

/** How many lines end in the first `end` bytes of b. */
function newlines(b: Buffer, end = b.length): number {
  const head = b.subarray(0, end);
  let n = 0;
  for (let i = head.indexOf(10); i >= 0; i = head.indexOf(10, i + 1)) n++;
  return n;
}

export class LineWriter {
  private text = '';
  private pending = 0;
  private scheduled = false;
  private broken = false;
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private retry: NodeJS.Timeout | undefined;
  /** While lines wait: a uv poll handle that says when the pipe or socket has room. */
  private poller: ReturnType<typeof koffi.node.poll> | undefined;
  private polling = false;
  private restoreFlags: number | undefined;
  /** Lines the descriptor took (a write that failed does not count its lines). */
  written = 0;
  /** Lines dropped because the queue was full. */
  dropped = 0;

  /** The error that stopped writing (ENOSPC, EIO…), if any: not EPIPE, which is a normal end. */
  error: NodeJS.ErrnoException | undefined;

  constructor(
    private readonly fd: number,
    private readonly onClosed: () => void,
    /** Writing failed for good; nothing more is written. Default: onClosed. */
    private readonly onFailed: (e: NodeJS.ErrnoException) => void = onClosed,
    private readonly opts: WriterOptions = {},
  ) {
    // A pipe or socket is made non-blocking, so that a full one queues
    // instead of stopping the process; its flags are restored at finish().
    if (opts.maxQueued !== undefined && this.isPollable()) {
      try {
        const c = loadLibc();
        const flags = c.fcntl(fd, F_GETFL, 0);
        if (
          flags >= 0 &&
          (flags & O_NONBLOCK) === 0 &&
          c.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0
        )
          this.restoreFlags = flags;
      } catch {
        // no libc through koffi: writes wait, as without a queue
      }
    }
  }

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
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.opts.maxQueued === undefined) {
      this.writeAll(buf);
      if (!this.broken) this.written += lines;
      return;
    }
    const n = this.queue.length === 0 ? this.tryWrite(buf) : 0;
    if (!this.broken) this.rest(buf, n, lines, true);
  }

  /** Writes what is buffered now: with a queue, what the descriptor does not take waits. */
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
    if (this.opts.maxQueued !== undefined) {
      let n = 0;
      if (this.queue.length === 0) {
        try {
          n = writeSync(this.fd, text);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
            this.failed(e);
            return;
          }
        }
        if (n === Buffer.byteLength(text)) {
          this.written += lines;
          return;
        }
      }
      this.rest(Buffer.from(text), n, lines, false);
      return;
    }
    try {
      const n = writeSync(this.fd, text);
      if (n !== Buffer.byteLength(text)) this.writeAll(Buffer.from(text).subarray(n));
    } catch (e) {
      // A non-blocking descriptor that is full: wait for it.
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') this.writeAll(Buffer.from(text));
      else this.failed(e);
    }
    if (!this.broken) this.written += lines;
  }

  /**
   * `data` holds `lines` whole lines, of which the descriptor took the first
   * `n` bytes: the rest waits in the queue, or, the queue full, is dropped —
   * all but the end of a line already begun, which must be finished.
   */
  private rest(data: Buffer, n: number, lines: number, borrowed: boolean): void {
    if (n === data.length) {
      this.written += lines;
      return;
    }
    const rest = data.subarray(n);
    // The lines that ended in what the descriptor took are written.
    const whole = newlines(data, n);
    this.written += whole;
    if (this.queuedBytes + rest.length <= this.opts.maxQueued!) {
      this.enqueue(borrowed ? Buffer.from(rest) : rest, lines - whole);
      return;
    }
    if (this.dropped === 0) this.opts.onQueueFull?.(this.opts.maxQueued!);
    const begun = n > 0 && data[n - 1] !== 10;
    this.dropped += lines - whole - (begun ? 1 : 0);
    if (begun) this.enqueue(Buffer.from(rest.subarray(0, rest.indexOf(10) + 1)), 1);
  }

  private enqueue(data: Buffer, lines: number): void {
    this.queue.push({ data, lines });
    this.queuedBytes += data.length;
    this.waitForRoom();
  }

  /**
   * Writes what waits as the reader makes room: woken by the event loop
   * when the pipe or socket is writable (no timer firing meanwhile), or,
   * for a descriptor libuv cannot poll, tried every RETRY_MS.
   */
  private waitForRoom(): void {
    if (this.polling || this.retry) return;
    if (this.isPollable()) {
      try {
        const onRoom = () => this.writeQueued();
        if (this.poller) this.poller.start({ writable: true }, onRoom);
        else this.poller = koffi.node.poll(this.fd, { writable: true }, onRoom);
        this.polling = true;
        return;
      } catch {
        // libuv would not watch it: try on a timer
      }
    }
    this.retry = setInterval(() => this.writeQueued(), RETRY_MS);
  }

  /** Nothing waits any more (or nothing will be written): no more waking up. */
  private stopWaiting(): void {
    if (this.retry) clearInterval(this.retry);
    this.retry = undefined;
    if (this.polling) this.poller?.stop();
    this.polling = false;
  }

  /** As much of the queue as the descriptor takes now. */
  private writeQueued(): void {
    while (this.queue.length > 0 && !this.broken) {
      const c = this.queue[0]!;
      const n = this.tryWrite(c.data);
      this.queuedBytes -= n;
      if (n < c.data.length) {
        const whole = newlines(c.data, n);
        this.written += whole;
        c.lines -= whole;
        c.data = c.data.subarray(n);
        break;
      }
      this.queue.shift();
      this.written += c.lines;
    }
    if (this.queue.length === 0 || this.broken) this.stopWaiting();
  }

  /** Bytes written without waiting (0 when the pipe is full). */
  private tryWrite(data: Buffer): number {
    let off = 0;
    while (off < data.length && !this.broken) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.failed(e);
      }
    }
    return off;
  }

  /**
   * At exit: writes what waits, as long as the reader keeps taking it (a
   * reader that takes nothing for `stallMs` gets no more); then restores
   * the descriptor's flags. Returns the lines left unwritten (a line begun
   * and not finished is one of them).
   */
  finish(stallMs = 500): number {
    this.flush();
    this.stopWaiting();
    let last = Date.now();
    const pfd = Buffer.alloc(8);
    while (this.queue.length > 0 && !this.broken) {
      const before = this.queuedBytes;
      this.writeQueued();
      if (this.queuedBytes < before) last = Date.now();
      else if (Date.now() - last >= stallMs) break;
      if (this.queue.length === 0) break;
      pfd.writeInt32LE(this.fd, 0);
      pfd.writeInt16LE(POLLOUT, 4);
      try {
        loadLibc().poll(pfd, 1, 50);
      } catch {
        Atomics.wait(PAUSE, 0, 0, 5);
      }
    }
    this.poller?.close();
    this.poller = undefined;
    // A line begun and not finished is among them.
    const unwritten = this.queue.reduce((n, c) => n + c.lines, 0);
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.restoreFlags !== undefined) {
      try {
        loadLibc().fcntl(this.fd, F_SETFL, this.restoreFlags);
      } catch {
        // the descriptor is gone
      }
      this.restoreFlags = undefined;
    }
    return unwritten;
  }

  /** All of `data`, waiting a millisecond at a time while a pipe is full (without a queue). */
  private writeAll(data: Buffer): void {
    let off = 0;
    while (off < data.length && !this.broken) {
      off += this.tryWrite(off === 0 ? data : data.subarray(off));
      if (off < data.length && !this.broken) Atomics.wait(PAUSE, 0, 0, 1);
    }
  }

  /** Writing ends: EPIPE, the reader is gone (a normal end); anything else, a failure. */
  private failed(e: unknown): void {
    const code = (e as NodeJS.ErrnoException).code;
    this.broken = true;
    this.stopWaiting();
    if (code === 'EPIPE') {
      this.onClosed();
      return;
    }
    this.error = e as NodeJS.ErrnoException;
    this.onFailed(this.error);
  }

  private isPollable(): boolean {
    this.pollable ??= (() => {
      try {
        const st = fstatSync(this.fd);
        return st.isFIFO() || st.isSocket();
      } catch {
        return false;
      }
    })();
    return this.pollable;
  }

  /**
   * Whether the reader can go away unseen by a write: a pipe or socket,
   * which readerGone() then asks about. Not a file or a terminal (a write
   * that fails there says so through onClosed or onFailed).
   */
  canLoseReader(): boolean {
    return this.isPollable();
  }

  /**
   * Whether the reader of a pipe or socket has gone, asked without writing
   * (poll reports POLLERR or POLLHUP on the writing end): `| head -3` then
   * ends tracing at once, not at the next session. Always false for a file.
   */
  readerGone(): boolean {
    if (this.broken) return true;
    if (!this.isPollable()) return false;
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
