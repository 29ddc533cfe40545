/**
 * What the tracer tries to load, in order: the kernel is not needed to
 * check the order, and older kernels (which refuse socket storage in
 * tracing programs before 5.11) are not at hand to reach the later steps.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAP_ENTRIES,
  DEFAULT_MAP_ENTRIES_ALONE,
  generateProgram,
  STORE,
} from '../../src/codegen/program.js';
import * as IR from '../../src/dsl/ir.js';
import { loadAttempts, storeOf } from '../../src/kernel/bpf-object.js';

const plain = { kernel: IR.TRUE, user: IR.TRUE };
const steps = (attach: 'auto' | 'tp_btf' | 'raw_tp', socketStorage = false) =>
  loadAttempts(attach, generateProgram(plain, socketStorage ? { socketStorage } : {}).settings).map(
    (a) => `${a.attach}/${storeOf(a.attach, a.settings)}${a.walk ? '+walk' : ''}`,
  );

describe('load attempts', () => {
  it('by default: tp_btf with storage behind the hash, then with the hash alone, each with the walk over open sessions and then without it; then raw_tp', () => {
    const { hash, hashThenStorage } = STORE;
    expect(steps('auto')).toEqual([
      `tp_btf/${hashThenStorage}+walk`,
      `tp_btf/${hash}+walk`,
      `tp_btf/${hashThenStorage}`,
      `tp_btf/${hash}`,
      `raw_tp/${hash}`,
    ]);
    expect(steps('tp_btf')).toEqual([
      `tp_btf/${hashThenStorage}+walk`,
      `tp_btf/${hash}+walk`,
      `tp_btf/${hashThenStorage}`,
      `tp_btf/${hash}`,
    ]);
    expect(steps('raw_tp')).toEqual([`raw_tp/${hash}`]);
  });

  it('with --socket-storage: tp_btf with storage alone (with the walk, then without), then raw_tp with the hash', () => {
    expect(steps('auto', true)).toEqual([
      `tp_btf/${STORE.storage}+walk`,
      `tp_btf/${STORE.storage}`,
      `raw_tp/${STORE.hash}`,
    ]);
  });

  it('the hash alone is the larger one unless --map-size says otherwise', () => {
    const p = generateProgram(plain);
    expect([p.maxEntries.starts, p.startsAlone]).toEqual([
      DEFAULT_MAP_ENTRIES,
      DEFAULT_MAP_ENTRIES_ALONE,
    ]);
    const q = generateProgram(plain, { mapEntries: 100 });
    expect([q.maxEntries.starts, q.startsAlone]).toEqual([100, 100]);
  });
});
