/**
 * Reading a hash map in batches (BPF_MAP_LOOKUP_BATCH), or reading and
 * emptying it (BPF_MAP_LOOKUP_AND_DELETE_BATCH): a system call per few
 * thousand entries, not three per entry. Emptying is only for a map
 * nothing writes while it is read (the summaries' retired map).
 */
import { TcplifeError } from './errors.js';
import { errno, loadNative } from './libbpf.js';

const ENOENT = 2;
const BATCH = 4096;

let buffers: { keySize: number; valueSize: number; keys: Buffer; values: Buffer } | undefined;

type Visit = (key: DataView, keyOff: number, value: DataView, valueOff: number) => void;

export function readAndDelete(
  fd: number,
  keySize: number,
  valueSize: number,
  visit: Visit,
): number {
  return batches('bpf_map_lookup_and_delete_batch', fd, keySize, valueSize, visit);
}

/** Every entry of a map that programs may be writing meanwhile (each entry as it was when read). */
export function readAll(fd: number, keySize: number, valueSize: number, visit: Visit): number {
  return batches('bpf_map_lookup_batch', fd, keySize, valueSize, visit);
}

function batches(
  fn: 'bpf_map_lookup_batch' | 'bpf_map_lookup_and_delete_batch',
  fd: number,
  keySize: number,
  valueSize: number,
  visit: Visit,
): number {
  const n = loadNative();
  // Buffers kept from one read to the next (a few MB, every interval).
  if (!buffers || buffers.keySize !== keySize || buffers.valueSize !== valueSize) {
    const k = Buffer.alloc(BATCH * keySize);
    const v = Buffer.alloc(BATCH * valueSize);
    buffers = { keySize, valueSize, keys: k, values: v };
  }
  const { keys, values } = buffers;
  const kv = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  const vv = new DataView(values.buffer, values.byteOffset, values.byteLength);
  // For a hash map, the batch position is a bucket index (u32).
  const inBatch = Buffer.alloc(4);
  const outBatch = Buffer.alloc(4);
  const count = Buffer.alloc(4);
  let total = 0;
  for (let first = true; ; first = false) {
    count.writeUInt32LE(BATCH);
    const rc = n.bpf[fn](fd, first ? null : inBatch, outBatch, keys, values, count, null);
    const got = count.readUInt32LE();
    for (let i = 0; i < got; i++) visit(kv, i * keySize, vv, i * valueSize);
    total += got;
    if (rc !== 0) {
      if (-rc === ENOENT || errno() === ENOENT) return total;
      throw new TcplifeError(`cannot read a map of the kernel's (${n.c.strerror(-rc)})`);
    }
    outBatch.copy(inBatch);
  }
}
