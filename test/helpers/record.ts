/** A kernel record written by hand, in the registry's layout (struct event), for tests. */
import { RECORD_MEMBERS } from '../../src/model/record.js';

/** A record's member values: numbers, or the bytes of a char[16] / u8[16]. */
export type RecordValues = Record<string, number | Uint8Array>;

export function writeRecord(dv: DataView, off: number, v: RecordValues): void {
  for (const m of RECORD_MEMBERS) {
    const x = v[m.field]!;
    const at = off + m.offset;
    switch (m.spec.c) {
      case 'u8':
        dv.setUint8(at, x as number);
        break;
      case 'u16':
        dv.setUint16(at, x as number, true);
        break;
      case 'u32':
        dv.setUint32(at, x as number, true);
        break;
      case 'u64':
        dv.setBigUint64(at, BigInt(x as number), true);
        break;
      default:
        new Uint8Array(dv.buffer, dv.byteOffset + at, 16).set(x as Uint8Array);
    }
  }
}
