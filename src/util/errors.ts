/**
 * The error a user can meet, with a one-line summary, what to do, and the
 * full log where there is one. Kept apart from bugs: the CLI prints these
 * without a stack trace and exits 1. Each layer's own errors extend it
 * (kernel/errors.ts: not permitted, no BTF, clang missing…).
 */
export class TcplifeError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** the full log (libbpf, clang), shown with --verbose */
    readonly detail?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
