/**
 * A BPF ring buffer read from JS without per-record FFI: the consumer and
 * producer pages and the data area are mmapped once, positions are read and
 * written with Atomics, records are decoded from a DataView over the mapping.
 *
 * The kernel offers the data area twice in a row so that a record wrapping
 * around the end looks contiguous. We map it once and the first page of the
 * second copy after it: a record (at most a page) that wraps around the end
 * goes on into that page, so every record is read in place. (The kernel maps
 * every page at once, so each page mapped counts in our RSS: the whole
 * second copy would be 4 MiB more by default.)
 */

import { TcplifeError } from './errors.js';
import { koffi, loadNative, type Native, type Ptr } from './libbpf.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BUSY = 0x8000_0000;
const DISCARD = 0x4000_0000;
const HEADER = 8;
const PAGE = 4096;

export type RecordHandler = (dv: DataView, offset: number, length: number) => void;

export class RingReader {
  private readonly n: Native;
  private consumer: Ptr | null;
  private producer: Ptr | null;
  private readonly consPos: BigInt64Array;
  private readonly prodPos: BigInt64Array;
  private readonly data: DataView;
  private readonly hdr: Int32Array;
  private readonly mask: number;
  private readonly dataLen: number;
  private draining = false;
  private closeRequested = false;

  constructor(
    fd: number,
    readonly size: number,
  ) {
    this.n = loadNative();
    this.mask = size - 1;
    // The producer page, the data area, then the first page of its second copy.
    this.dataLen = PAGE + size + PAGE;
    const cons = this.n.c.mmap(null, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (koffi.address(cons) === 0xffff_ffff_ffff_ffffn)
      throw new TcplifeError('cannot mmap the ring buffer consumer page');
    const prod = this.n.c.mmap(null, this.dataLen, PROT_READ, MAP_SHARED, fd, PAGE);
    if (koffi.address(prod) === 0xffff_ffff_ffff_ffffn) {
      this.n.c.munmap(cons, PAGE);
      throw new TcplifeError('cannot mmap the ring buffer data');
    }
    this.consumer = cons;
    this.producer = prod;
    this.consPos = new BigInt64Array(koffi.view(cons, PAGE), 0, 1);
    const prodBuf = koffi.view(prod, this.dataLen);
    this.prodPos = new BigInt64Array(prodBuf, 0, 1);
    this.data = new DataView(prodBuf, PAGE);
    this.hdr = new Int32Array(prodBuf, PAGE);
  }

  /** Bytes waiting to be read. */
  pending(): number {
    return Number(Atomics.load(this.prodPos, 0) - Atomics.load(this.consPos, 0));
  }

  /** Reads up to `max` records; returns how many were handed to fn. */
  drain(max: number, fn: RecordHandler): number {
    if (!this.producer) return 0;
    let cons = Number(Atomics.load(this.consPos, 0));
    const prod = Number(Atomics.load(this.prodPos, 0));
    let n = 0;
    // fn may close the reader (a subscriber that unsubscribes from inside
    // next()): the memory stays mapped until this loop is done with it.
    this.draining = true;
    try {
      while (cons < prod && n < max && !this.closeRequested) {
        const off = cons & this.mask;
        const word = Atomics.load(this.hdr, off >> 2) >>> 0;
        if (word & BUSY) break; // still being written
        const len = word & ~(BUSY | DISCARD);
        if (!(word & DISCARD)) {
          const at = (off + HEADER) & this.mask;
          // A record that wraps around the end goes on into the second copy's first page.
          if (at + len > this.size + PAGE)
            throw new TcplifeError(`a ring record of ${len} bytes: more than a page`);
          fn(this.data, at, len);
          n++;
        }
        cons += (len + HEADER + 7) & ~7;
      }
      Atomics.store(this.consPos, 0, BigInt(cons));
    } finally {
      this.draining = false;
      if (this.closeRequested) this.close();
    }
    return n;
  }

  close(): void {
    this.closeRequested = true;
    if (this.draining) return; // drain() unmaps when it returns
    if (this.consumer) this.n.c.munmap(this.consumer, PAGE);
    if (this.producer) this.n.c.munmap(this.producer, this.dataLen);
    this.consumer = null;
    this.producer = null;
  }
}
