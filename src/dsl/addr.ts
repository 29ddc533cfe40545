/** Addresses and CIDRs: declared with the field registry (model/addr.ts), used by the language. */
export * from '../model/addr.js';
